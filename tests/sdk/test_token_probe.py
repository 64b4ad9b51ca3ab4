"""Token reconstructions: the probe's numbers against a one-hot computation by hand, in
every layout a cross-entropy loop uses, and the loss-gradient alignment."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from aelog.logfile import format as fmt
from aelog.probes.loss_terms import reconstruction_weight
from aelog.probes.tokens import (
    TokenLayout,
    token_layout,
    token_reconstruction_weight,
    token_symptom_stats,
)

B, T, V = 16, 7, 5


def _tokens(seed: int = 0) -> torch.Tensor:
    return torch.randint(0, V, (B, T), generator=torch.Generator().manual_seed(seed))


def _logits(seed: int = 1) -> torch.Tensor:
    return torch.randn(B, T, V, generator=torch.Generator().manual_seed(seed)) * 2


def test_layouts_of_cross_entropy_loops():
    tokens = _tokens()
    assert token_layout(_logits(), tokens) == TokenLayout(-1)
    assert token_layout(_logits().permute(0, 2, 1), tokens) == TokenLayout(1)
    assert token_layout(_logits()[:, :-1], tokens) == TokenLayout(-1, shifted=True)
    assert token_layout(_logits().reshape(B * T, V), tokens) == TokenLayout(-1, flat=True)


@pytest.mark.parametrize("output, target", [
    (torch.randn(B, T), torch.randint(0, 9, (B, T))),  # a regression on integer values
    (torch.randn(B, T, V), torch.randn(B, T)),  # float targets
    (torch.randn(B, T, V), torch.randint(0, 2, (B, T)).bool()),  # a binary mask
    (torch.randn(B, 3, V), torch.randint(0, V, (B, T))),  # unrelated lengths
])
def test_what_is_not_a_token_reconstruction(output, target):
    assert token_layout(output, target) is None


def _by_hand(logits: torch.Tensor, tokens: torch.Tensor) -> tuple[float, float]:
    """(relative error, variance ratio) with one-hot targets and explicit loops."""
    probs = torch.softmax(logits.double(), -1)
    one_hot = F.one_hot(tokens, V).double()
    entropy = information = 0.0
    for t in range(tokens.shape[1]):
        frequencies = one_hot[:, t].mean(0)
        seen = frequencies[frequencies > 0]
        entropy += -float((seen * seen.log()).sum()) * tokens.shape[0]
        mean = probs[:, t].mean(0)
        information += float((probs[:, t] * (probs[:, t].log() - mean.log())).sum())
    cross_entropy = float(F.cross_entropy(logits.double().permute(0, 2, 1), tokens,
                                          reduction="sum"))
    return cross_entropy / entropy, information / entropy


def test_matches_a_computation_by_hand():
    tokens, logits = _tokens(), _logits()
    relative_error, spread = _by_hand(logits, tokens)
    stats = token_symptom_stats(logits, tokens, TokenLayout(-1))
    assert float(stats[fmt.RELATIVE_ERROR]) == pytest.approx(relative_error, rel=1e-9)
    assert float(stats[fmt.OUTPUT_VARIANCE_RATIO]) == pytest.approx(spread, rel=1e-9)
    assert float(stats[fmt.TOKEN_CROSS_ENTROPY]) == pytest.approx(
        float(F.cross_entropy(logits.permute(0, 2, 1), tokens)), rel=1e-5)
    assert float(stats[fmt.TOKEN_ACCURACY]) == pytest.approx(
        float((logits.argmax(-1) == tokens).float().mean()))


def test_every_layout_reads_the_same_numbers():
    tokens, logits = _tokens(), _logits()
    reference = token_symptom_stats(logits, tokens, TokenLayout(-1))
    for output in (logits.permute(0, 2, 1), logits.reshape(B * T, V)):
        stats = token_symptom_stats(output, tokens, token_layout(output, tokens))
        for name, value in reference.items():
            assert float(stats[name]) == pytest.approx(float(value), rel=1e-9), name
    probabilities = torch.softmax(logits, -1)  # a model ending in softmax
    stats = token_symptom_stats(probabilities, tokens, TokenLayout(-1))
    assert float(stats[fmt.RELATIVE_ERROR]) == pytest.approx(
        float(reference[fmt.RELATIVE_ERROR]), rel=1e-5)


def test_perfect_and_constant_predictions_are_the_two_ends():
    tokens = _tokens()
    perfect = F.one_hot(tokens, V).float() * 30
    stats = token_symptom_stats(perfect, tokens, TokenLayout(-1))
    assert float(stats[fmt.RELATIVE_ERROR]) == pytest.approx(0, abs=1e-9)
    assert float(stats[fmt.OUTPUT_VARIANCE_RATIO]) == pytest.approx(1, abs=1e-6)
    constant = torch.randn(1, T, V).expand(B, T, V)  # every input, the same answer
    stats = token_symptom_stats(constant, tokens, TokenLayout(-1))
    assert float(stats[fmt.OUTPUT_VARIANCE_RATIO]) == pytest.approx(0, abs=1e-9)
    assert float(stats[fmt.RELATIVE_ERROR]) >= 1


def test_ignored_positions_are_left_out_as_the_loss_leaves_them():
    tokens, logits = _tokens(), _logits()
    padded = tokens.clone()
    padded[:, -2:] = -100
    stats = token_symptom_stats(logits, padded, TokenLayout(-1))
    kept = token_symptom_stats(logits[:, :-2], tokens[:, :-2], TokenLayout(-1))
    for name, value in kept.items():
        assert float(stats[name]) == pytest.approx(float(value), rel=1e-9), name
    assert float(stats[fmt.TOKEN_CROSS_ENTROPY]) == pytest.approx(
        float(F.cross_entropy(logits.permute(0, 2, 1), padded)), rel=1e-5)


def _gradient(output: torch.Tensor, loss_of) -> torch.Tensor:
    leaf = output.detach().requires_grad_(True)
    loss_of(leaf).backward()
    return leaf.grad


@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_cross_entropy_aligns_and_a_wrong_view_does_not(reduction):
    tokens, logits = _tokens(), _logits()
    right = _gradient(logits, lambda o: F.cross_entropy(o.permute(0, 2, 1), tokens,
                                                        reduction=reduction))
    wrong = _gradient(logits, lambda o: F.cross_entropy(o.reshape(B, V, T), tokens,
                                                        reduction=reduction))
    layout = TokenLayout(-1)

    def alignment(gradient: torch.Tensor) -> float:
        stats = token_reconstruction_weight(gradient, logits, tokens, layout)
        return float(stats[fmt.LOSS_GRADIENT_ALIGNMENT])

    assert alignment(right) == pytest.approx(1)
    assert abs(alignment(wrong)) < 0.3


def _alignment(gradient, output, target) -> float:
    return float(reconstruction_weight(gradient, output, target)[fmt.LOSS_GRADIENT_ALIGNMENT])


@pytest.mark.parametrize("loss", ["mse", "bce", "bce_logits", "l1"])
def test_per_value_losses_align_and_a_transposed_target_does_not(loss):
    images = torch.rand(B, 8, 8)
    output = torch.rand(B, 8, 8) * 0.98 + 0.01
    per_value = {"mse": F.mse_loss, "bce": F.binary_cross_entropy,
                 "bce_logits": F.binary_cross_entropy_with_logits, "l1": F.l1_loss}[loss]
    right = _gradient(output, lambda o: per_value(o, images, reduction="sum"))
    wrong = _gradient(output, lambda o: per_value(o, images.transpose(1, 2)))
    assert _alignment(right, output, images) == pytest.approx(1)
    # values share the output's own deviations whatever the target: lower, not near 0
    assert _alignment(wrong, output, images) < 0.9


def test_values_the_loss_does_not_read_are_not_misread():
    """A sigmoid saturated behind a clamp leaves no gradient on its values: those are left
    out, and a loss that leaves no gradient at all has nothing to say (NaN), not 0."""
    images = torch.rand(B, 64)
    output = torch.rand(B, 64)
    output[:, :48] = 1.0  # saturated: the clamp below passes no gradient there
    gradient = _gradient(output, lambda o: F.binary_cross_entropy(
        o.clamp(1e-6, 1 - 1e-6), images, reduction="sum"))
    assert float(gradient[:, :48].abs().max()) == 0
    assert _alignment(gradient, output, images) == pytest.approx(1)
    assert math.isnan(_alignment(torch.zeros_like(output), output, images))
