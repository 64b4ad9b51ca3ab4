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


def test_a_removed_hook_is_timed_against_a_model_that_never_had_one():
    hooked, plain = micro.removed_hook_cost(8, repeats=20)
    assert hooked > 0 and plain > 0
