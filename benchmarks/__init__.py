"""Benchmarks: deliberately broken training runs and what the diagnosis engine says of them."""
