"""`aelog diagnose` run as a user runs it: table, JSON contract, CI exit codes, clean errors."""

from __future__ import annotations

import json
import subprocess
import sys

from aelog.diagnosis.types import CAUSE_IDS, STATUSES
from cli.cli_runs import healthy_signals, run_aelog, write_run


def _assert_one_clean_error_line(result: subprocess.CompletedProcess) -> str:
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


def test_table_names_every_run_with_team_and_status(logdir):
    result = run_aelog("diagnose", logdir)
    assert result.returncode == 0, result.stderr
    header = result.stdout.splitlines()[0].split()
    assert header[:3] == ["run", "team", "status"]
    for word in ("since", "top", "cause", "evidence", "fix"):
        assert word in header
    rows = {line.split()[0]: line.split() for line in result.stdout.splitlines()[2:4]}
    assert rows["vision/healthy"][1:3] == ["vision", "healthy"]
    assert rows["speech/collapsed"][1:3] == ["speech", "collapsed"]
    # the collapsed run's measured symptom, with its numbers, follows the table
    assert "speech/collapsed: collapsed since step" in result.stdout
    assert "0.1%" in result.stdout


def test_json_follows_the_contract(logdir):
    result = run_aelog("diagnose", logdir, "--json")
    assert result.returncode == 0, result.stderr
    payload = json.loads(result.stdout)
    runs = {r["run"]: r for r in payload["runs"]}
    assert set(runs) == {"vision/healthy", "speech/collapsed"}
    assert runs["vision/healthy"]["status"] == "healthy"
    assert runs["vision/healthy"]["causes"] == []
    assert runs["speech/collapsed"]["status"] == "collapsed"
    for run in payload["runs"]:
        assert run["status"] in STATUSES
        for cause in run["causes"]:
            assert set(cause) >= {"id", "confidence", "since_step", "evidence", "fix"}
            assert cause["id"] in CAUSE_IDS
            assert 0.0 <= cause["confidence"] <= 1.0
            assert all(isinstance(e, str) for e in cause["evidence"])
        confidences = [c["confidence"] for c in run["causes"]]
        assert confidences == sorted(confidences, reverse=True)


def test_fail_on_gates_ci(logdir, tmp_path):
    failed = run_aelog("diagnose", logdir, "--fail-on", "collapsed")
    assert failed.returncode == 1
    assert "speech/collapsed" in failed.stderr
    assert "vision/healthy" in failed.stdout  # the table is still printed
    assert run_aelog("diagnose", logdir, "--fail-on", "at_risk").returncode == 1

    only_healthy = write_run(str(tmp_path / "ok" / "run1"), healthy_signals())
    assert run_aelog("diagnose", only_healthy, "--fail-on", "at_risk").returncode == 0
    as_json = run_aelog("diagnose", logdir, "--json", "--fail-on", "collapsed")
    assert as_json.returncode == 1
    assert json.loads(as_json.stdout)["runs"]  # JSON printed even when the gate fails


def test_a_run_directory_is_named_after_itself(tmp_path):
    run_dir = write_run(str(tmp_path / "exp1"), healthy_signals())
    payload = json.loads(run_aelog("diagnose", run_dir, "--json").stdout)
    assert [r["run"] for r in payload["runs"]] == ["exp1"]


def test_missing_path_is_one_line_and_exit_2(tmp_path):
    line = _assert_one_clean_error_line(run_aelog("diagnose", str(tmp_path / "nope")))
    assert "no such file or directory" in line


def test_path_without_aelog_data(tmp_path):
    (tmp_path / "notes.txt").write_text("hello")
    line = _assert_one_clean_error_line(run_aelog("diagnose", str(tmp_path)))
    assert "no aelog data" in line


def test_unreadable_event_file_says_why(tmp_path):
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "events.out.tfevents.1.host").write_bytes(b"\x00garbage" * 10)
    line = _assert_one_clean_error_line(run_aelog("diagnose", str(tmp_path)))
    assert "no aelog data" in line and "corrupt record" in line


def test_bad_option_exits_2_without_traceback(logdir):
    result = run_aelog("diagnose", logdir, "--fail-on", "sometimes")
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert "invalid choice" in result.stderr
    assert run_aelog("frobnicate").returncode == 2


def test_diagnose_compare_and_report_never_import_torch(logdir, tmp_path):
    code = (
        "import sys\n"
        "from aelog.cli.main import main\n"
        f"assert main(['diagnose', {logdir!r}, '--json']) == 0\n"
        f"assert main(['compare', '--logdir', {logdir!r}, 'vision/healthy', "
        "'speech/collapsed']) == 0\n"
        f"assert main(['report', {logdir!r}, '--out', {str(tmp_path / 'r.html')!r}]) == 0\n"
        "assert 'torch' not in sys.modules, 'torch was imported'\n"
        "print('torch-free')\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().endswith("torch-free")
