"""The symptom, measured apart from any cause: are the outputs (nearly) identical?

"Collapsed" means the outputs barely vary across inputs: their batch variance is at most
COLLAPSED_SPREAD of the targets' (a code of k dimensions that carried anything would keep
far more) and the error is not coming down. "At risk" means most of the spread is gone,
or it is draining away, or the error is worse than predicting the mean.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from aelog.diagnosis import measures as m
from aelog.diagnosis.context import outputs_look_like_logits, still_learning
from aelog.diagnosis.nonfinite import nonfinite_origin
from aelog.diagnosis.types import AT_RISK, COLLAPSED, HEALTHY
from aelog.logfile import format as fmt
from aelog.logfile.run_data import RunData, Series

COLLAPSED_SPREAD = 0.05
"""outputs keep at most 5% of the targets' batch variance: (nearly) identical outputs."""
AT_RISK_SPREAD = 0.2
"""outputs keep at most 20% of the targets' variance while the error stays high."""
AT_RISK_ERROR = 0.5
"""relative error (1 = predicting the batch mean) above which little spread is a problem."""
STALLED_IMPROVEMENT = 0.1
"""relative error fell by less than 10% over the collapsed window: not still learning."""
MIN_SPAN = 20
"""steps a spread-based verdict must hold for: a fresh network's outputs start small and
grow within tens of steps, so an earlier verdict would flag every healthy run."""
DUPLICATE_INPUTS = 0.9
"""90% of a batch identical to another sample: the outputs cannot differ either."""


UNEXPLAINED_SPAN = 100
"""steps outputs must stay near the mean before it counts with no cause in sight: healthy
autoencoders often sit at the mean for tens of steps before they pick up structure."""


@dataclass
class Symptom:
    status: str = HEALTHY
    since_step: int | None = None
    facts: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    span: int | None = None
    """steps the symptom has held; None for symptoms that need no persistence (NaN)."""


def _nonfinite(run: RunData) -> Symptom | None:
    found = _nonfinite_now(run)
    if found is None:
        return None
    origin = nonfinite_origin(run)
    if origin is not None and origin.first_step <= (found.since_step or 0):
        found.since_step = origin.first_step  # the per-step watch dates it exactly
        found.facts.extend(origin.facts())
    return found


def _nonfinite_now(run: RunData) -> Symptom | None:
    for name in (fmt.NONFINITE_OUTPUT_FRACTION, fmt.NONFINITE_WEIGHT_FRACTION):
        series = run.signal(name)
        if series is None:
            continue
        holds = series.values > 0
        since = m.since_step(series, holds)
        if since is not None and holds[-1]:
            what = "outputs" if name == fmt.NONFINITE_OUTPUT_FRACTION else "weights"
            share = float(series.values[-1])
            return Symptom(COLLAPSED, since, [
                f"{m.fmt_num(100 * share)}% of {what} are NaN/Inf at the last logged step"
            ])
    error = run.signal(fmt.RECON_MSE)  # not the relative error: 0/0 on constant targets
    if error is not None and len(error) and not np.isfinite(error.values[-1]):
        holds = ~np.isfinite(error.values)
        since = m.since_step(error, holds)
        return Symptom(COLLAPSED, since, ["reconstruction error is NaN/Inf at the last "
                                          "logged step"])
    return None


def nonfinite_now(run: RunData) -> bool:
    """NaN/Inf in the outputs or weights at the last logged step: a verdict that needs no
    persistence, so no minimum of logged points either."""
    return _nonfinite_now(run) is not None


def _duplicate_inputs(run: RunData) -> Symptom | None:
    series = run.signal(fmt.INPUT_DUPLICATE_FRACTION)
    if series is None:
        return None
    holds = series.values >= DUPLICATE_INPUTS
    since = m.since_step(series, holds)
    if since is None or not holds[-1]:
        return None
    share = m.median(m.tail(series))
    return Symptom(COLLAPSED, since, [
        f"{m.fmt_num(100 * share)}% of each input batch duplicates another sample since step "
        f"{since}: identical inputs give identical outputs"
    ])


