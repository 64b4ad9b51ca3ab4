"""The plugin's routes over real event files, through TensorBoard's Python loader."""

from __future__ import annotations

import os

import pytest
from aelog_tb_plugin.plugin import CollapseDiagnosisPlugin

from aelog.diagnosis.engine import diagnose_run
from aelog.logfile import format as fmt
from aelog.logfile.runs import load_runs

from .synthetic_runs import write_logdir


@pytest.fixture
def app(tmp_path, tensorboard_app):
    write_logdir(str(tmp_path))
    return tensorboard_app(str(tmp_path))


def test_run_list_carries_the_engines_diagnosis_for_every_run(app, tmp_path):
    rows = {row["run"]: row for row in app.get_json("/runs")["runs"]}
    assert sorted(rows) == ["audio/collapsed", "vision/collapsed", "vision/healthy"]
    # The plugin's adapter (data provider) and the CLI's (event files) agree exactly.
    for run in load_runs(str(tmp_path)):
        expected = diagnose_run(run).to_json()
        row = rows[run.name]
        for key in ("status", "since_step", "causes", "symptom"):
            assert row[key] == expected[key], (run.name, key)
    assert rows["vision/healthy"]["status"] == "healthy"
    assert rows["vision/collapsed"]["status"] == "collapsed"
    assert rows["vision/collapsed"]["since_step"] == 200
    assert rows["audio/collapsed"]["team"] == "audio"
    assert rows["audio/collapsed"]["path_group"] == "audio"
    assert rows["vision/collapsed"]["config"]["lr"] == 0.5
    assert rows["vision/collapsed"]["key_signals"][fmt.OUTPUT_VARIANCE_RATIO] == pytest.approx(
        0.01
    )
    assert rows["vision/healthy"]["last_step"] == 590


def test_run_detail_has_series_layers_in_model_order_and_bands(app):
    detail = app.get_json("/run", run="vision/collapsed")
    assert detail["run"]["status"] == "collapsed"
    spread = detail["signals"][fmt.OUTPUT_VARIANCE_RATIO]
    assert spread["steps"][:3] == [0, 10, 20] and len(spread["values"]) == 60
    assert [layer["name"] for layer in detail["layers"]] == ["encoder.0", "encoder.2", "decoder.0"]
    dead = detail["layers"][1]["signals"][fmt.LAYER_DEAD_FRACTION]["values"]
    assert dead[0] == pytest.approx(0.05) and dead[-1] == 1.0
    assert detail["bands"][fmt.CODE_EFFECTIVE_RANK]["high"] == 8.0
    assert detail["records"][0]["message"] == "synthetic run"
    assert detail["metadata"]["tags"] == {"team": "vision", "owner": "ana"}


def test_compare_reports_config_and_parting_step(app):
    result = app.get_json("/compare", run=["vision/healthy", "vision/collapsed"])
    (pair,) = result["pairs"]
    assert pair["runs"] == ["vision/healthy", "vision/collapsed"]
    assert {"key": "lr", "a": 1e-3, "b": 0.5} in pair["config_differences"]
    assert pair["signals_part_at_step"] == 200


def test_bad_queries_are_400_and_unknown_runs_404(app):
    assert app.get("/run").status_code == 400
    assert app.get("/run", run="").status_code == 400
    assert app.get("/run", run=["a", "b"]).status_code == 400
    assert app.get("/compare", run="vision/healthy").status_code == 400
    assert app.get("/compare", run=["vision/healthy", "vision/healthy"]).status_code == 400
    missing = app.get("/run", run="nope")
    assert missing.status_code == 404 and "nope" in missing.get_data(as_text=True)
    assert app.get("/compare", run=["vision/healthy", "nope"]).status_code == 404
    huge = app.get("/run", run="x" * 1_000_000)
    assert huge.status_code == 400 and len(huge.get_data()) < 1000
    assert app.get("/compare", run=["vision/healthy", "y" * 5000]).status_code == 400


