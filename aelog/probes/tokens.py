"""Token reconstructions: a score per class for every position, against integer targets.

A text or sequence autoencoder outputs logits over a vocabulary (or over classes per pixel)
and is trained with cross-entropy against integer tokens. Its outputs are read as
probability distributions, and the two headline signals keep their meaning in nats: the
relative error is the cross-entropy against the entropy of each position's tokens in the
batch (1 = no better than ignoring the input), and the variance ratio is how much the
predictions vary across inputs (their information about the input) against that same
entropy. Beside them: cross-entropy against the unigram baseline, and accuracy against
always answering the most common token.

No one-hot tensor is built: a vocabulary of 50,000 over 512 positions would not fit.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from aelog.logfile import format as fmt

PROBABILITY_TOLERANCE = 1e-3
"""outputs in [0, 1] summing to 1 within this over the classes are probabilities already."""


@dataclass(frozen=True)
class TokenLayout:
    """Where the classes are in the output, and how the output lines up with the tokens."""

    class_dim: int
    """1 (``(B, V, T)``, the layout ``F.cross_entropy`` takes) or -1 (``(B, T, V)``)."""
    shifted: bool = False
    """the output is one position shorter: it predicts the next token (teacher forcing)."""
    flat: bool = False
    """the output is ``(B * T, V)`` for ``(B, T)`` tokens."""


def is_token_target(target: torch.Tensor) -> bool:
    return not target.is_floating_point() and not target.is_complex() \
        and target.dtype != torch.bool and target.dim() >= 1


def token_layout(output: torch.Tensor, target: torch.Tensor) -> TokenLayout | None:
    """The layout that reads ``output`` as scores over classes for ``target``'s tokens, or
    None when the output is not that (a model regressing integer-valued inputs, say)."""
    if not is_token_target(target) or not output.is_floating_point():
        return None
    out, tgt = tuple(output.shape), tuple(target.shape)
    if output.dim() == target.dim() + 1:
        if out[:-1] == tgt and out[-1] > 1:
            return TokenLayout(-1)
        if out[0] == tgt[0] and out[2:] == tgt[1:] and out[1] > 1:
            return TokenLayout(1)
        if target.dim() == 2 and out[:-1] == (tgt[0], tgt[1] - 1) and out[-1] > 1:
            return TokenLayout(-1, shifted=True)
        if target.dim() == 2 and out[0] == tgt[0] and out[2:] == (tgt[1] - 1,) and out[1] > 1:
            return TokenLayout(1, shifted=True)
    if output.dim() == 2 and target.dim() == 2 and out[0] == target.numel() and out[1] > 1:
        return TokenLayout(-1, flat=True)
    return None


def token_probabilities(output: torch.Tensor, target: torch.Tensor, layout: TokenLayout
                        ) -> tuple[torch.Tensor, torch.Tensor]:
    """Probabilities as ``(B, N, V)`` and tokens as ``(B, N)`` for N positions."""
    scores, tokens = arranged(output, target, layout)
    return _probabilities(scores), tokens


def arranged(output: torch.Tensor, target: torch.Tensor, layout: TokenLayout
             ) -> tuple[torch.Tensor, torch.Tensor]:
    """The output's values as ``(B, N, V)`` (float64) and tokens as ``(B, N)``."""
    scores = output.detach()
    if layout.flat:
        scores = scores.reshape(*target.shape, scores.shape[-1])
    elif layout.class_dim == 1:
        scores = scores.movedim(1, -1)
    tokens = target[:, 1:] if layout.shifted else target
    batch = tokens.shape[0]
    scores = scores.reshape(batch, -1, scores.shape[-1]).double()
    return scores, tokens.reshape(batch, -1).long()


def _probabilities(scores: torch.Tensor) -> torch.Tensor:
    """Softmax of logits (or of log-probabilities); probabilities pass as they are. Decided
    on the device: no host read in the middle of a logging step."""
    already = (torch.isfinite(scores).all() & (scores.min() >= 0) & (scores.max() <= 1)
               & ((scores.sum(-1) - 1).abs() <= PROBABILITY_TOLERANCE).all())
    return torch.where(already, scores, torch.softmax(scores, dim=-1))


