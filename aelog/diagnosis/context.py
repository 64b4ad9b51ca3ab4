"""Facts that qualify a verdict without being a cause: how much structure the data has,
whether the error is still falling. They keep "under-trained on noise" from being
reported as a collapse (the article's examples 1 and 3 are exactly that).
"""

from __future__ import annotations

from aelog.diagnosis import measures as m
from aelog.diagnosis import model_info as info
from aelog.logfile import format as fmt
from aelog.logfile.run_data import RunData

NO_STRUCTURE = 0.7
"""data effective rank above 70% of the input size: no low-dimensional structure."""
LOGIT_LIMIT = 50.0
"""logits of a trained model rarely exceed this; diverging outputs do."""
STILL_FALLING = 0.05
"""error fell by more than 5% over the second half of the run: still training."""
PACE_HORIZON = 2
"""a run is "still learning" when, at the pace of its second half, the error would reach
the level judged healthy before the run has trained twice as long: two more halves."""


def error_still_falling(run: RunData) -> tuple[bool, float | None, float | None]:
    """(falling?, error at the start of the last quarter, error at the end)."""
    error = run.signal(fmt.RELATIVE_ERROR)
    if error is None:
        return False, None, None
    error = m.finite(error)
    last = m.tail(error, 0.5)
    if len(last) < 2:
        return False, None, None
    start, end = float(last.values[0]), m.middle(last.values[-2:])
    # falling towards 1 from above is learning the mean, not the data
    return end < (1 - STILL_FALLING) * start and end < 0.9, start, end


def still_learning(run: RunData, healthy_level: float) -> bool:
    """The error falls fast enough to reach ``healthy_level`` at its current pace within
    two more halves of the run: a slow start on its way out, not a verdict yet. A slower
    fall leaves the run where it is (0.86 -> 0.79 over a thousand steps, outputs keeping
    7% of the variance, would still be at 0.68 after twice as long)."""
    falling, start, end = error_still_falling(run)
    if not falling or start is None or end is None or start <= 0:
        return False
    return end * (end / start) ** PACE_HORIZON < healthy_level


def describe_data_limits(run: RunData) -> list[str]:
    notes = []
    data_rank = m.tail_median(run, fmt.DATA_EFFECTIVE_RANK)
    size = info.input_size(run)
    best = m.tail_median(run, fmt.RANK_K_ERROR)
    k = info.latent_size(run)
    if data_rank is not None and size and data_rank >= NO_STRUCTURE * size:
        text = (f"the data has no low-dimensional structure (effective rank "
                f"{m.fmt_num(data_rank)} of {size})")
        if best is not None and k:
            text += (f": the best rank-{k} linear code still loses "
                     f"{m.fmt_num(100 * best)}% of the variance")
        notes.append(text)
    if outputs_look_like_logits(run):
        notes.append("outputs look like logits (targets in [0, 1], outputs far outside it): "
                     "error-based checks were skipped; return sigmoid(logits) or a dict "
                     "{'logits': ...} so aelog can compare probabilities")
    falling, start, end = error_still_falling(run)
    if falling:
        notes.append(
            f"relative error still falling at the end ({m.fmt_num(start)} -> {m.fmt_num(end)} "
            "over the second half): under-trained rather than stuck"
        )
    return notes


def outputs_look_like_logits(run: RunData) -> bool:
    """Targets in [0, 1], no output activation, outputs well outside [0, 1] but finite and
    moderate: a BCE-with-logits model. Errors measured on logits against probabilities
    are not reconstruction errors, so error-based checks must not read them as such."""
    if info.output_activation(run):
        return False
    low, high = m.tail_median(run, fmt.TARGET_MIN), m.tail_median(run, fmt.TARGET_MAX)
    out_low, out_high = m.tail_median(run, fmt.OUTPUT_MIN), m.tail_median(run, fmt.OUTPUT_MAX)
    if None in (low, high, out_low, out_high):
        return False
    in_unit = low >= 0 and high <= 1
    outside = out_low < -1 or out_high > 2
    moderate = max(abs(out_low), abs(out_high)) < LOGIT_LIMIT
    return in_unit and outside and moderate
