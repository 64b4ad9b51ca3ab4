"""The healthy band shaded behind each symptom chart.

Display guides only: the verdict is always the engine's. Where the engine has a threshold
for the same signal the band uses it, so the chart and the card agree.
"""

from __future__ import annotations

from aelog.diagnosis.symptom import AT_RISK_ERROR, AT_RISK_SPREAD, COLLAPSED_SPREAD
from aelog.logfile import format as fmt
from aelog.logfile.run_data import RunData

CODE_RANK_HEALTHY_SHARE = 0.5
"""a code using at least half of its dimensions (effective rank / code size) looks healthy."""


def healthy_bands(run: RunData) -> dict[str, dict]:
    """``{signal: {low, high, label}}``; ``None`` bounds are open."""
    bands = {
        fmt.OUTPUT_VARIANCE_RATIO: {
            "low": AT_RISK_SPREAD,
            "high": None,
            "label": f"healthy: outputs keep > {AT_RISK_SPREAD:g} of the targets' variance "
            f"(collapsed below {COLLAPSED_SPREAD:g})",
        },
        fmt.RELATIVE_ERROR: {
            "low": 0.0,
            "high": AT_RISK_ERROR,
            "label": f"healthy: error below {AT_RISK_ERROR:g} of the batch mean's",
        },
    }
    latent = _latent_size(run)
    if latent:
        bands[fmt.CODE_EFFECTIVE_RANK] = {
            "low": CODE_RANK_HEALTHY_SHARE * latent,
            "high": float(latent),
            "label": f"healthy: the code uses at least {CODE_RANK_HEALTHY_SHARE:.0%} "
            f"of its {latent} dimensions",
        }
    return bands


def _latent_size(run: RunData) -> int | None:
    for source in (run.metadata.get("config"), run.metadata.get("model")):
        if isinstance(source, dict):
            value = source.get("latent_size")
            if (isinstance(value, (int, float)) and not isinstance(value, bool)
                    and 0 < value < float("inf")):  # NaN fails both comparisons
                return int(value)
    return None
