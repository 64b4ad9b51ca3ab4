"""A team lead opens the tab on a shared logdir of thousands of runs: local disk and a bucket.

Not a test: a measurement, written to benchmarks/RESULTS.md under its own heading.

    python -m benchmarks.teams [--sizes 1000,10000] [--stores local,s3] [--steps 2000]
                               [--load-limit 900] [--no-write]

1. Trains one real run with ``aelog.watch`` (MLP on digits, default cadence) and writes
   each size's runs as copies of it (``benchmarks.scale.write_runs``: each run its own
   length, scale, name and team, closed with the verdict ``close()`` stores).
2. Per store: ``local`` is a directory; ``s3`` is the same runs uploaded to a real
   S3-compatible server (moto's server mode) on 127.0.0.1, read through the standard
   ``AWS_*`` variables, as a user's MinIO or company store would be.
3. Times ``aelog diagnose LOGDIR --json`` twice in fresh processes (cold: the first read
   after writing; warm: the same again).
4. Starts a real ``tensorboard`` (its Rust loader for a local logdir, its Python loader
   for ``s3://``, which the Rust loader does not read; the plugin's background warmer off)
   and waits until TensorBoard holds every run's last step, up to ``--load-limit`` seconds.
   Then in headless Chromium: the Collapse Diagnosis tab opened until its table lists every
   run, cold (the plugin's first ``/runs``, whose page fetches the browser times) and warm
   (opened again); a reload with nothing changed (every page of ``/runs`` again, as the tab
   did before ``since``, against ``/runs?since=``); TensorBoard's Scalars tab opened until
   its first chart has drawn, twice.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import shutil
import sys
import tempfile
import time
import urllib.parse
import urllib.request

from aelog.logfile import format as fmt
from benchmarks.results_file import RESULTS, replace_section
from benchmarks.scale import time_cli, train_template, write_runs
from benchmarks.tab import _SCALAR_CHART_LINES, CHROMIUM

TESTS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "tests")
sys.path.insert(0, TESTS)  # the test suite's real servers: tensorboard, moto's S3
from plugin.tensorboard_process import TensorBoard  # noqa: E402
from remote.s3_server import S3Server, fresh_s3fs  # noqa: E402

HEADING = ("## Thousands of runs, local and in a bucket: the tab, /runs, aelog diagnose "
           "(benchmarks/teams.py)")
BUCKET = "team-logs"
TAB_GOAL_S = {1000: 2.0, 10000: 5.0}
"""the issue's goal for the tab's table, by runs (TensorBoard's own cold load aside)."""
DIAGNOSE_GOAL_S = 60.0
BROWSER_TIMEOUT_MS = 300_000
SCALARS_TIMEOUT_MS = 120_000
SCREENSHOT = "/tmp/aelog-teams-benchmark-{store}-{runs}-{tab}.png"


def upload(local: str, url: str) -> float:
    """Every file of the local logdir into the bucket, as many writers' uploads would."""
    import fsspec

    started = time.perf_counter()
    fs, path = fsspec.core.url_to_fs(url)
    fs.put(local.rstrip("/") + "/", path, recursive=True)
    return time.perf_counter() - started


def _post_json(url: str, fields: list[tuple[str, str]]):
    body = urllib.parse.urlencode(fields).encode()
    with urllib.request.urlopen(url, data=body, timeout=600) as response:
        return json.loads(response.read())


def _get_json(url: str):
    with urllib.request.urlopen(url, timeout=600) as response:  # a busy loader answers late
        return json.loads(response.read())


def loaded_runs(server: TensorBoard, last_steps: dict[str, int]) -> int:
    """How many runs TensorBoard holds up to their last step (the Scalars plugin's view:
    asking the aelog plugin would warm the cache the cold measure needs cold)."""
    listed = set(_get_json(server.url + "/data/runs"))
    names = [name for name in last_steps if name in listed]
    tag = fmt.scalar_tag(fmt.RELATIVE_ERROR)
    complete = 0
    for start in range(0, len(names), 1000):
        chunk = names[start:start + 1000]
        series = _post_json(server.url + "/data/plugin/scalars/scalars_multirun",
                            [("tag", tag)] + [("runs", name) for name in chunk])
        complete += sum(1 for name in chunk
                        if series.get(name) and series[name][-1][1] == last_steps[name])
    return complete


def wait_until_loaded(server: TensorBoard, last_steps: dict[str, int],
                      limit_s: float) -> tuple[float, int]:
    """Seconds until TensorBoard held every run (or the limit), and how many it held."""
    started = time.monotonic()
    complete = 0
    while time.monotonic() - started < limit_s:
        if server.process.poll() is not None:
            raise RuntimeError(f"tensorboard exited with {server.process.returncode}")
        try:
            complete = loaded_runs(server, last_steps)
        except OSError as error:  # not listening yet; the last count stands
            print(f"  tensorboard did not answer: {error}", flush=True)
        if complete == len(last_steps):
            break
        time.sleep(max(5.0, len(last_steps) / 100))  # asking costs the loader time too
    return time.monotonic() - started, complete


_RUNS_FETCHES = """() => {
  const pages = performance.getEntriesByType('resource').filter((e) => e.name.includes('runs?'));
  if (!pages.length) return null;
  return Math.max(...pages.map((e) => e.responseEnd)) - Math.min(...pages.map((e) => e.startTime));
}"""


_TABLE_DRAWN = """(runs) => {
  const root = document.querySelector('.aelog');
  const count = document.querySelector('.table-count');
  return !!root && ['table-drawn', 'ready'].includes(root.dataset.state) && !!count
    && count.textContent.startsWith(`${runs} of ${runs} runs`)
    && !!document.querySelector('tr.run-row') && performance.now();
}"""
"""true once the table is drawn with every run counted (each group draws its first rows,
the rest on a click): the time since the tab's frame began to load."""


def _tab_frame(page):
    deadline = time.monotonic() + BROWSER_TIMEOUT_MS / 1000
    while time.monotonic() < deadline:
        for frame in page.main_frame.child_frames:  # TensorBoard gives each plugin a frame
            return frame
        page.wait_for_timeout(20)
    raise TimeoutError("TensorBoard did not open the tab's frame")


def open_tab(browser, server: TensorBoard, runs: int, shot: str) -> dict[str, float | None]:
    """Navigation start to the table listing every run (TensorBoard's page included); the
    tab's own part (its frame's start to the same); the span of its /runs page fetches."""
    page = browser.new_page(viewport={"width": 1500, "height": 1000})
    try:
        started = time.perf_counter()
        page.goto(server.url + "/#aelog")
        frame = _tab_frame(page)
        drawn = frame.wait_for_function(_TABLE_DRAWN, arg=runs, polling="raf",
                                        timeout=BROWSER_TIMEOUT_MS)
        seconds = time.perf_counter() - started
        fetches = frame.evaluate(_RUNS_FETCHES)
        page.screenshot(path=shot)
        return {"page": seconds, "own": drawn.json_value() / 1000,
                "fetches": None if fetches is None else fetches / 1000}
    finally:
        page.close()


def time_reload(server: TensorBoard) -> dict[str, float]:
    """A reload after nothing changed, as the tab makes one every 30 s: every page of
    ``/runs`` again (what it fetched before ``since``), and what changed since the listing
    it holds (``/runs?since=``); seconds and bytes of each."""
    base = server.url + "/data/plugin/aelog/runs"
    started, size, listing, offset, total = time.perf_counter(), 0, "", 0, None
    while total is None or offset < total:
        with urllib.request.urlopen(f"{base}?offset={offset}&limit=1000"
                                    + (f"&listing={listing}" if listing else ""),
                                    timeout=600) as response:
            body = response.read()
        page = json.loads(body)
        size += len(body)
        listing, total, offset = page["listing"], page["total"], offset + len(page["runs"])
        if not page["runs"]:
            break
    pages_s = time.perf_counter() - started
    started = time.perf_counter()
    with urllib.request.urlopen(f"{base}?since={listing}", timeout=600) as response:
        body = response.read()
    changes = json.loads(body)
    if changes.get("since") != listing or changes["changed"] or changes["removed"]:
        raise RuntimeError(f"a reload with nothing changed got changes: {str(changes)[:200]}")
    return {"pages_s": pages_s, "pages_bytes": size,
            "since_s": time.perf_counter() - started, "since_bytes": len(body)}


def open_scalars(browser, server: TensorBoard, shot: str) -> float | None:
    page = browser.new_page(viewport={"width": 1500, "height": 1000})
    try:
        started = time.perf_counter()
        page.goto(server.url + "/#scalars")
        page.wait_for_function(_SCALAR_CHART_LINES, arg=0, timeout=SCALARS_TIMEOUT_MS)
        seconds = time.perf_counter() - started
        page.screenshot(path=shot)
        return seconds
    except Exception as error:  # noqa: BLE001 - reported as not drawn, with why
        print(f"Scalars tab did not draw: {error}", flush=True)
        return None
    finally:
        page.close()


def measure_tensorboard(logdir: str, store: str, last_steps: dict[str, int],
                        load_limit: float, log_path: str) -> dict:
    from playwright.sync_api import sync_playwright

    runs = len(last_steps)
    server = TensorBoard(logdir, load_fast=store == "local", log_path=log_path,
                         extra_args=("--aelog_warm_cache=false",))
    try:
        load_s, loaded = wait_until_loaded(server, last_steps, load_limit)
        print(f"  tensorboard ({'Rust' if store == 'local' else 'Python'} loader): "
              f"{loaded} of {runs} runs complete after {load_s:.0f} s", flush=True)
        result = {"load": load_s, "loaded": loaded}
        if loaded < runs:
            return result
        shot = SCREENSHOT.format(store=store, runs=runs, tab="{tab}")
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM)
            try:
                for when in ("cold", "warm"):
                    opened = open_tab(browser, server, runs, shot.format(tab=f"aelog-{when}"))
                    result[f"tab_{when}"] = opened["page"]
                    result[f"tab_own_{when}"] = opened["own"]
                    result[f"runs_in_tab_{when}"] = opened["fetches"]
                result["reload"] = time_reload(server)
                result["scalars_cold"] = open_scalars(browser, server,
                                                      shot.format(tab="scalars-cold"))
                result["scalars_warm"] = open_scalars(browser, server,
                                                      shot.format(tab="scalars-warm"))
            finally:
                browser.close()
        return result
    finally:
        server.stop()


