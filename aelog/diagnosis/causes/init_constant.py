"""init_constant: constant or symmetric weights keep units identical, so the code is
effectively rank 1. Every unit of a layer gets the same gradient, so gradient descent
cannot tell them apart; only biases or noise break the tie, slowly.
"""

from __future__ import annotations

from aelog.diagnosis import measures as m
from aelog.diagnosis import model_info as info
from aelog.diagnosis.causes.base import Cause, Evidence
from aelog.diagnosis.outcome import shortfall
from aelog.logfile import format as fmt
from aelog.logfile.run_data import RunData

IDENTICAL = 0.999
"""|cosine| between weight rows above which two units are copies."""


def _score(run: RunData) -> Evidence | None:
    facts, init_strength = [], 0.0
    constant_layers, shares = [], []
    for layer in info.layers(run):
        share = info.number(layer.get("identical_rows_fraction"))
        if share is not None and share >= 0.5:
            constant_layers.append(str(layer.get("name")))
            shares.append(share)
            init_strength = max(init_strength, m.ramp(share, 0.5, 0.9))
    if constant_layers:
        listed = ", ".join(constant_layers[:6]) + (" ..." if len(constant_layers) > 6 else "")
        share = "all" if min(shares) >= 0.999 else f"at least {m.fmt_num(100 * min(shares))}% of"
        facts.append(f"{share} the weight rows identical at initialisation in "
                     f"{len(constant_layers)} layer(s): {listed}")
    # Without the init record, fall back on logged row similarity; not when the record
    # exists: rows of a layer fed by 1-2 inputs are parallel without being copies.
    early = {} if info.layers(run) else m.layer_head_medians(run, fmt.LAYER_UNIT_SIMILARITY)
    copies = {name: v for name, v in early.items() if v >= IDENTICAL}
    if copies and not constant_layers:
        init_strength = max(init_strength, m.ramp(max(copies.values()), IDENTICAL, 0.99999))
        for name, value in copies.items():
            facts.append(f"layer {name}: units are copies at the start (median max cosine "
                         f"{value:.4f})")
            constant_layers.append(name)
    if init_strength <= 0:
        return None

    persist = 0.0
    similarity = m.tail_median(run, fmt.CODE_UNIT_SIMILARITY)
    rank = m.tail_median(run, fmt.CODE_EFFECTIVE_RANK)
    k = info.latent_size(run)
    if similarity is not None:
        persist = max(persist, m.ramp(similarity, 0.9, 0.999))
    if rank is not None:
        persist = max(persist, m.ramp(rank, 3.0, 1.2))
        width = f" of {k}" if k else ""
        facts.append(f"code effective rank {m.fmt_num(rank)}{width} at the end")
    identical = m.tail_median(run, fmt.CODE_IDENTICAL_FRACTION)
    if identical is not None and k and identical > 0:
        facts.append(f"bottleneck units: {round(identical * k)} of {k} duplicate another "
                     f"(|cosine| > 0.999) at the end")
    elif similarity is not None:
        facts.append(f"bottleneck units: median max |cosine| with another unit {similarity:.4f}")
    late = m.layer_tail_medians(run, fmt.LAYER_UNIT_SIMILARITY, constant_layers)
    if late:
        persist = max(persist, m.ramp(max(late.values()), 0.9, IDENTICAL))
    if similarity is None and rank is None and not late:
        persist = 0.5
    if persist < 0.5:
        facts.append("the symmetry has been partly broken since (by biases or noise)")
    names = ", ".join(constant_layers[:4])
    fix = (f"initialise {names} randomly: remove the fill_/constant_ call and keep PyTorch's "
           "default (nn.init.kaiming_uniform_(w, a=5**0.5)) or use nn.init.xavier_uniform_(w)")
    # still a defect when biases broke the tie if the run is doing badly: it slowed it down
    strength = init_strength * max(0.25 + 0.75 * persist, 0.45 * shortfall(run))
    return Evidence(strength, 0, facts, fix)


CAUSE = Cause(
    id="init_constant",
    needs=(fmt.LAYER_UNIT_SIMILARITY, fmt.CODE_UNIT_SIMILARITY, fmt.CODE_EFFECTIVE_RANK),
    fix="initialise with nn.init.kaiming_uniform_ / nn.init.xavier_uniform_ and remove fill_",
    score=_score,
)
