"""Promise: a model whose output is logits over a vocabulary, trained with cross-entropy
against integer tokens, is measured in its own terms, with the two default lines.

Real training loops on Markov-chain token sequences: a GRU and a 1-D conv token
autoencoder, a GRU sentence VAE and a Transformer VAE with teacher forcing. A decoder
that ignores z is posterior collapse; a ``view`` where a ``permute`` was meant is a loss
that does not compare the output with its target, and is named as such.
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

import aelog
from aelog.diagnosis.engine import diagnose_run
from aelog.logfile import format as fmt
from benchmarks.randomised.token_models import (
    ConvTokenAE,
    GruTextVAE,
    GruTokenAE,
    TransformerTextVAE,
    markov_tokens,
)

VOCAB = 24
TOKENS = markov_tokens(vocab=VOCAB)


def _logits(output):
    if isinstance(output, dict):
        return output["logits"], output["mu"], output["logvar"]
    if isinstance(output, tuple):
        return output
    return output, None, None


def _loss(output, tokens, *, layout: str = "permute", free_bits: float = 0.0):
    logits, mu, logvar = _logits(output)
    target = tokens[:, 1:] if logits.shape[-2] == tokens.shape[1] - 1 else tokens
    if layout == "permute":
        scores = logits.permute(0, 2, 1)
    elif layout == "view":  # the bug: the same numbers read in another order
        scores = logits.reshape(logits.shape[0], logits.shape[-1], -1)
    else:  # already (B, V, T)
        scores = logits
    loss = F.cross_entropy(scores, target, reduction="sum") / tokens.shape[0]
    if mu is not None:
        kl = -0.5 * (1 + logvar - mu.pow(2) - logvar.exp())
        kl = kl.mean(0).clamp_min(free_bits).sum() if free_bits else kl.sum(1).mean()
        loss = loss + kl
    return loss


def _train(tmp_path, name, model, steps=300, lr=3e-3, **loss_options):
    torch.manual_seed(0)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    monitor = aelog.watch(model, optimizer, logdir=str(tmp_path), run_name=name,
                          on_collapse=None)
    generator = torch.Generator().manual_seed(1)
    for _ in range(steps):
        batch = TOKENS[torch.randint(0, len(TOKENS), (64,), generator=generator)]
        loss = _loss(model(batch), batch, **loss_options)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    monitor.close()
    run = monitor.run_data()
    return run, diagnose_run(run)


@pytest.mark.parametrize("model, layout", [
    (GruTokenAE, "permute"), (ConvTokenAE, "classes_first"),
], ids=["gru", "conv1d"])
def test_a_token_autoencoder_is_measured_and_healthy(tmp_path, model, layout):
    run, diagnosis = _train(tmp_path, "tokens", model(VOCAB), layout=layout)
    assert run.metadata["model"]["token_classes"] == VOCAB
    for name in (fmt.TOKEN_CROSS_ENTROPY, fmt.TOKEN_ACCURACY, fmt.RELATIVE_ERROR,
                 fmt.OUTPUT_VARIANCE_RATIO, fmt.LOSS_GRADIENT_ALIGNMENT):
        assert run.signal(name) is not None, name
    assert run.signal(fmt.LOSS_GRADIENT_ALIGNMENT).values[-1] == pytest.approx(1, abs=1e-6)
    ce = run.signal(fmt.TOKEN_CROSS_ENTROPY).values[-1]
    assert ce < 0.8 * run.signal(fmt.TOKEN_UNIGRAM_ENTROPY).values[-1]
    assert diagnosis.status == "healthy", diagnosis.to_json()
    assert any("per-token cross-entropy" in fact for fact in diagnosis.symptom)


def test_a_view_that_should_be_a_permute_is_named(tmp_path):
    _, diagnosis = _train(tmp_path, "view", GruTokenAE(VOCAB), layout="view")
    assert diagnosis.status != "healthy"
    assert diagnosis.causes == []
    (note,) = [n for n in diagnosis.notes if n.startswith("cause not among the 15")]
    assert "the loss does not compare the output with its target" in note
    assert "permute" in note


@pytest.mark.parametrize("model", [GruTextVAE, TransformerTextVAE], ids=["gru", "transformer"])
def test_a_decoder_that_ignores_z_is_posterior_collapse(tmp_path, model):
    _, collapsed = _train(tmp_path, "plain_kl", model(VOCAB))
    assert collapsed.causes and collapsed.causes[0].id == "posterior_collapse", \
        collapsed.to_json()
    assert collapsed.status != "healthy"
    _, fixed = _train(tmp_path, "free_bits", model(VOCAB), free_bits=0.5)
    assert "posterior_collapse" not in [c.id for c in fixed.causes], fixed.to_json()
    assert fixed.status == "healthy", fixed.to_json()
