"""Fixtures for the CLI tests: real event files written through aelog's EventWriter."""

from __future__ import annotations

import pytest

from cli.cli_runs import (
    COLLAPSED_CONFIG,
    HEALTHY_CONFIG,
    collapsed_signals,
    healthy_signals,
    write_run,
)


@pytest.fixture
def logdir(tmp_path) -> str:
    """Two teams: vision/healthy and speech/collapsed."""
    root = tmp_path / "logs"
    write_run(str(root / "vision" / "healthy"), healthy_signals(),
              tags={"team": "vision", "owner": "ana"}, config=HEALTHY_CONFIG)
    write_run(str(root / "speech" / "collapsed"), collapsed_signals(),
              tags={"team": "speech", "owner": "chen"}, config=COLLAPSED_CONFIG)
    return str(root)