def _spread(run: RunData) -> Symptom | None:
    spread = run.signal(fmt.OUTPUT_VARIANCE_RATIO)
    if spread is None:
        return None
    spread = m.finite(spread)
    if len(spread) < m.MIN_VERDICT_POINTS:
        return None
    error = run.signal(fmt.RELATIVE_ERROR)
    error = m.finite(error) if error is not None else None
    last = m.tail(spread)
    if len(last) < m.MIN_VERDICT_POINTS:  # "stays collapsed" needs a few points
        count = m.MIN_VERDICT_POINTS
        last = Series(spread.steps[-count:], spread.values[-count:])
    level = m.median(last)
    err_level = m.tail_median(run, fmt.RELATIVE_ERROR)
    err_text = "" if err_level is None else f", relative error {m.fmt_num(err_level)} (1 = mean)"

    def held(since: int | None) -> bool:
        return since is not None and int(spread.steps[-1]) - since >= MIN_SPAN

    collapsed_now = bool(np.all(last.values <= COLLAPSED_SPREAD))
    since = m.since_step(spread, spread.values <= COLLAPSED_SPREAD) if collapsed_now else None
    if collapsed_now and held(since):
        stalled = True
        if error is not None and len(error) >= 2 and since is not None:
            window = error.since(since).values
            if window.size >= 2 and window[0] > 0:
                # falling towards 1 from above is learning the mean, not the data
                stalled = (window[-1] >= (1 - STALLED_IMPROVEMENT) * window[0]
                           or window[-1] >= 1 - STALLED_IMPROVEMENT)
        fact = (f"outputs nearly identical across inputs: they keep {m.fmt_num(100 * level)}% "
                f"of the targets' variance (collapsed below {100 * COLLAPSED_SPREAD:.0f}%) "
                f"since step {since}{err_text}")
        if stalled:
            return Symptom(COLLAPSED, since, [fact], span=int(spread.steps[-1]) - since)
        return None  # the error is still falling: a network on its way out of a small start

    high_error = err_level is None or err_level >= AT_RISK_ERROR
    if high_error and still_learning(run, AT_RISK_ERROR):
        return None  # still learning: the spread is growing back, not draining
    since = m.since_step(spread, spread.values <= AT_RISK_SPREAD)
    if level <= AT_RISK_SPREAD and high_error and held(since):
        return Symptom(AT_RISK, since, [
            f"outputs keep only {m.fmt_num(100 * level)}% of the targets' variance since step "
            f"{since}{err_text}"
        ], span=int(spread.steps[-1]) - since)
    peak_index = int(np.argmax(spread.values))
    peak = float(spread.values[peak_index])
    since = int(spread.steps[peak_index])
    if level <= 0.5 * peak and level <= 2 * AT_RISK_SPREAD and high_error and held(since):
        return Symptom(AT_RISK, since, [
            f"output spread is draining: {m.fmt_num(100 * peak)}% of the targets' variance at "
            f"step {since}, {m.fmt_num(100 * level)}% now{err_text}"
        ], span=int(spread.steps[-1]) - since)
    return None


def _worse_than_mean(run: RunData) -> Symptom | None:
    if outputs_look_like_logits(run):
        return None
    error = run.signal(fmt.RELATIVE_ERROR)
    if error is None or len(error) < m.MIN_VERDICT_POINTS:
        return None
    error = m.finite(error)
    level = m.median(m.tail(error))
    if level is None or level <= 1.5:
        return None
    since = m.since_step(error, error.values > 1.5)
    if since is None or int(error.steps[-1]) - since < MIN_SPAN or still_learning(run, 1.5):
        return None
    return Symptom(AT_RISK, since, [
        f"reconstruction error is {m.fmt_num(level)} times that of predicting the batch mean "
        f"since step {since}"
    ], span=int(error.steps[-1]) - since)


def token_terms(run: RunData) -> str | None:
    """A token model in its own terms: cross-entropy against the token frequencies'
    entropy (what ignoring the input scores) and accuracy against the most common token."""
    ce = m.tail_median(run, fmt.TOKEN_CROSS_ENTROPY)
    unigram = m.tail_median(run, fmt.TOKEN_UNIGRAM_ENTROPY)
    accuracy = m.tail_median(run, fmt.TOKEN_ACCURACY)
    majority = m.tail_median(run, fmt.TOKEN_MAJORITY_ACCURACY)
    if ce is None or unigram is None:
        return None
    text = (f"per-token cross-entropy {m.fmt_num(ce)} nats against {m.fmt_num(unigram)} for "
            "predicting token frequencies alone")
    if accuracy is not None and majority is not None:
        text += (f"; accuracy {m.fmt_num(100 * accuracy)}% against {m.fmt_num(100 * majority)}%"
                 " for always the most common token")
    return text + (" (for tokens, the variance kept is the information predictions carry "
                   "about the input, and the relative error the cross-entropy, each against "
                   "the entropy of each position's tokens)")


def measure_symptom(run: RunData) -> Symptom:
    """The worst symptom the run shows, or HEALTHY with what was measured."""
    tokens = token_terms(run)
    symptom = _worst_symptom(run)
    if tokens is not None:
        symptom.facts.append(tokens)
    return symptom


def _worst_symptom(run: RunData) -> Symptom:
    for check in (_nonfinite, _duplicate_inputs, _spread, _worse_than_mean):
        found = check(run)
        if found is not None:
            return found
    symptom = Symptom()
    level = m.tail_median(run, fmt.OUTPUT_VARIANCE_RATIO)
    error = m.tail_median(run, fmt.RELATIVE_ERROR)
    if level is not None:
        symptom.facts.append(
            f"outputs keep {m.fmt_num(100 * level)}% of the targets' variance"
            + ("" if error is None else f", relative error {m.fmt_num(error)} (1 = mean)")
        )
    elif error is None:
        symptom.notes.append(NOT_MEASURED)
    return symptom


NOT_MEASURED = (
    "the outputs were not measured (neither their spread nor their error was logged; when "
    "the output probe switched itself off, the training console said why): this verdict "
    "cannot say whether they collapsed"
)
