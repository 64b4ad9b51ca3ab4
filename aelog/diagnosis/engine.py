"""One run in, one Diagnosis out: measure the symptom, run every cause, rank them.

Pure numpy and deterministic, cheap enough for the SDK to call online every few logging
steps. Never raises on odd data: a cause that fails is reported as a note.
"""

from __future__ import annotations

from aelog.diagnosis import measures as m
from aelog.diagnosis.causes import all_causes
from aelog.diagnosis.causes.base import Cause
from aelog.diagnosis.context import describe_data_limits
from aelog.diagnosis.nonfinite import INPUTS_FIX, NonFiniteOrigin, nonfinite_origin
from aelog.diagnosis.outside import OUTSIDE, loss_misalignment, outside_note, target_differs
from aelog.diagnosis.symptom import (
    AT_RISK_ERROR,
    AT_RISK_SPREAD,
    UNEXPLAINED_SPAN,
    measure_symptom,
    nonfinite_now,
)
from aelog.diagnosis.types import AT_RISK, COLLAPSED, HEALTHY, CauseFinding, Diagnosis
from aelog.logfile import format as fmt
from aelog.logfile.run_data import RunData

CONFIDENCE_FLOOR = 0.3
"""causes weaker than this are not reported: they would be guesses."""
CONSEQUENCE_DISCOUNT = 0.6
"""a cause explained by a stronger root cause keeps this share of its confidence."""
MIN_LOGGED_POINTS = 3

_CAUSES: list[Cause] | None = None


def _causes() -> list[Cause]:
    global _CAUSES
    if _CAUSES is None:
        _CAUSES = all_causes()
    return _CAUSES


def load_causes() -> int:
    """Import every cause module now (tens of milliseconds), not in the first diagnosis:
    the SDK calls it at ``watch()`` so that no training step pays for it. Returns their count."""
    return len(_causes())


def _rank(findings: list[CauseFinding], causes: dict[str, Cause]) -> list[CauseFinding]:
    held = {f.id: f for f in findings}
    for finding in findings:
        roots = [r for r in causes[finding.id].consequence_of if r in held]
        roots = [r for r in roots if held[r].confidence >= CONFIDENCE_FLOOR]
        if roots:
            finding.confidence *= CONSEQUENCE_DISCOUNT
            finding.evidence.append(f"likely a consequence of {', '.join(roots)}")
    kept = [f for f in findings if f.confidence >= CONFIDENCE_FLOOR]
    return sorted(kept, key=lambda f: (-f.confidence, f.id))


VARIED_OUTPUTS = 0.2
"""outputs keeping this share of the targets' variance or more are not "identical": a run
whose only finding is its narrow code is then healthy, with a note."""


def _bottleneck_limited(run: RunData, causes: list[CauseFinding]) -> bool:
    """The only finding is a code narrower than the data needs, and the outputs vary: the
    network does what k dimensions allow (people choose a 2-d code to plot it)."""
    if [c.id for c in causes] != ["latent_too_small"]:
        return False
    spread = m.tail_median(run, fmt.OUTPUT_VARIANCE_RATIO)
    return spread is not None and spread >= VARIED_OUTPUTS


def _end_not_measured(run: RunData) -> list[str]:
    """A closed run whose last measurement came well before its end (an older aelog, or a
    loop whose model was never called to replay): the verdict is about that step."""
    trained, last = run.trained, run.last_step
    if not trained or "final_step" in trained or last is None:
        return []
    steps = int(trained["steps"])
    if last >= 0.95 * steps:
        return []
    return [f"the run trained {steps} steps but was last measured at step {last}: this "
            "verdict is about that step, not how the run ended"]


def _ended_too_short(run: RunData) -> bool:
    """Closed with outputs near the mean, before any verdict on them could hold."""
    if run.trained is None or m.logged_steps(run) >= UNEXPLAINED_SPAN:
        return False
    spread = m.tail_median(run, fmt.OUTPUT_VARIANCE_RATIO)
    error = m.tail_median(run, fmt.RELATIVE_ERROR)
    return (spread is not None and spread < AT_RISK_SPREAD
            and (error is None or error > AT_RISK_ERROR))


def _too_short(run: RunData) -> str:
    trained = run.trained or {}
    steps = int(trained.get("steps") or m.logged_steps(run))
    return (f"too short to judge: the run ended after {steps} steps; outputs near the "
            f"mean count as collapse only after {UNEXPLAINED_SPAN} steps with no cause in "
            "sight. Train longer to tell a slow start from a collapse.")


def _blame_the_inputs(diagnosis: Diagnosis, origin: NonFiniteOrigin) -> None:
    """NaN/Inf that came in with the data is no training cause: what went wrong with the
    weights from then on is its consequence. The 15 causes do not name it; say so."""
    kept = [c for c in diagnosis.causes
            if c.since_step is not None and c.since_step < origin.first_step]
    dropped = [c.id for c in diagnosis.causes if c not in kept]
    diagnosis.causes = kept
    diagnosis.notes[:] = [n for n in diagnosis.notes if not n.startswith("relative error")]
    text = (f"{OUTSIDE}: the training inputs held NaN/Inf {origin.when()}, "
            "and the model's values are NaN/Inf from then on")
    if dropped:
        text += f" (ruled out as consequences: {', '.join(dropped)})"
    diagnosis.notes.append(text + ". Fix: " + INPUTS_FIX)