def _position_entropy(tokens: torch.Tensor, valid: torch.Tensor, classes: int
                      ) -> torch.Tensor:
    """Sum over every target token of its position's entropy in the batch,
    ``sum_t n_t H_t = -sum_(t,v) c_tv log(c_tv / n_t)``, from the ``(position, token)``
    pairs present: no ``B x N x V`` one-hot is built."""
    positions = tokens.shape[1]
    index = torch.arange(positions, device=tokens.device).expand_as(tokens)
    pairs = (index * classes + tokens.clamp(0, classes - 1))[valid]
    keys, counts = torch.unique(pairs, return_counts=True)
    counts = counts.double()
    seen = valid.double().sum(0)[keys // classes]
    return -(counts * (counts / seen).log()).sum()


def token_sums(output: torch.Tensor, target: torch.Tensor, layout: TokenLayout
               ) -> dict[str, torch.Tensor]:
    """Cross-entropy, the targets' entropy and the predictions' information, each summed
    over the batch's tokens, with accuracy and the Brier error; every value a 0-d tensor
    (no host read here).

    ``information`` is ``sum_(b,t) KL(p_bt || mean_b p_bt)``: how far each prediction is
    from the batch's average prediction at that position, the mutual information between
    input and prediction. It is 0 when every input gets the same answer and equals
    ``entropy`` when each prediction is the one-hot target. Positions whose token is not a
    class (``-100``, the usual ``ignore_index``) are left out, as the loss leaves them out."""
    probs, tokens = token_probabilities(output, target, layout)
    classes = probs.shape[-1]
    valid = (tokens >= 0) & (tokens < classes)
    weight = valid.double()
    count = weight.sum().clamp_min(1)
    safe = tokens.clamp(0, classes - 1)
    picked = probs.gather(-1, safe.unsqueeze(-1)).squeeze(-1)
    log_probs = probs.clamp_min(1e-12).log()
    weighted = probs * weight.unsqueeze(-1)
    mean = weighted.sum(0) / weight.sum(0).clamp_min(1).unsqueeze(-1)
    information = (weighted * (log_probs - mean.clamp_min(1e-12).log())).sum()
    unigram = torch.bincount(safe[valid], minlength=classes).double() / count
    seen = unigram[unigram > 0]
    return {
        "cross_entropy": -(picked.clamp_min(1e-12).log() * weight).sum(),
        "entropy": _position_entropy(tokens, valid, classes),
        "information": information,
        "brier": ((probs.pow(2).sum(-1) - 2 * picked + 1) * weight).sum(),
        "unigram_entropy": -(seen * seen.log()).sum(),
        "accuracy": ((probs.argmax(-1) == tokens).double() * weight).sum() / count,
        "majority_accuracy": unigram.max(),
        "tokens": count,
        "nonfinite": (~torch.isfinite(output.detach())).float().mean(),
    }


def token_symptom_stats(output: torch.Tensor, target: torch.Tensor, layout: TokenLayout
                        ) -> dict[str, torch.Tensor]:
    """The symptom signals of one token batch, under the same names as for vectors: the
    relative error is cross-entropy over the entropy of each position's tokens (1 = no
    better than predicting each position's token frequencies, as 1 is predicting the mean
    for vectors), the variance ratio is the information the predictions carry about the
    input over that entropy (0 = the same answer for every input)."""
    sums = token_sums(output, target, layout)
    entropy = sums["entropy"].clamp_min(torch.finfo(torch.float64).tiny)
    return {
        fmt.RELATIVE_ERROR: sums["cross_entropy"] / entropy,
        fmt.OUTPUT_VARIANCE_RATIO: sums["information"] / entropy,
        fmt.RECON_MSE: sums["brier"] / sums["tokens"],
        fmt.NONFINITE_OUTPUT_FRACTION: sums["nonfinite"],
        fmt.TOKEN_CROSS_ENTROPY: sums["cross_entropy"] / sums["tokens"],
        fmt.TOKEN_UNIGRAM_ENTROPY: sums["unigram_entropy"],
        fmt.TOKEN_ACCURACY: sums["accuracy"],
        fmt.TOKEN_MAJORITY_ACCURACY: sums["majority_accuracy"],
    }


def token_validation_sums(output: torch.Tensor, target: torch.Tensor, layout: TokenLayout
                          ) -> torch.Tensor:
    """(cross-entropy, entropy, information) of one eval batch: summed over the eval
    batches, their ratios are the pass's relative error and variance ratio, as
    :func:`aelog.probes.symptom.validation_sums` gives them for vectors."""
    sums = token_sums(output, target, layout)
    return torch.stack([sums["cross_entropy"], sums["entropy"], sums["information"]])


def token_reconstruction_weight(gradient: torch.Tensor, output: torch.Tensor,
                                target: torch.Tensor, layout: TokenLayout
                                ) -> dict[str, torch.Tensor]:
    """Cross-entropy's weight on each position, times the batch size: the gradient's
    projection on ``softmax(output) - one_hot(target)``, the derivative of cross-entropy
    over the class dimension (any reduction). Cross-entropy is the only candidate loss
    here, so its fit is also the loss-gradient alignment."""
    probs, tokens = token_probabilities(output, target, layout)
    grad, _ = arranged(gradient, target, layout)
    classes = probs.shape[-1]
    valid = ((tokens >= 0) & (tokens < classes)).unsqueeze(-1).double()
    one_hot = torch.zeros_like(probs).scatter_(
        -1, tokens.clamp(0, classes - 1).unsqueeze(-1), 1.0)
    derivative = (probs - one_hot) * valid
    inner = (grad * derivative).sum()
    square = derivative.pow(2).sum().clamp_min(torch.finfo(torch.float64).tiny)
    cosine = inner / (grad.norm() * square.sqrt()).clamp_min(torch.finfo(torch.float64).tiny)
    return {fmt.RECON_TERM_WEIGHT: inner / square * probs.shape[0], fmt.RECON_TERM_FIT: cosine,
            fmt.LOSS_GRADIENT_ALIGNMENT: cosine}
