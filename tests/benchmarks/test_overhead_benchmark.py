"""The overhead benchmark runs end to end on a tiny configuration, and its measures hold."""

from __future__ import annotations

import pathlib
import subprocess
import sys

import numpy as np

from benchmarks.overhead import report
from benchmarks.overhead.__main__ import main
from benchmarks.overhead.timing import STEADY_FROM, ArmTiming, compare, robust_total

OTHER_SECTION = "## Someone else's benchmark\n\nkept as it is.\n"


def test_runs_end_to_end_and_keeps_other_sections(tmp_path):
    out = tmp_path / "RESULTS.md"
    out.write_text("# Results\n\n" + OTHER_SECTION)
    assert main([
        "--workloads", "mlp_digits", "--arms",
        "bare,bare_control,aelog,aelog_peer_interval,tensorboard",
        "--steps", str(STEADY_FROM + 30), "--every-step-steps", "4", "--memory-steps", "3",
        "--out", str(out),
    ]) == 0
    text = out.read_text()
    assert OTHER_SECTION in text and text.count(report.HEADING) == 1
    section = text[text.index(report.HEADING):]
    rows = [line for line in section.splitlines() if line.startswith("| aelog.watch")]
    assert len(rows) == 3  # default cadence, the peers' log_every=100, and log_every=1
    assert "aelog.watch(log_every=100)" in rows[1] and "aelog.watch(log_every=1)" in rows[2]
    assert "on the peers' schedule (every 100 steps), aelog" in section
    assert "whole run at each tool's own schedule: aelog" in section
    assert f"from step {STEADY_FROM} at each tool's own schedule, aelog" in section
    assert f"Its own books from step {STEADY_FROM} (each round): " in section  # the cadence's
    assert f"From step {STEADY_FROM}, each round: " in section  # one disturbed round shows
    assert "(24,928 parameters; 5 rounds at default settings)" in section
    default_row = rows[0].split("|")
    assert int(default_row[8].split()[0]) >= 28  # every step to 20, then a point every tenth
    assert 0.5 < float(default_row[4]) < 2.0  # median step against bare: a real ratio
    assert "SummaryWriter histograms every 100" in section
    assert "| mlp_digits | aelog | 3, 30 |" in section
    memory_row = next(line for line in section.splitlines()
                      if line.startswith("| mlp_digits | aelog | 3, 30 |")).split("|")
    assert memory_row[8].strip().endswith(" ms") and memory_row[9].strip().endswith(" ms")
    assert "the same counting each tool's start-up and close in a fresh process" in section
    assert "non-logging step takes" in section and "no-op hooks" in section
    assert "### GPU" in section
    assert "glibc malloc held to fixed thresholds while timing" in section
    assert default_row[11].strip().replace(",", "").isdigit()  # page faults per step

    # a second run replaces the section instead of appending another one
    assert main(["--workloads", "mlp_digits", "--arms", "bare,aelog", "--steps", "25",
                 "--every-step-steps", "2", "--no-memory", "--out", str(out)]) == 0
    assert out.read_text().count(report.HEADING) == 1 and OTHER_SECTION in out.read_text()


def _timing(name: str, seconds: list[float], logged: set[int]) -> ArmTiming:
    return ArmTiming(name, rounds=[np.array(seconds)], logged=logged)


def test_the_step_after_a_logging_step_counts_in_full():
    steps = STEADY_FROM + 100
    arm = [1.0] * steps
    arm[STEADY_FROM + 50], arm[STEADY_FROM + 51] = 3.0, 1.5  # a log, and a slower step after
    result = compare(_timing("arm", arm, {STEADY_FROM + 50}),
                     _timing("bare", [1.0] * steps, set()))
    assert result.steady_ratio == 102.5 / 100


def test_compare_counts_logging_steps_in_full_and_ignores_spikes_elsewhere():
    steps = STEADY_FROM + 100
    bare = [1.0] * steps
    bare[150] = 50.0  # a spike of the machine, not of the arm
    arm = [1.0] * steps
    arm[0] = arm[STEADY_FROM + 50] = 3.0  # two logging steps costing 2 extra each
    result = compare(_timing("arm", arm, {0, STEADY_FROM + 50}), _timing("bare", bare, set()))
    assert result.median_ratio == 1.0 and result.non_logging_ratio == 1.0
    assert result.total_ratio == (steps + 4) / steps
    assert result.steady_ratio == 102 / 100
    assert result.start_seconds == 2.0  # the logging step at 0, over bare's first 100 steps
    assert robust_total(np.array(bare), np.zeros(steps, dtype=bool)) == steps