def test_static_bundle_is_an_allowlist(app):
    bundle = app.get("/index.js")
    assert bundle.status_code == 200 and b"render" in bundle.get_data()
    for path in ("/../plugin.py", "/%2e%2e/plugin.py", "/static/index.js", "/..%5cplugin.py",
                 "/index.js/../../loader.py"):
        assert app.client.get("/data/plugin/aelog" + path).status_code == 404, path


def test_active_only_with_aelog_data(app, tmp_path, tensorboard_app):
    listing = app.client.get("/data/plugins_listing").get_json()
    assert listing["aelog"]["enabled"] is True
    assert listing["aelog"]["tab_name"] == "Collapse Diagnosis"
    empty = tmp_path / "empty"
    empty.mkdir()
    other = tensorboard_app(str(empty))
    assert other.client.get("/data/plugins_listing").get_json()["aelog"]["enabled"] is False
    empty_list = other.get_json("/runs")
    assert empty_list["runs"] == [] and empty_list["total"] == 0 and empty_list["offset"] == 0


def test_half_written_and_corrupt_files_never_give_a_500(tmp_path, tensorboard_app):
    paths = write_logdir(str(tmp_path))
    with open(paths["vision/collapsed"], "r+b") as handle:
        handle.truncate(os.path.getsize(paths["vision/collapsed"]) - 9)
    garbage = tmp_path / "audio" / "collapsed" / "events.out.tfevents.2.garbage"
    garbage.write_bytes(b"\x00" * 7 + b"not an event file")
    app = tensorboard_app(str(tmp_path))
    rows = {row["run"]: row for row in app.get_json("/runs")["runs"]}
    assert set(rows) == {"audio/collapsed", "vision/collapsed", "vision/healthy"}
    for run in rows:
        assert app.get("/run", run=run).status_code == 200


def test_new_data_is_rediagnosed_and_unchanged_runs_are_not(tmp_path, tensorboard_app):
    from .synthetic_runs import write_run

    write_run(str(tmp_path / "a"), collapse_at=None)
    app = tensorboard_app(str(tmp_path))
    calls = []
    cache = app.plugin._cache
    engine = cache._diagnose
    cache._diagnose = lambda run: calls.append(run.name) or engine(run)
    assert [row["run"] for row in app.get_json("/runs")["runs"]] == ["a"]
    assert app.get_json("/runs")["runs"][0]["status"] == "healthy"
    assert calls == ["a"]
    write_run(str(tmp_path / "b"), collapse_at=100)
    app.multiplexer.AddRunsFromDirectory(str(tmp_path))
    app.reload()
    rows = {row["run"]: row["status"] for row in app.get_json("/runs")["runs"]}
    assert rows == {"a": "healthy", "b": "collapsed"}
    assert calls == ["a", "b"]


def test_the_run_list_comes_in_pages_that_add_up_to_the_whole(app):
    whole = app.get_json("/runs")
    assert whole["total"] == len(whole["runs"]) == 3 and whole["offset"] == 0
    pages = [app.get_json("/runs", offset=start, limit=2) for start in (0, 2, 4)]
    assert [len(page["runs"]) for page in pages] == [2, 1, 0]
    assert all(page["total"] == 3 for page in pages)
    assert [row for page in pages for row in page["runs"]] == whole["runs"]
    for bad in ({"offset": "-1"}, {"limit": "x"}, {"offset": "1e3"}, {"limit": "9" * 12},
                {"offset": "\u00b2"}):  # a digit to str.isdigit, not to int()
        response = app.get("/runs", **bad)
        assert response.status_code == 400, bad
        assert "non-negative integer" in response.get_data(as_text=True)
    response = app.get("/runs", listing="../x")
    assert response.status_code == 400
    assert "listing must be one id from an earlier /runs answer" in response.get_data(as_text=True)


