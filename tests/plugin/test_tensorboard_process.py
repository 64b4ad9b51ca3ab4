"""A real tensorboard process over runs written by aelog.watch, with both of its loaders:
the plugin is found through its entry point, and every route answers over the data
provider (Rust data server by default, Python multiplexer with --load_fast=false)."""

from __future__ import annotations

import json
import urllib.parse

import pytest

from aelog.diagnosis.api import diagnose

from .sdk_runs import ALL_RUNS, HALF_WRITTEN_RUN, TEAM, TRAINING_STEPS, TRUE_TOP_CAUSE
from .tensorboard_process import TensorBoard, last_steps_on_disk


@pytest.fixture(scope="module", params=[True, False], ids=["load_fast", "python_loader"])
def tensorboard(request, sdk_logdir, tmp_path_factory):
    log = tmp_path_factory.mktemp("tensorboard") / "tensorboard.log"
    server = TensorBoard(sdk_logdir, load_fast=request.param, log_path=str(log))
    request.addfinalizer(server.stop)
    server.wait_for_runs(len(ALL_RUNS), last_steps_on_disk(sdk_logdir))
    return server


def _query(**params) -> str:
    return urllib.parse.urlencode(params, doseq=True)


def test_tab_is_listed_and_active(tensorboard):
    listing = tensorboard.get_json("/data/plugins_listing")["aelog"]
    assert listing["enabled"] is True
    assert listing["tab_name"] == "Collapse Diagnosis"
    assert listing["loading_mechanism"] == {
        "type": "IFRAME",
        "module_path": "/data/plugin/aelog/index.js",
    }
    status, body = tensorboard.get("/data/plugin/aelog/index.js")
    assert status == 200 and b"render" in body


def test_run_list_matches_the_engine_on_every_run(tensorboard, sdk_logdir):
    rows = {row["run"]: row for row in tensorboard.get_json("/data/plugin/aelog/runs")["runs"]}
    assert sorted(rows) == ALL_RUNS
    from_files = {d.run: d.to_json() for d in diagnose(sdk_logdir)}
    for name, cause in TRUE_TOP_CAUSE.items():
        row = rows[name]
        assert row["team"] == TEAM[name]
        assert row["status"] == from_files[name]["status"]
        assert row["causes"] == from_files[name]["causes"], name
        top = row["causes"][0]["id"] if row["causes"] else None
        assert top == cause, (name, row["causes"][:2])
        assert (row["status"] == "healthy") == (cause is None)
        assert row["trained"]["steps"] == TRAINING_STEPS, name  # close() recorded it
        assert row["trained"]["logging_steps"] >= 20
    assert rows[HALF_WRITTEN_RUN]["last_step"] is not None
    assert rows[HALF_WRITTEN_RUN]["trained"] is None  # never closed


def test_detail_and_compare_routes(tensorboard):
    detail = tensorboard.get_json("/data/plugin/aelog/run?" + _query(run="speech/dead_bottleneck"))
    assert detail["run"]["causes"][0]["id"] == "dead_relu"
    assert len(detail["signals"]["output_variance_ratio"]["steps"]) > 10
    assert detail["layers"] and all(layer["signals"] for layer in detail["layers"])
    pair = tensorboard.get_json(
        "/data/plugin/aelog/compare?"
        + _query(run=["vision/healthy", "speech/weight_decay_3"])
    )["pairs"][0]
    differences = {d["key"]: (d["a"], d["b"]) for d in pair["config_differences"]}
    assert differences["weight_decay"] == (0.0, 3.0)
    assert differences["tags.team"] == ("vision", "speech")
    assert pair["signals_part_at_step"] is not None


def test_errors_are_4xx_with_a_message(tensorboard):
    status, body = tensorboard.get("/data/plugin/aelog/run")
    assert status == 400 and b"run" in body
    status, body = tensorboard.get("/data/plugin/aelog/run?" + _query(run="no/such/run"))
    assert status == 404 and b"no/such/run" in body
    status, _ = tensorboard.get("/data/plugin/aelog/compare?" + _query(run="vision/healthy"))
    assert status == 400
    status, _ = tensorboard.get("/data/plugin/aelog/..%2f..%2fplugin.py")
    assert status == 404
    for run in ALL_RUNS:  # the half-written file and the garbage file never give a 500
        status, body = tensorboard.get("/data/plugin/aelog/run?" + _query(run=run))
        assert status == 200, (run, body[:200])
        json.loads(body)