def test_peer_arms_train_and_log_where_installed(tmp_path):
    from benchmarks.overhead.peers import cockpit_status, wandb_status
    from benchmarks.overhead.timing import time_rounds
    from benchmarks.overhead.workloads import by_name

    peers = [p.name for p in (wandb_status(), cockpit_status()) if p.available]
    if not peers:
        import pytest

        pytest.skip("neither wandb nor cockpit-for-pytorch is installed")
    timings = time_rounds(by_name("mlp_digits"), ["bare", *peers], 3, 1, str(tmp_path))
    for name in peers:
        assert timings[name].ok, timings[name].error
        assert timings[name].logged == {0, 1, 2} and timings[name].output_bytes > 0


def test_a_helper_process_cpu_time_is_counted():
    import subprocess
    import sys
    import time

    from benchmarks.overhead.helper_cpu import descendants_cpu_seconds

    before = descendants_cpu_seconds()
    burn = ("import time\nend = time.process_time() + 0.4\n"
            "while time.process_time() < end: pass\nprint('done', flush=True)\ntime.sleep(30)")
    child = subprocess.Popen([sys.executable, "-c", burn], stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout.readline().strip() == "done"
        time.sleep(0.05)
        assert descendants_cpu_seconds() - before >= 0.3
    finally:
        child.kill()
        child.wait()


def test_helper_cpu_time_joins_a_peers_whole_run_and_its_verdict():
    steps = STEADY_FROM + 100
    bare = _timing("bare", [1.0] * steps, set())
    peer = _timing("wandb", [1.0] * steps, {0})
    peer.helper_seconds = [0.1 * steps]  # its service process worked a tenth of the run
    mine = compare(_timing("aelog", [1.01] * steps, {0}), bare)
    theirs = compare(peer, bare)
    assert theirs.total_ratio == 1.0 and abs(theirs.with_helpers_ratio - 1.1) < 1e-12
    assert mine.with_helpers_ratio is None
    setting = report.SettingResult("default", steps, {
        "aelog": ArmTiming("aelog", series=70), "wandb": ArmTiming("wandb", series=17)})
    line = report._against_peers("-", "on the peers' schedule,", mine, "aelog",
                                 {"wandb": theirs}, setting)
    assert "wandb 1.000 (1.100 with its helper processes' CPU time)" in line
    assert "BEHIND wandb in training-process time, ahead of every peer counting all" in line


def test_a_peer_within_the_noise_floor_is_level_not_ahead_or_behind():
    floor = "within the noise floor (+-0.005)"
    assert report._behind_or_ahead(1.015, {"wandb": 1.015}, 0.005) == f": level with wandb {floor}"
    assert report._behind_or_ahead(1.015, {"wandb": 1.012, "tb": 1.3}, 0.005) == (
        f": level with wandb {floor}, ahead of the rest")
    assert report._behind_or_ahead(1.015, {"wandb": 1.009, "tb": 1.012}, 0.005) == (
        f": BEHIND wandb, level with tb {floor}")
    assert report._behind_or_ahead(1.015, {"wandb": 1.021}, 0.005) == ": ahead of every peer"
    assert report._behind_or_ahead(1.015, {"wandb": 1.015}) == (
        ": level with wandb within the noise floor (+-0.000)")


def test_verdicts_take_the_noise_floor_from_the_two_bare_loops():
    steps = STEADY_FROM + 100
    timings = {
        "bare": _timing("bare", [1.0] * steps, set()),
        "bare_control": _timing("bare_control", [1.01] * steps, set()),  # 1% apart
        "aelog": _timing("aelog", [1.0] * 10 + [1.015] * (steps - 10), set(range(10))),
        "wandb": _timing("wandb", [1.01] * steps, {0}),  # cheaper by less than the floor
        "tensorboard": _timing("tensorboard", [0.99] * steps, {0}),  # by more
    }
    for name in ("aelog", "wandb", "tensorboard"):
        timings[name].series = 3 if name == "aelog" else 1
    result = report.WorkloadResult("w", "w", 1, settings=[
        report.SettingResult("default", steps, timings)])
    line = next(v for v in report.verdicts([result]) if "whole run at each tool's" in v)
    assert line.endswith(": BEHIND tensorboard, level with wandb within the noise floor "
                         "(+-0.010).")
    budget = next(v for v in report.verdicts([result]) if "max(2% of bare, 0.5 s)" in v)
    assert (f"aelog's whole run 1.014 of bare over {steps} steps: +2.94 s against max(2% of "
            "bare, 0.5 s) = 4.12 s (noise floor +-0.010): met") in budget
    # the dense start's one-off beside what two bare loops differ by over the same steps
    assert (f"a one-off 1440 ms over bare (two bare loops: +{STEADY_FROM * 10} ms over the "
            "same steps)") in budget
    timings["aelog"].rounds = [np.array([1.0] * 10 + [1.04] * (steps - 10))]
    budget = next(v for v in report.verdicts([result]) if "max(2% of bare, 0.5 s)" in v)
    assert f"over {steps} steps: +7.84 s against max(2% of bare, 0.5 s) = 4.12 s" in budget
    assert "(noise floor +-0.010): MISSED" in budget


def test_start_up_and_close_join_the_whole_run_in_a_verdict():
    steps = STEADY_FROM + 100
    bare = _timing("bare", [0.01] * steps, set())
    mine = compare(_timing("aelog", [0.01] * steps, set()), bare)
    theirs = compare(_timing("wandb", [0.01] * steps, set()), bare)
    assert abs(mine.bare_seconds - 0.01 * steps) < 1e-12
    result = report.WorkloadResult("w", "w", 1, memory={
        "bare": {"setup_seconds": 0.01, "close_seconds": 0.0},
        "aelog": {"setup_seconds": 0.01 + 0.02 * steps * 0.01, "close_seconds": 0.0},
        "wandb": {"setup_seconds": 0.01, "close_seconds": 0.1 * steps * 0.01},
        "tensorboard": {"error": "exit 1: no"},  # not measured: left out, not a failure
    })
    ratios = report._with_start_and_close(result, {"aelog": mine, "wandb": theirs,
                                                   "tensorboard": theirs})
    assert set(ratios) == {"aelog", "wandb"}
    assert abs(ratios["aelog"] - 1.02) < 1e-9 and abs(ratios["wandb"] - 1.1) < 1e-9
    assert report._behind_or_ahead(ratios["aelog"], {"wandb": ratios["wandb"]}) == (
        ": ahead of every peer")
    assert report._with_start_and_close(report.WorkloadResult("w", "w", 1), {"aelog": mine}
                                        ) is None


def test_each_round_pays_the_garbage_collection_it_owes_before_timing(tmp_path):
    import gc

    from benchmarks.overhead import timing
    from benchmarks.overhead.workloads import by_name

    seen: list[tuple[str, int]] = []
    original = timing.Arm.timed_step

    def timed_step(arm, batch):
        seen.append(("step", 0))
        return original(arm, batch)

    def on_collect(phase: str, info: dict) -> None:
        if phase == "start" and info["generation"] == 2:
            seen.append(("full collection", 0))

    timing.Arm.timed_step = timed_step
    gc.callbacks.append(on_collect)
    try:
        timing.time_rounds(by_name("mlp_digits"), ["bare"], 3, None, str(tmp_path), rounds=2)
    finally:
        gc.callbacks.remove(on_collect)
        timing.Arm.timed_step = original
    kinds = [kind for kind, _ in seen]
    steps = [index for index, kind in enumerate(kinds) if kind == "step"]
    assert len(steps) == 6
    # each round's three timed steps come right after a full collection
    for first in (steps[0], steps[3]):
        assert kinds[first - 1] == "full collection"
        assert kinds[first : first + 3] == ["step"] * 3


ALLOCATION_PATTERN = """
import ctypes, resource, sys, torch
from benchmarks.overhead.allocator import pin_malloc_thresholds
# the worst heap history, set outright: every block from 128 KiB mmapped, every free trimmed
# (glibc's defaults drift between these and none, with what the process freed before)
libc = ctypes.CDLL("libc.so.6")
assert libc.mallopt(-3, 128 * 1024) and libc.mallopt(-1, 0)
if sys.argv[1] == "pinned":
    print(pin_malloc_thresholds(), file=sys.stderr)
def step():  # a wide model's step: a few large temporaries made, then all freed
    kept = [torch.ones(4_000_000) for _ in range(6)]
    del kept
for _ in range(3):
    step()
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(5):
    step()
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


def test_pinned_malloc_thresholds_leave_steady_steps_without_page_faults():
    """What the benchmark's timings rely on: whatever thresholds the heap's history left,
    a step's large temporaries fault in again on every step until the thresholds are
    pinned; once pinned, after the first steps, they do not."""
    root = pathlib.Path(__file__).resolve().parents[2]

    def faults(mode: str) -> int:
        done = subprocess.run([sys.executable, "-c", ALLOCATION_PATTERN, mode], cwd=root,
                              capture_output=True, text=True, timeout=120, check=True)
        return int(done.stdout.split()[-1])

    pages = 5 * 6 * 4_000_000 * 4 // 4096  # what the five timed steps touch
    unpinned, pinned = faults("unpinned"), faults("pinned")
    # unpinned, the measurement sees the faults (a page each, or a huge page each where
    # transparent huge pages are on); pinned, under 1% of the pages
    assert unpinned > pages // 512 and pinned < pages / 100 and pinned < unpinned
