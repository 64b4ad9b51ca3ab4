"""latent_too_small: the bottleneck is too narrow for the data. The error sits at the best
any k-dimensional linear code reaches on the same batch, and that best is far above zero
because the data needs more dimensions than k.
"""

from __future__ import annotations

from aelog.diagnosis import measures as m
from aelog.diagnosis import model_info as info
from aelog.diagnosis.causes.base import Cause, Evidence
from aelog.diagnosis.context import NO_STRUCTURE, error_still_falling
from aelog.logfile import format as fmt
from aelog.logfile.run_data import RunData


def _score(run: RunData) -> Evidence | None:
    best = m.tail_median(run, fmt.RANK_K_ERROR)
    error = m.tail_median(run, fmt.RELATIVE_ERROR)
    if best is None or error is None or best <= 0:
        return None
    # a bound below ~30% is what noise in real data costs; above 60% the code is starved
    lost = m.ramp(best, 0.3, 0.6)
    if lost <= 0:
        return None
    at_bound = m.ramp(error / best, 1.6, 1.15)  # optimisation reached what k allows
    if error < best:  # a nonlinear code beat the linear bound: the bound is not binding
        at_bound = m.ramp(error / best, 0.5, 0.8)
    data_rank = m.tail_median(run, fmt.DATA_EFFECTIVE_RANK)
    k = info.latent_size(run)
    needs_more = 1.0
    if data_rank is not None and k:
        needs_more = m.ramp(data_rank / k, 1.2, 2.5)
    falling = error_still_falling(run)[0]
    if falling:  # not at the bound yet: still on its way down
        at_bound *= 0.5
    size = info.input_size(run)
    no_structure = bool(data_rank and size and data_rank >= NO_STRUCTURE * size)
    if no_structure:  # noise-like data: only an error right at the bound says anything
        at_bound = min(at_bound, m.ramp(error / best, 1.3, 1.05))
    strength = lost * at_bound * needs_more * (0.5 if no_structure else 1.0)
    if strength <= 0:
        return None
    width = f" {k}" if k else ""
    facts = [f"relative error {m.fmt_num(error)} sits at the best any rank-{k or 'k'} linear code "
             f"reaches on the same batch ({m.fmt_num(best)})"]
    if data_rank is not None:
        facts.append(f"the data's effective rank is {m.fmt_num(data_rank)}, code size{width}")
    if no_structure:
        facts.append("the data has no low-dimensional structure: only a code as wide as the "
                     "input reconstructs it")
    if falling:
        facts.append("the error is still falling")
    target = round(data_rank) if data_rank else None
    fix = ("widen the bottleneck" + (f" to about {target} (latent_size={target})" if target else "")
           + "; the error cannot fall below the bound otherwise")
    series = run.signal(fmt.RELATIVE_ERROR)
    bound = run.signal(fmt.RANK_K_ERROR)
    since = None
    if series is not None and bound is not None and len(bound):
        since = int(bound.steps[0])
    return Evidence(strength, since, facts, fix)


CAUSE = Cause(
    id="latent_too_small",
    needs=(fmt.RANK_K_ERROR,),
    fix="widen the bottleneck to about the data's effective rank",
    score=_score,
)
