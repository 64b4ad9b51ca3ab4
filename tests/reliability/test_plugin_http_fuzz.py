"""Plugin HTTP: every route under malformed, huge and hostile parameters answers 200, 400
or 404 (never a server error) in bounded time and memory, and the static route serves
one file only."""

from __future__ import annotations

import random
import time
import tracemalloc
import urllib.parse

import pytest

from .event_files import write_damaged_runs
from .hostile import MARKUP, ODD_TEXT, TRAVERSAL
from .hostile_runs import write_hostile_logdir

ROUTES = ("/runs", "/run", "/compare", "/index.js")
ALLOWED_STATUS = {200, 400, 404, 405}
SLOWEST_ANSWER_S = 2.0
MEMORY_PEAK_BYTES = 64 << 20
RANDOM_QUERIES = 300


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    from plugin.conftest import InProcessTensorBoard
    from plugin.synthetic_runs import write_logdir

    logdir = tmp_path_factory.mktemp("fuzz")
    write_logdir(str(logdir))
    write_hostile_logdir(str(logdir))
    write_damaged_runs(str(logdir))
    return InProcessTensorBoard(str(logdir))


def _quote(text: str) -> str:
    return urllib.parse.quote(text.encode("utf-8", "surrogatepass"), safe="")


def hostile_queries() -> list[str]:
    """Raw query strings: odd values, repeated and missing keys, broken encodings, sizes."""
    values = (*ODD_TEXT, *MARKUP, *TRAVERSAL, "vision/healthy", "vision/collapsed")
    queries = ["", "run", "run=", "=x", "&&&", "run&run", "run=%", "run=%f", "run=%ff%fe%fd",
               "run=%c0%af", "run=%ed%a0%80", "%00=%00", "run=a;run=b", "run[]=a",
               "run=" + "x" * 1_000_000, "&".join(["run=vision/healthy"] * 5000),
               "&".join(f"run={i}" for i in range(5000)), "experiment=../../etc"]
    queries += [f"run={_quote(v)}" for v in values]
    queries += [f"run=vision/healthy&run={_quote(v)}" for v in values]
    queries += [f"{_quote(v)}={_quote(v)}" for v in values[:20]]
    rng = random.Random(20261125)
    for _ in range(RANDOM_QUERIES):
        blob = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 200)))
        key = rng.choice(["run", "run", "tag", "x"])
        count = rng.choice([1, 1, 2, 3, 30])
        queries.append("&".join(f"{key}={urllib.parse.quote(blob)}" for _ in range(count)))
    return queries


def _ask(app, route: str, query: str):
    response = app.client.get("/data/plugin/aelog" + route, query_string=query)
    assert response.status_code in ALLOWED_STATUS, (route, query[:200], response.status_code)
    if response.status_code == 200 and route != "/index.js":
        response.get_json()  # well-formed JSON
    return response


def test_every_route_survives_hostile_queries_in_bounded_time(app):
    queries = hostile_queries()
    slowest, answers = 0.0, 0
    for route in ROUTES:
        for query in queries:
            started = time.perf_counter()
            _ask(app, route, query)
            slowest = max(slowest, time.perf_counter() - started)
            answers += 1
    assert slowest < SLOWEST_ANSWER_S, slowest
    print(f"{answers} hostile requests, slowest {slowest * 1000:.0f} ms")


def test_the_largest_queries_stay_in_bounded_memory(app):
    largest = sorted(hostile_queries(), key=len)[-5:]
    tracemalloc.start()
    try:
        for route in ROUTES:
            for query in largest:
                _ask(app, route, query)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < MEMORY_PEAK_BYTES, peak
    print(f"largest queries ({len(largest[-1]) / 1e6:.1f} MB): peak traced memory "
          f"{peak / 2**20:.1f} MiB")


def test_other_methods_and_unknown_routes_are_not_errors(app):
    for route in (*ROUTES, "/", "/runs/x", "/static/index.js", "/index.js.map", "/plugin.py"):
        for method in ("GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH", "TRACE"):
            response = app.client.open("/data/plugin/aelog" + route, method=method,
                                       data=b"\x00" * 1000)
            assert response.status_code < 500, (method, route, response.status_code)


def test_static_route_serves_the_bundle_and_nothing_else(app):
    bundle = app.client.get("/data/plugin/aelog/index.js")
    assert bundle.status_code == 200
    assert bundle.headers["Content-Type"].startswith("text/javascript")
    assert bundle.headers.get("X-Content-Type-Options") == "nosniff"
    for path in TRAVERSAL:
        for prefix in ("/data/plugin/aelog/", "/data/plugin/aelog/index.js/"):
            response = app.client.get(prefix + path)
            assert response.status_code in (301, 302, 308, 404), (prefix + path)
            assert b"root:" not in response.get_data() and b"import" not in response.get_data()


def test_json_answers_are_never_sniffed_as_html(app):
    response = app.client.get("/data/plugin/aelog/run", query_string=f"run={_quote(MARKUP[0])}")
    assert response.status_code == 404
    assert response.headers.get("X-Content-Type-Options") == "nosniff"
    assert not response.headers["Content-Type"].startswith("text/html")
    runs = app.client.get("/data/plugin/aelog/runs")
    assert runs.headers["Content-Type"].startswith("application/json")
