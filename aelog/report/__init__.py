"""The static HTML report: one self-contained file with every run's diagnosis and charts."""