def measure(sizes: list[int], stores: list[str], template_steps: int, root: str,
            load_limit: float) -> list[dict]:
    started = time.perf_counter()
    template = train_template(template_steps, os.path.join(root, "template"))
    print(f"template run: {template_steps} steps in {time.perf_counter() - started:.1f} s",
          flush=True)
    s3 = None
    if "s3" in stores:
        s3 = S3Server(os.path.join(root, "moto.log"))
        s3.start()
        os.environ.update(s3.environment())
        fresh_s3fs()
        s3.make_bucket(BUCKET)
    rows = []
    try:
        for runs in sizes:
            local = os.path.join(root, f"runs_{runs}")
            last_steps: dict[str, int] = {}
            started = time.perf_counter()
            events = write_runs(template, local, runs, template_steps, True, last_steps)
            print(f"{runs} runs written ({events:,} logged steps) in "
                  f"{time.perf_counter() - started:.0f} s", flush=True)
            size = sum(os.path.getsize(os.path.join(d, f))
                       for d, _, files in os.walk(local) for f in files)
            for store in stores:
                logdir = local
                row = {"store": store, "runs": runs, "bytes": size, "upload": None}
                if store == "s3":
                    logdir = f"s3://{BUCKET}/runs_{runs}"
                    row["upload"] = upload(local, logdir)
                    print(f"  uploaded to {logdir} in {row['upload']:.0f} s", flush=True)
                row["diagnose_cold"] = time_cli(logdir, runs)
                row["diagnose_warm"] = time_cli(logdir, runs)
                print(f"  {store}: aelog diagnose {row['diagnose_cold']:.1f} s, then "
                      f"{row['diagnose_warm']:.1f} s", flush=True)
                row.update(measure_tensorboard(logdir, store, last_steps, load_limit,
                                               os.path.join(root, f"tb_{store}_{runs}.log")))
                print(f"  {store}: {row}", flush=True)
                rows.append(row)
            shutil.rmtree(local, ignore_errors=True)
    finally:
        if s3 is not None:
            s3.stop()
    return rows


