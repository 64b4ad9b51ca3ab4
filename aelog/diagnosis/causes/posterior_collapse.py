"""posterior_collapse: in a VAE the KL term pushes q(z|x) onto the prior; once the KL per
dimension is ~0 the code carries nothing and the decoder outputs the mean.
"""

from __future__ import annotations

from aelog.diagnosis import measures as m
from aelog.diagnosis import model_info as info
from aelog.diagnosis.causes.base import Cause, Evidence
from aelog.diagnosis.loss_balance import loss_balance
from aelog.diagnosis.outcome import shortfall
from aelog.logfile import format as fmt
from aelog.logfile.run_data import RunData

ACTIVE = 0.01
"""Burda et al. (2015): a dimension is active when Var_x(E[z|x]) > 0.01."""
CODE_INFORMATION = 1.0
"""nats (~1.4 bits) of total KL below which the code cannot carry much about the input."""
PERSIST_STEPS = 20
"""steps the KL must stay near zero: a healthy VAE's KL rises within a few steps."""
DEEP_KL = 0.01
"""nats in the largest dimension: no dimension tells inputs apart."""


def _persistence(run: RunData) -> int:
    """Steps the KL must stay low. Half of PERSIST_STEPS when even the largest dimension's
    KL has fallen tenfold from its peak to under DEEP_KL nats: a posterior being pushed
    onto the prior, not a fresh VAE whose KL has yet to rise (that one hovers, then grows)."""
    largest = run.signal(fmt.KL_MAX_DIM)
    if largest is None:
        return PERSIST_STEPS
    values = m.finite(largest).values
    if values.size and values[-1] <= DEEP_KL and values.max() >= 10 * values[-1]:
        return PERSIST_STEPS // 2
    return PERSIST_STEPS


def _score(run: RunData) -> Evidence | None:
    active = m.tail_median(run, fmt.ACTIVE_UNITS_FRACTION)
    kl = m.tail_median(run, fmt.KL_MAX_DIM)
    kl_mean = m.tail_median(run, fmt.KL_PER_DIM)
    if active is None and kl is None and kl_mean is None:
        return None
    facts, parts = [], []
    k = info.latent_size(run)
    if active is not None:
        count = f" ({round(active * k)} of {k})" if k else ""
        facts.append(f"{m.fmt_num(100 * active)}% of latent dimensions active{count} "
                     f"(Var_x(mu) > {ACTIVE})")
        parts.append(m.ramp(active, 0.25, 0.0))
    kl_value = kl if kl is not None else kl_mean
    if kl_value is not None:
        label = "largest KL of any dimension" if kl is not None else "KL per dimension"
        facts.append(f"{label} {m.fmt_num(kl_value)} nats")
        parts.append(m.log_ramp(kl_value, 0.1, 0.01))
    strength = sum(parts) / len(parts)
    if kl_mean is not None and k:
        # E_x[KL(q(z|x) || p(z))] bounds the information the code carries about x: under a
        # nat in all (less than two bits) the decoder cannot tell inputs apart, however many
        # dimensions pass the Var_x(mu) > 0.01 test (tiny mu spread can pass it)
        total = kl_mean * k
        facts.append(f"total KL {m.fmt_num(total)} nats: the code carries at most that much "
                     "information about the input")
        strength = max(strength, m.log_ramp(total, CODE_INFORMATION, 0.1 * CODE_INFORMATION))
    if strength <= 0:
        return None
    # a fresh VAE starts with inactive units and a small KL too: only a KL that stays
    # near zero for a while is a collapse
    series = run.signal(fmt.KL_MAX_DIM) or run.signal(fmt.KL_PER_DIM)
    series = series if series is not None else run.signal(fmt.ACTIVE_UNITS_FRACTION)
    since = m.since_step(series, series.values <= 0.1)  # nats, or share of active units
    if since is None or int(series.steps[-1]) - since < _persistence(run):
        return None
    facts.append(f"since step {since}")
    balance, balance_fix = loss_balance(run)
    facts.extend(balance)
    fix = balance_fix or (
        "anneal the KL weight from 0 to 1 over the first epochs (beta warm-up), use free bits "
        "(clamp each dimension's KL at >= 0.1 nats), or weaken the decoder")
    return Evidence(strength * (0.5 + 0.5 * shortfall(run)), since, facts, fix)


CAUSE = Cause(
    id="posterior_collapse",
    needs=(fmt.ACTIVE_UNITS_FRACTION, fmt.KL_MAX_DIM, fmt.KL_PER_DIM),
    fix="KL warm-up (beta from 0 to 1) or free bits",
    score=_score,
    # a KL that is 0 because the encoder never trained (tiny steps, or frozen) or was
    # decayed to the prior (weights pulled to 0 give mu = 0, logvar = 0), or because a
    # frozen decoder cannot read z, is that cause's doing
    consequence_of=("lr_too_high", "loss_mismatch", "lr_too_low", "over_regularized",
                    "frozen_parameters"),
    applies=lambda run: not run.metadata or info.is_vae(run),
)