def _explain_outside(run: RunData, diagnosis: Diagnosis, checked: list[str],
                     weak: list[CauseFinding]) -> None:
    """A loss that does not compare the output with its target is the root of whatever
    else went wrong; with no cause held, say what was ruled out and what to check next."""
    misaligned = loss_misalignment(run)
    if misaligned is not None:
        dropped = [c.id for c in diagnosis.causes]
        diagnosis.causes = []
        if dropped:
            misaligned += f" Ruled out as consequences: {', '.join(dropped)}."
        diagnosis.notes.append(misaligned)
        return
    too_short = any(n.startswith("too short to judge") for n in diagnosis.notes)
    if not diagnosis.causes and not too_short:
        diagnosis.notes.append(outside_note(checked, weak))


def diagnose_run(run: RunData) -> Diagnosis:
    """Status (healthy / at_risk / collapsed, since when) and ranked causes for one run."""
    diagnosis = Diagnosis(run=run.name, status=HEALTHY, tags=run.tags)
    diagnosis.notes.extend(run.problems)
    version = run.metadata.get("format_version")
    if isinstance(version, int) and version > fmt.FORMAT_VERSION:
        diagnosis.notes.append(
            f"written by a newer aelog (format {version}, this reads {fmt.FORMAT_VERSION}): "
            "signals it does not know were ignored"
        )
    points = max((len(s) for s in run.signals.values()), default=0)
    if points == 0:
        diagnosis.notes.append("not enough data: no signals logged yet")
        return diagnosis
    never_stepped = run.trained is not None and int(run.trained.get("steps") or 0) == 0
    if never_stepped:
        diagnosis.notes.append("the optimizer never took a step: the loop skipped every "
                               "step (a NaN/Inf loss?), so nothing trained")
    if points < MIN_LOGGED_POINTS and not nonfinite_now(run):
        diagnosis.notes.append(
            f"not enough data: {points} logged step(s), need {MIN_LOGGED_POINTS} for a verdict"
        )
        if run.trained is not None:  # the run is over: it will never have enough
            diagnosis.status = AT_RISK
            diagnosis.notes.append(_too_short(run))
        return diagnosis

    symptom = measure_symptom(run)
    diagnosis.symptom.extend(symptom.facts)
    diagnosis.notes.extend(symptom.notes)
    diagnosis.notes.extend(describe_data_limits(run))
    differs = target_differs(run)
    if differs is not None:
        diagnosis.notes.append(differs)
    diagnosis.notes.extend(_end_not_measured(run))

    causes = {c.id: c for c in _causes()}
    findings, unchecked, checked = [], [], []
    for cause in causes.values():
        if not cause.applies(run):
            continue
        if len(cause.missing(run)) == len(cause.needs) and cause.needs:
            unchecked.append(cause.id)
            continue
        try:
            finding = cause.assess(run)
        except Exception as error:  # noqa: BLE001 - one odd series must not hide the rest
            diagnosis.notes.append(f"{cause.id} not checked: {type(error).__name__}: {error}")
            continue
        checked.append(cause.id)
        if finding is not None:
            findings.append(finding)
    diagnosis.causes = _rank(findings, causes)
    weak = sorted((f for f in findings if f.confidence < CONFIDENCE_FLOOR),
                  key=lambda f: (-f.confidence, f.id))
    origin = nonfinite_origin(run)
    if origin is not None and origin.from_inputs and symptom.status == COLLAPSED:
        _blame_the_inputs(diagnosis, origin)
    if unchecked:
        listed = ", ".join(unchecked)
        diagnosis.notes.append(f"not checked, their signals were not logged (no VAE, no "
                               f"tanh/sigmoid, no validation...): {listed}")

    status, since = symptom.status, symptom.since_step
    if status == HEALTHY and _bottleneck_limited(run, diagnosis.causes):
        finding = diagnosis.causes.pop()
        diagnosis.notes.append(
            "bottleneck-limited: a wider code would reconstruct better ("
            + "; ".join(finding.evidence) + "). If the code is narrow on purpose (to plot "
            "it), this is as good as it gets; otherwise: " + finding.fix)
    unexplained = not diagnosis.causes and symptom.span is not None
    if status != HEALTHY and unexplained and symptom.span < UNEXPLAINED_SPAN:
        if run.trained is not None:  # ended that way: too short to judge, not healthy
            status = AT_RISK
            diagnosis.notes.append(_too_short(run))
        else:
            diagnosis.notes.append(
                f"outputs near the mean for {symptom.span} steps with no cause in sight: "
                f"common early in training, flagged if it lasts {UNEXPLAINED_SPAN} steps"
            )
            status, since = HEALTHY, None
    if status == HEALTHY and not diagnosis.causes and _ended_too_short(run):
        status, since = AT_RISK, None
        diagnosis.notes.append(_too_short(run))
    if status == HEALTHY and diagnosis.causes:
        status = AT_RISK
        steps = [c.since_step for c in diagnosis.causes if c.since_step is not None]
        since = min(steps) if steps else None
    diagnosis.status, diagnosis.since_step = status, since
    blamed_inputs = origin is not None and origin.from_inputs and symptom.status == COLLAPSED
    if status != HEALTHY and not blamed_inputs:
        _explain_outside(run, diagnosis, checked, weak)
    if status != HEALTHY and m.logged_steps(run) < 20 and run.trained is None:
        diagnosis.notes.append("early in training: this verdict may change")
    return diagnosis