def _met(seconds: float, goal: float) -> str:
    return "met" if seconds <= goal else "NOT met"


def _s(value: float | None, digits: int = 1) -> str:
    return "-" if value is None else f"{value:.{digits}f} s"


def _bytes(count: int) -> str:
    return f"{count / 2**20:.1f} MiB" if count >= 2**20 else f"{count / 2**10:.1f} KiB"


def _reload(reload: dict | None) -> str:
    if reload is None:
        return "- / -"
    return (f"{reload['pages_s']:.2f} s, {_bytes(reload['pages_bytes'])} / "
            f"{reload['since_s']:.2f} s, {_bytes(reload['since_bytes'])}")


def render(rows: list[dict], context: dict) -> str:
    lines = [
        HEADING,
        "",
        f"`{context['command']}`; {context['machine']}; {context['date']}; "
        f"{context['seconds']:.0f} s in all. Each run is a copy of one real `aelog.watch` run "
        f"(MLP on digits, default cadence, {context['steps']:,} steps), cut to its own length "
        "and scaled a little, in 5 team folders, closed with the verdict `close()` stores. "
        "`local`: a directory, TensorBoard's Rust loader (its default). `s3`: the same files "
        "in a bucket of moto's S3 server on 127.0.0.1, read through the `AWS_*` variables; "
        "TensorBoard reads `s3://` with its Python loader only. TensorBoard runs with "
        "`--aelog_warm_cache=false`, so the tab's first opening pays the plugin's first "
        "`/runs` (by default the plugin reads new runs in the background and the first "
        "visitor finds them read). 'TensorBoard holds every run': from its start until the "
        "Scalars plugin serves every run's last step (asked every 5 s, or every runs/100 s "
        "where asking costs the loader time). Browser: headless Chromium, navigation start "
        "to drawn; the tab's table counts to every run, drawing each group's first 200 rows "
        "(the rest on a click).",
        "",
        "| store | runs | event files | aelog diagnose cold / warm | TensorBoard holds every "
        "run | tab: table of every run drawn (page opened), cold / warm | the tab's own part (its "
        "frame's start to the table), cold / warm | its /runs pages, cold / warm | "
        "Scalars tab: first chart, cold / warm | a reload, nothing changed: every page "
        "again / what changed since (`/runs?since=`) |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        held = (f"{r['load']:.0f} s" if r["loaded"] == r["runs"] else
                f"not within {r['load']:.0f} s ({r['loaded']:,} of {r['runs']:,} runs)")
        lines.append(
            f"| {r['store']} | {r['runs']:,} | {r['bytes'] / 2**20:.0f} MiB | "
            f"{_s(r['diagnose_cold'])} / {_s(r['diagnose_warm'])} | {held} | "
            f"{_s(r.get('tab_cold'), 2)} / {_s(r.get('tab_warm'), 2)} | "
            f"{_s(r.get('tab_own_cold'), 2)} / {_s(r.get('tab_own_warm'), 2)} | "
            f"{_s(r.get('runs_in_tab_cold'), 2)} / {_s(r.get('runs_in_tab_warm'), 2)} | "
            f"{_s(r.get('scalars_cold'), 2)} / {_s(r.get('scalars_warm'), 2)} | "
            f"{_reload(r.get('reload'))} |"
        )
    lines.append("")
    for r in rows:
        where = f"{r['store']}, {r['runs']:,} runs"
        goal = TAB_GOAL_S.get(r["runs"])
        if goal is not None and r.get("tab_warm") is not None:
            lines.append(
                f"- {where}: the tab's own part (its frame's start to the table listing every "
                f"run) {r['tab_own_cold']:.2f} s cold ({_met(r['tab_own_cold'], goal)}), "
                f"{r['tab_own_warm']:.2f} s warm ({_met(r['tab_own_warm'], goal)}), against "
                f"{goal:.0f} s; with TensorBoard's page around it {r['tab_cold']:.2f} s cold, "
                f"{r['tab_warm']:.2f} s warm (its Scalars tab draws a first chart in "
                f"{_s(r.get('scalars_warm'), 2)} warm)."
            )
        elif goal is not None:
            lines.append(f"- {where}: the tab not measured: TensorBoard held {r['loaded']:,} "
                         f"of {r['runs']:,} runs after {r['load']:.0f} s.")
        if r["runs"] >= 10000:
            worst = max(r["diagnose_cold"], r["diagnose_warm"])
            lines.append(
                f"- {where}: `aelog diagnose` {r['diagnose_cold']:.1f} s cold, "
                f"{r['diagnose_warm']:.1f} s warm, against {DIAGNOSE_GOAL_S:.0f} s: "
                f"{'met' if worst <= DIAGNOSE_GOAL_S else 'NOT met'}."
            )
        if r["upload"] is not None:
            lines.append(f"- {where}: putting the runs in the bucket took {r['upload']:.0f} s "
                         "(not part of any time above).")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    from benchmarks.overhead.__main__ import machine

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="1000,10000")
    parser.add_argument("--stores", default="local,s3")
    parser.add_argument("--steps", type=int, default=2000, help="training steps of the template")
    parser.add_argument("--load-limit", type=float, default=900,
                        help="seconds to wait for TensorBoard to hold every run")
    parser.add_argument("--no-write", action="store_true", help="print, do not edit RESULTS.md")
    parser.add_argument("--out", default=RESULTS)
    args = parser.parse_args(argv)
    sizes = sorted(int(s) for s in args.sizes.split(","))
    stores = [s.strip() for s in args.stores.split(",") if s.strip()]
    unknown = set(stores) - {"local", "s3"}
    if unknown:
        parser.error(f"unknown store(s) {', '.join(sorted(unknown))}: use local and/or s3")
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="aelog-bench-teams-") as root:
        rows = measure(sizes, stores, args.steps, root, args.load_limit)
    shown = argv if argv is not None else sys.argv[1:]
    text = render(rows, {
        "command": "python -m benchmarks.teams" + (" " + " ".join(shown) if shown else ""),
        "machine": machine(), "steps": args.steps,
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "seconds": time.perf_counter() - started,
    })
    print(text)
    if not args.no_write:
        replace_section(text, HEADING, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
