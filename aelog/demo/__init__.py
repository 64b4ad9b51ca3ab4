"""The demo: a handful of small autoencoders trained on bundled digits, healthy and collapsed."""
