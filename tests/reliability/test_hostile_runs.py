"""Reading side: hostile and incomplete runs get a verdict or "not enough data" with the
reason from every reader (engine, CLI, report, plugin routes), never a crash."""

from __future__ import annotations

import json

import pytest

from aelog.cli.main import main as cli_main
from aelog.diagnosis.engine import diagnose_run
from aelog.diagnosis.types import STATUSES
from aelog.logfile.runs import load_runs

from .hostile import MARKUP
from .hostile_runs import MARKUP_RUN, write_hostile_logdir


@pytest.fixture(scope="module")
def hostile_logdir(tmp_path_factory) -> tuple[str, list[str]]:
    logdir = tmp_path_factory.mktemp("hostile")
    return str(logdir), write_hostile_logdir(str(logdir))


def test_every_hostile_run_is_read_and_diagnosed(hostile_logdir):
    logdir, names = hostile_logdir
    runs = {run.name: run for run in load_runs(logdir)}
    assert sorted(runs) == names
    for name, run in runs.items():
        diagnosis = diagnose_run(run)
        assert diagnosis.status in STATUSES, name
        json.dumps(diagnosis.to_json(), allow_nan=False, default=str)
    not_enough = {
        "missing/metadata_only": "no signals logged yet",
        "missing/two_steps": "2 logged step(s), need 3",
        "metadata/not_json": "1 logged step(s), need 3",
    }
    for name, reason in not_enough.items():
        notes = diagnose_run(runs[name]).notes
        assert any(n.startswith("not enough data") and reason in n for n in notes), (name, notes)
    newer = diagnose_run(runs["metadata/format_99"]).notes
    assert any("newer aelog (format 99" in note for note in newer)
    assert runs["metadata/not_json"].metadata == {}  # nested 100,000 deep: refused, not a crash


def test_cli_diagnose_and_report_over_the_hostile_logdir(hostile_logdir, tmp_path, capsys):
    logdir, names = hostile_logdir
    assert cli_main(["diagnose", logdir, "--json"]) == 0
    out, err = capsys.readouterr()
    assert sorted(row["run"] for row in json.loads(out)["runs"]) == names
    assert cli_main(["diagnose", logdir]) == 0
    assert MARKUP_RUN in capsys.readouterr().out
    report = tmp_path / "report.html"
    assert cli_main(["report", logdir, "--out", str(report)]) == 0
    html = report.read_text()
    for payload in MARKUP[:4]:
        assert payload not in html  # escaped, never raw markup
    assert "&lt;script&gt;window.__pwned=1&lt;/script&gt;" in html


def test_plugin_routes_over_the_hostile_logdir(hostile_logdir):
    from plugin.conftest import InProcessTensorBoard

    logdir, names = hostile_logdir
    app = InProcessTensorBoard(logdir)
    rows = app.get_json("/runs")["runs"]
    assert sorted(row["run"] for row in rows) == names
    for name in names:
        detail = app.get_json("/run", run=name)
        assert detail["run"]["run"] == name
    for name in names:
        result = app.get_json("/compare", run=[names[0], name]) if name != names[0] else None
        assert result is None or len(result["pairs"]) == 1
