"""latent_too_large: a bottleneck so wide the network approximates the identity. A model
that learned the data's structure reconstructs data far better than random inputs; an
identity reconstructs both equally well (identity_ratio near 1).
"""

from __future__ import annotations

from aelog.diagnosis import measures as m
from aelog.diagnosis import model_info as info
from aelog.diagnosis.causes.base import Cause, Evidence
from aelog.logfile import format as fmt
from aelog.logfile.run_data import RunData

STRUCTURED = 0.6
"""data effective rank below 60% of the input size: there is structure to learn."""
WIDE_FROM, WIDE_AT = 0.9, 1.4
"""code size over the data's effective rank: from 0.9 the code may pass more than the
data's structure, from 1.4 it certainly can."""


def _score(run: RunData) -> Evidence | None:
    ratio = m.tail_median(run, fmt.IDENTITY_RATIO)
    error = m.tail_median(run, fmt.RELATIVE_ERROR)
    random_error = m.tail_median(run, fmt.RANDOM_INPUT_ERROR)
    if ratio is None or error is None:
        return None
    data_rank = m.tail_median(run, fmt.DATA_EFFECTIVE_RANK)
    size = info.input_size(run)
    k = info.latent_size(run)
    structure = 1.0
    if data_rank is not None and size:
        structure = m.ramp(data_rank / size, 0.7, STRUCTURED)
    # identity-like: noise passes the bottleneck (an error of 0.2 on random inputs means 80%
    # of an arbitrary input's variance gets through); the ratio alone when that is missing
    if random_error is not None:
        identity = m.ramp(random_error, 0.5, 0.2)
    else:
        identity = 0.7 * m.ramp(ratio, 3.0, 1.5)
    learned = m.ramp(error, 0.4, 0.15)
    # a code narrower than the data's effective rank is a bottleneck by definition: what
    # passes it is the data's own structure, however well matched random inputs follow
    wide = 1.0 if not (k and data_rank) else m.ramp(k / data_rank, WIDE_FROM, WIDE_AT)
    strength = identity * learned * structure * wide
    # a code as wide as the input forces no compression at all; the identity check above
    # confirms it, but in a short run the network may not have got there yet
    size_ratio = k / size if k and size else 0.0
    as_wide = m.ramp(size_ratio, 0.75, 1.0) * m.ramp(error, 0.6, 0.3) * structure
    strength = max(strength, 0.6 * as_wide)
    if strength <= 0:
        return None
    facts = ["reconstructs random inputs almost as well as data: relative error "
             + (f"{m.fmt_num(random_error)} on random inputs, " if random_error else "")
             + f"{m.fmt_num(error)} on data ({m.fmt_num(ratio)}x)"]
    if data_rank is not None and k:
        facts.append(f"code size {k} against a data effective rank of {m.fmt_num(data_rank)}"
                     + (f" (input size {size})" if size else ""))
    if as_wide > 0:
        facts.append(f"the code ({k}) is {m.fmt_num(100 * size_ratio)}% of the input size "
                     f"({size}): nothing forces the network to compress")
    target = max(2, round(data_rank)) if data_rank else None
    size_hint = (f" to about {target} (latent_size={target})"
                 if target is not None and (not k or target < k) else "")
    fix = ("shrink the bottleneck" + size_hint + ", or make it a denoising autoencoder "
           "(x + 0.1 * torch.randn_like(x) as input)")
    series = run.signal(fmt.IDENTITY_RATIO)
    noise = run.signal(fmt.RANDOM_INPUT_ERROR)
    since = m.since_step(series, series.values <= 3.0)
    if noise is not None:
        late = m.since_step(noise, noise.values <= 0.5)
        since = late if since is None else min(since, late if late is not None else since)
    return Evidence(strength, since, facts, fix)


CAUSE = Cause(
    id="latent_too_large",
    needs=(fmt.IDENTITY_RATIO,),
    fix="shrink the bottleneck or add input noise (denoising AE)",
    score=_score,
)
