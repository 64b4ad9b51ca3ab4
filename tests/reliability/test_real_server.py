"""A real ``tensorboard`` (Rust loader) over a logdir of 1,000 runs plus hostile and damaged
ones: the tab stays responsive, raw hostile requests never reach a file, and the server survives."""

from __future__ import annotations

import os
import socket
import time

import pytest

from .event_files import write_damaged_runs, write_small_run
from .hostile import TRAVERSAL
from .hostile_runs import write_hostile_logdir
from .servers import wait_until_listed

MANY_RUNS = 1000
RUN_LIST_S = 5.0
"""the run list of 1,000 diagnosed runs, once the cache is warm."""
RUN_DETAIL_S = 1.0


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    from plugin.tensorboard_process import TensorBoard

    root = tmp_path_factory.mktemp("many")
    logdir = root / "logs"
    for index in range(MANY_RUNS):
        write_small_run(str(logdir / f"team{index % 10}" / f"run{index:04d}"), steps=6)
    hostile = write_hostile_logdir(str(logdir / "hostile"))
    hostile += write_damaged_runs(str(logdir))
    tensorboard = TensorBoard(str(logdir), load_fast=True, log_path=str(root / "tb.log"))
    try:
        started = time.monotonic()
        wait_until_listed(tensorboard, MANY_RUNS + len(hostile))
        tensorboard.first_list_s = time.monotonic() - started
        yield tensorboard
    finally:
        tensorboard.stop()


def test_a_thousand_runs_stay_responsive(server):
    timings = []
    for _ in range(3):
        started = time.perf_counter()
        rows = server.get_json("/data/plugin/aelog/runs")["runs"]
        timings.append(time.perf_counter() - started)
    assert len(rows) >= MANY_RUNS
    assert sum(row["status"] == "collapsed" for row in rows) >= MANY_RUNS
    started = time.perf_counter()
    detail = server.get_json("/data/plugin/aelog/run?run=team3/run0503")
    detail_s = time.perf_counter() - started
    assert detail["run"]["last_step"] == 50
    print(f"{len(rows)} runs: listed and diagnosed {server.first_list_s:.1f} s after start; "
          f"run list {max(timings):.2f} s, one run {detail_s:.2f} s")
    assert max(timings) < RUN_LIST_S and detail_s < RUN_DETAIL_S


def _raw_request(server, target: bytes) -> tuple[int, bytes]:
    """One request line exactly as given: no client-side normalisation of '..' or '%2e'."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as sock:
        sock.sendall(b"GET " + target + b" HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                     b"Connection: close\r\n\r\n")
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    answer = b"".join(chunks)
    status_line = answer.split(b"\r\n", 1)[0]
    return int(status_line.split()[1]) if status_line.startswith(b"HTTP/") else 0, answer


def test_raw_traversal_requests_never_reach_a_file(server):
    secret_python = open(os.path.join(os.path.dirname(__file__), "hostile.py"), "rb").read()
    tried = 0
    for path in TRAVERSAL:
        for prefix in (b"/data/plugin/aelog/", b"/data/plugin/aelog/index.js/",
                       b"/data/plugin/aelog/static/", b"/"):
            status, answer = _raw_request(server, prefix + path.encode())
            assert status in (301, 302, 308, 400, 404), (prefix + path.encode(), status)
            assert b"root:x:0:0" not in answer and secret_python[:80] not in answer
            assert b"def read_static" not in answer
            tried += 1
    for target in (b"http://127.0.0.1/etc/passwd", b"//etc/passwd", b"/data/plugin/aelog/" +
                   b"a" * 70_000, b"/data/plugin/aelog/run?run=" + b"%ff" * 20_000):
        status, _ = _raw_request(server, target)
        assert status != 500 and status < 600, target[:60]
        tried += 1
    assert server.get_json("/data/plugin/aelog/runs")["runs"]  # still serving
    print(f"{tried} raw hostile request lines, none reached a file")
