"""The micro-measurements run and print each figure beside what it replaced."""

from __future__ import annotations

from benchmarks.overhead import micro


def test_micro_measurements_print_each_pair(capsys):
    micro.main()
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("python -m benchmarks.overhead.micro")
    assert sum("once hooked" in line and "never hooked" in line for line in lines) == 2
    assert any("batch axis first" in line for line in lines)
    assert any("float64" in line and "float32" in line for line in lines)
    assert any("stacked" in line and "to_host (each read)" in line for line in lines)
    assert any("one full garbage collection" in line for line in lines)


def test_the_stacked_way_to_the_host_reads_what_to_host_reads():
    import torch

    from aelog.sdk.tensor_utils import read_stacked, to_host

    results = [torch.tensor(0.5), torch.tensor(2, dtype=torch.int64), torch.tensor(True),
               torch.tensor(1 / 3, dtype=torch.float64)]
    assert read_stacked(results) == to_host(results)


def test_a_removed_hook_is_timed_against_a_model_that_never_had_one():
    hooked, plain = micro.removed_hook_cost(8, repeats=20)
    assert hooked > 0 and plain > 0
