"""Whether the model returns logits, read from what its loss does with them.

A model trained with ``BCEWithLogitsLoss`` returns logits, not a reconstruction: measured
as they are against targets in [0, 1], every error and spread is meaningless. A model
that names them (a ``logits`` key) says so; a plain tensor does not, but the gradient the
loss leaves on it does: ``sigmoid(logits) - target`` is what BCE with logits pulls on,
and ``aelog.probes.loss_terms`` finds which per-value loss fits the gradient.

The first logging step whose loss gradient is read decides, once, for the whole run; its
signals are then measured again on ``sigmoid(output)``. Until the answer is in, the
logging step's output is held (a reference, not a copy) to be measured again.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from aelog.logfile import format as fmt
from aelog.probes.loss_terms import BCE_ON_LOGITS
from aelog.sdk.outputs import ParsedOutput

CLEAR_FIT = 0.9
"""the best-fitting loss explains the gradient this well (cosine) or better: decided."""
TRIES = 5
"""logging steps without a clear reading before the outputs are taken as they are."""


@dataclass
class OutputSpace:
    logits: bool | None = None
    """None until decided."""
    tries: int = 0
    held: tuple[ParsedOutput, torch.Tensor, bool] | None = field(default=None, repr=False)
    """this logging step's output, target and slow flag, while undecided."""

    def apply(self, parsed: ParsedOutput | None) -> ParsedOutput | None:
        if parsed is not None and self.logits:
            parsed.from_logits = True
        return parsed

    def hold(self, parsed: ParsedOutput, target: torch.Tensor, slow: bool,
             has_activation: bool, tokens: bool) -> None:
        """Keep a logging step's output until its loss gradient is read. Outputs behind
        an activation of the model's own, named logits, or scores over token classes
        are what they say they are."""
        if self.logits is not None:
            return
        if has_activation or tokens or parsed.from_logits:
            self.logits = False
            return
        self.held = (ParsedOutput(parsed.reconstruction.detach()), target, slow)

    def decide(self, pending: dict[str, torch.Tensor]
               ) -> tuple[ParsedOutput, torch.Tensor, bool] | None:
        """Read this step's loss fit (one small host read, while undecided only). Returns
        the held output (marked as logits), target and slow flag when the output turns
        out to be logits: its signals are to be measured again."""
        held, self.held = self.held, None
        form, fit = pending.get(fmt.RECON_LOSS_FORM), pending.get(fmt.RECON_TERM_FIT)
        if self.logits is not None or held is None or form is None or fit is None:
            return None
        form_value, fit_value = torch.stack([form.float(), fit.float()]).tolist()
        if fit_value >= CLEAR_FIT:
            self.logits = int(form_value) == BCE_ON_LOGITS
        else:
            self.tries += 1
            if self.tries >= TRIES:
                self.logits = False
        if not self.logits:
            return None
        held[0].from_logits = True
        return held
