"""Causes that cannot arise in a run (per its metadata) are not listed as unchecked."""

from __future__ import annotations

from aelog.diagnosis.engine import diagnose_run
from aelog.logfile import format as fmt
from aelog.logfile.run_data import RunData


def _run(is_vae: bool, activations: list[str]) -> RunData:
    steps = list(range(0, 50, 5))
    points = {
        fmt.scalar_tag(fmt.OUTPUT_VARIANCE_RATIO): (steps, [0.8] * len(steps)),
        fmt.scalar_tag(fmt.RELATIVE_ERROR): (steps, [0.2] * len(steps)),
    }
    metadata = {
        "format_version": fmt.FORMAT_VERSION,
        "config": {"is_vae": is_vae},
        "model": {"is_vae": is_vae, "activations": [{"name": a, "type": a} for a in activations]},
    }
    return RunData.from_tagged_points("r", points, metadata)


def _unchecked_note(run: RunData) -> str:
    notes = [n for n in diagnose_run(run).notes if n.startswith("not checked")]
    return notes[0] if notes else ""


def test_posterior_collapse_is_not_listed_for_a_plain_autoencoder():
    assert "posterior_collapse" not in _unchecked_note(_run(False, ["ReLU"]))
    assert "posterior_collapse" in _unchecked_note(_run(True, ["ReLU"]))


def test_saturation_is_listed_only_when_a_saturating_activation_exists():
    assert "saturated_activation" not in _unchecked_note(_run(False, ["ReLU"]))
    assert "saturated_activation" in _unchecked_note(_run(False, ["Tanh"]))
