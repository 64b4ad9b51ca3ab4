"""What aelog costs a training loop, beside the bare loop and the tools users reach for instead.

``python -m benchmarks.overhead`` (see ``__main__``) writes its tables to
benchmarks/RESULTS.md. The parts: ``workloads`` (the three training loops), ``arms`` (bare,
aelog and each peer, one object per way of logging), ``timing`` (all arms interleaved step
by step in one process), ``memory`` (one clean subprocess per arm), ``cuda_sync`` (the GPU
check), ``report`` (the markdown).
"""
