"""How a VAE's loss weighs reconstruction against KL, in the user's own reductions.

The most common cause of posterior collapse in public threads is a reconstruction term
averaged over pixels or features next to a KL summed over latent dimensions: the KL then
counts as many times more than in the ELBO as there are output values. The SDK reads
both weights from the gradients on the outputs (``aelog.probes.loss_terms``); this names
the reductions they imply and the scaling that matches them.
"""

from __future__ import annotations

import math

import numpy as np

from aelog.diagnosis import measures as m
from aelog.diagnosis import model_info as info
from aelog.logfile import format as fmt
from aelog.logfile.run_data import RunData

GOOD_FIT = 0.9
"""cosine above which a gradient is explained by the term's derivative alone."""
CLOSE = 1.5
"""a weight within this factor of 1 or 1/n reads as "summed" or "averaged"."""
OVERWEIGHTED = 4.0
"""KL weight per dimension over reconstruction weight per value above which the KL
counts several times what the ELBO gives it."""


def _weight(run: RunData, weight: str, fit: str) -> float | None:
    values, fits = run.signal(weight), run.signal(fit)
    if values is None or fits is None:
        return None
    fitted = dict(zip(fits.steps.tolist(), fits.values.tolist(), strict=True))
    good = [v for s, v in zip(values.steps.tolist(), values.values.tolist(), strict=True)
            if fitted.get(s, 0.0) >= GOOD_FIT and np.isfinite(v) and v > 0]
    return float(np.median(good)) if len(good) >= m.MIN_VERDICT_POINTS else None


def _near(value: float, reference: float) -> bool:
    return abs(math.log(value / reference)) <= math.log(CLOSE)


def _reduction(value: float, count: int | None, what: str, each: str
               ) -> tuple[str, str | None]:
    """(words, "sum" | "mean" | None) for a term's per-sample weight on each of its values."""
    if _near(value, 1.0):
        return f"summed over {count} {what}" if count else f"summed over its {what}", "sum"
    if count and count > 1 and _near(value, 1.0 / count):
        return f"averaged over the {count} {what}", "mean"
    return f"weighted {m.fmt_num(value)} per {each}", None


def loss_balance(run: RunData) -> tuple[list[str], str | None]:
    """Facts on the two terms' reductions and their ratio, and a fix when the KL is
    over-weighted; nothing when either weight could not be read cleanly."""
    recon = _weight(run, fmt.RECON_TERM_WEIGHT, fmt.RECON_TERM_FIT)
    kl = _weight(run, fmt.KL_TERM_WEIGHT, fmt.KL_TERM_FIT)
    if recon is None or kl is None:
        return [], None
    n, k = info.values_per_sample(run), info.latent_size(run)
    values = "positions" if info.token_classes(run) else "output values"
    recon_words, recon_kind = _reduction(recon, n, values, values.split()[-1].rstrip("s"))
    kl_words, kl_kind = _reduction(kl, k, "latent dimensions", "dimension")
    ratio = kl / recon
    facts = [f"the loss's reconstruction term is {recon_words} and its KL {kl_words} (read "
             f"from the gradients): the KL weighs {m.fmt_num(ratio)}x the reconstruction "
             "(per latent dimension against per output value), 1x when both are summed per "
             "sample as in the ELBO"]
    if ratio < OVERWEIGHTED:
        return facts, None
    if recon_kind == "mean" and kl_kind != "mean" and n:
        fix = (f"sum the reconstruction over the {n} {values} of a sample instead of "
               "averaging it (e.g. reduction='sum', then divide by the batch size), or "
               f"divide the KL by {n}; then add KL warm-up or free bits if it still collapses")
    else:
        fix = (f"lower the KL's weight (it counts {m.fmt_num(ratio)}x the ELBO's), anneal it "
               "from 0 to 1, or use free bits")
    return facts, fix
