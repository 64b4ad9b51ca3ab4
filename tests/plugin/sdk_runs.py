"""Real runs for the end-to-end tests: small autoencoders trained with ``aelog.watch``.

The scenarios are the demo's (aelog/demo/scenarios.py): a healthy run and runs collapsed
by three different causes, in two teams. A few extra directories test robustness: a run
whose name and tags are HTML, a half-written event file, and a file that is not one.
"""

from __future__ import annotations

import os

from .synthetic_runs import write_run

TRAINING_STEPS = 120

TRUE_TOP_CAUSE = {
    "vision/healthy": None,
    "speech/dead_bottleneck": "dead_relu",
    "speech/weight_decay_3": "over_regularized",
    "vision/vae_beta_20": "posterior_collapse",
}
TEAM = {
    "vision/healthy": "vision",
    "speech/dead_bottleneck": "speech",
    "speech/weight_decay_3": "speech",
    "vision/vae_beta_20": "vision",
}
HTML_RUN = "odd/<img src=x onerror=window.__pwned=1>"
HTML_TEAM = "<b onmouseover=window.__pwned=1>red team</b>"
HALF_WRITTEN_RUN = "odd/half_written"


def train_sdk_runs(logdir: str) -> None:
    import torch

    from aelog.demo.data import load_digit_images
    from aelog.demo.progress import Progress
    from aelog.demo.scenarios import SCENARIOS
    from aelog.demo.train import train_scenario

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        images = torch.from_numpy(load_digit_images())
        scenarios = {s.name: s for s in SCENARIOS}
        for name in TRUE_TOP_CAUSE:
            train_scenario(scenarios[name], logdir, TRAINING_STEPS, images,
                           Progress(TRAINING_STEPS, None))
    finally:
        torch.set_num_threads(threads)


def write_odd_runs(logdir: str) -> None:
    write_run(os.path.join(logdir, HTML_RUN), collapse_at=200, team=HTML_TEAM)
    path = write_run(os.path.join(logdir, HALF_WRITTEN_RUN), collapse_at=None)
    with open(path, "r+b") as handle:
        handle.truncate(os.path.getsize(path) - 11)
    garbage = os.path.join(logdir, "odd", "garbage")
    os.makedirs(garbage)
    with open(os.path.join(garbage, "events.out.tfevents.1.garbage"), "wb") as handle:
        handle.write(b"\x01" * 40 + b"not an event file")


ALL_RUNS = sorted([*TRUE_TOP_CAUSE, HTML_RUN, HALF_WRITTEN_RUN])
