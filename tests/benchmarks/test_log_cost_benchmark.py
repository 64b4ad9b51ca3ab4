"""The logging-step breakdown times aelog's parts inside a real run and puts them back."""

from __future__ import annotations

from aelog.probes import identity
from aelog.sdk import monitor
from benchmarks.overhead import log_cost


def test_each_logging_step_is_broken_down_into_timed_parts():
    before = (monitor.Monitor._log_step, identity.identity_stats)
    spent, logs, loop = log_cost.measure("mlp_digits", 12)
    assert logs == 12 and loop > 0
    assert len(spent["Monitor._log_step"]) == 12
    assert len(spent["Monitor._capture_forward"]) == 12 + 1  # and the end, measured at close
    assert spent["identity.identity_stats"]  # the probes are reached through the wrappers
    # a part's time sits inside the part that calls it
    assert sum(spent["identity.identity_stats"]) <= sum(spent["Monitor._compute_step"])
    assert (monitor.Monitor._log_step, identity.identity_stats) == before


def test_the_breakdown_prints_one_row_per_part(capsys):
    assert log_cost.main(["--workload", "mlp_digits", "--steps", "8"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("python -m benchmarks.overhead.log_cost --workload mlp_digits")
    assert any(line.startswith("Monitor._log_step ") for line in out)


def test_sparse_logging_steps_are_timed_the_same_way(capsys):
    spent, logs, _ = log_cost.measure("mlp_digits", 25, every=10)
    assert logs == 3 and len(spent["Monitor._log_step"]) == 3  # steps 0, 10, 20
    assert log_cost.main(["--workload", "mlp_digits", "--steps", "20", "--every", "10"]) == 0
    assert "--every 10: 2 logging steps" in capsys.readouterr().out
