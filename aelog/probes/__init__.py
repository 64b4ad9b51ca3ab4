"""Probes: pure functions from tensors to named 0-d tensors, one file per signal family.

Every probe returns ``{signal_name: 0-d tensor}`` without reading a value back to the host;
the monitor stacks all of them and moves them to the host once per logging step.
"""