def test_later_pages_are_cut_from_the_first_pages_listing(tmp_path, tensorboard_app):
    """Pages named by the first answer's listing are that list, read once: a run arriving
    in between neither shifts them nor costs another listing; a new first page sees it."""
    from .synthetic_runs import write_run

    for name in ("a", "c"):
        write_run(str(tmp_path / name), collapse_at=None)
    app = tensorboard_app(str(tmp_path))
    first = app.get_json("/runs", offset=0, limit=1)
    assert [row["run"] for row in first["runs"]] == ["a"] and first["total"] == 2
    write_run(str(tmp_path / "b"), collapse_at=100)
    app.multiplexer.AddRunsFromDirectory(str(tmp_path))
    app.reload()
    refreshes = []
    cache = app.plugin._cache
    refresh = cache.refresh
    cache.refresh = lambda *args: refreshes.append(1) or refresh(*args)
    second = app.get_json("/runs", offset=1, limit=1, listing=first["listing"])
    assert [row["run"] for row in second["runs"]] == ["c"]
    assert second["total"] == 2 and second["listing"] == first["listing"] and refreshes == []
    anew = app.get_json("/runs", offset=0, limit=5)
    assert [row["run"] for row in anew["runs"]] == ["a", "b", "c"]
    assert anew["listing"] != first["listing"] and refreshes == [1]
    unknown = app.get_json("/runs", offset=1, limit=1, listing="987654")
    assert unknown["listing"] not in (first["listing"], "987654") and unknown["total"] == 3


def test_a_poll_since_a_held_listing_gets_only_what_changed(tmp_path, tensorboard_app):
    """``/runs?since=ID``: the rows of runs new or changed since that listing and the runs
    gone; unchanged runs are not sent again. An id no longer kept gets a first page."""
    from .synthetic_runs import write_run

    for name in ("a", "b", "c"):
        write_run(str(tmp_path / name), collapse_at=None)
    app = tensorboard_app(str(tmp_path))
    held = app.get_json("/runs")
    assert [row["run"] for row in held["runs"]] == ["a", "b", "c"]

    quiet = app.get_json("/runs", since=held["listing"])  # nothing happened
    assert quiet["since"] == held["listing"] and quiet["listing"] != held["listing"]
    assert quiet["changed"] == [] and quiet["removed"] == [] and quiet["total"] == 3

    write_run(str(tmp_path / "d"), collapse_at=100)  # a new run
    write_run(str(tmp_path / "b"), collapse_at=50, steps=80)  # b went on: a second file
    app.multiplexer.AddRunsFromDirectory(str(tmp_path))
    app.reload()
    changes = app.get_json("/runs", since=quiet["listing"])
    assert sorted(row["run"] for row in changes["changed"]) == ["b", "d"]
    assert changes["removed"] == [] and changes["total"] == 4
    whole = {row["run"]: row for row in app.get_json("/runs")["runs"]}
    assert all(whole[row["run"]] == row for row in changes["changed"])  # the rows as listed
    assert whole["b"]["last_step"] == 790

    # a run gone from the list (TensorBoard's Python loader keeps runs deleted from disk,
    # so the held and new listings are given here)
    a, b = {"run": "a"}, {"run": "b"}
    gone_since = CollapseDiagnosisPlugin._changes("5", [a, b], [b], "6")
    assert gone_since == {"since": "5", "listing": "6", "changed": [], "removed": ["a"],
                          "total": 1}

    gone = app.get_json("/runs", since="987654")  # not kept: a first page of a new listing
    assert "since" not in gone and gone["total"] == 4 and len(gone["runs"]) == 4
    response = app.get("/runs", since="x1")
    assert response.status_code == 400
    assert "since must be one id from an earlier /runs answer" in response.get_data(as_text=True)


def test_many_open_tabs_each_keep_their_listing(tmp_path, tensorboard_app):
    """Every open tab polls since its own listing: a dozen colleagues' tabs polling in
    between do not push one tab's listing out (it would read every page again)."""
    from .synthetic_runs import write_run

    write_run(str(tmp_path / "a"), collapse_at=None)
    app = tensorboard_app(str(tmp_path))
    mine = app.get_json("/runs")["listing"]
    others = [app.get_json("/runs")["listing"] for _ in range(12)]
    for listing in others:
        assert app.get_json("/runs", since=listing)["since"] == listing
    assert app.get_json("/runs", since=mine)["since"] == mine
