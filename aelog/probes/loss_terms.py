"""How the user's loss weighs its terms, read from the gradients backward leaves on the
model's outputs: no access to the loss function is needed.

A loss ``c * sum_i l(r_i, x_i)`` leaves ``c * l'(r_i, x_i)`` on each output value, so the
weight ``c`` of the reconstruction term is a projection of the gradient on the derivative
of the per-value loss (squared error, binary cross-entropy on probabilities or on logits,
absolute error; for tokens cross-entropy), whichever fits. The KL term of a VAE with the
analytic Gaussian KL leaves ``c_kl * mu`` on mu and ``c_kl * (exp(logvar) - 1) / 2`` on the
log-variance, plus what the decoder sends back through z, which is ~0 once the decoder
ignores z: exactly when the weight matters. Times the batch size, each weight reads 1 for
a term summed per sample and 1/n for one averaged over its n values.
"""

from __future__ import annotations

import torch

from aelog.logfile import format as fmt

SQUARED_ERROR, BCE_ON_LOGITS, ABSOLUTE_ERROR, BCE_ON_PROBABILITIES = range(4)
"""the candidate per-value losses, in the order of ``fmt.RECON_LOSS_FORM``'s values."""
TINY = 1e-30
"""float32 tiny enough: the products here are of gradients and differences."""


def _projection(gradient: torch.Tensor, derivative: torch.Tensor
                ) -> tuple[torch.Tensor, torch.Tensor]:
    """(weight, cosine) of the gradient on one candidate derivative."""
    inner = (gradient * derivative).sum()
    square = derivative.pow(2).sum()
    weight = inner / square.clamp_min(TINY)
    cosine = inner / (gradient.norm() * square.sqrt()).clamp_min(TINY)
    return weight, cosine


def reconstruction_weight(gradient: torch.Tensor, output: torch.Tensor,
                          target: torch.Tensor) -> dict[str, torch.Tensor]:
    """The reconstruction term's per-sample weight on each output value, and how well the
    best per-value loss explains the gradient: the cosine, which is also the loss's
    alignment with the target (near 0 when the loss compares the output with something
    else: a ``view`` that should have been a ``permute``, the wrong target).

    Values the loss leaves no gradient on (a saturated sigmoid behind a clamp, masked
    pixels) are left out: the loss does not read them, rather than reads them wrongly. No
    gradient at all gives NaN: there is nothing to read."""
    batch = output.shape[0]
    g = gradient.detach().reshape(batch, -1).float()
    r = output.detach().reshape(batch, -1).float()
    x = target.detach().reshape(batch, -1).float()
    difference = (r - x) * (g != 0)
    # the four derivatives stacked: one product and two sums for all (on small outputs a
    # logging step pays per operation, not per value). Off (0, 1) the BCE-on-probabilities
    # candidate is a positive reweighting of the squared error's: it never fits better.
    derivatives = torch.stack([
        2 * difference, (torch.sigmoid(r) - x) * (g != 0), torch.sign(difference),
        difference / (r * (1 - r)).abs().clamp_min(1e-12),
    ])
    inner = (derivatives * g).sum((1, 2))
    square = derivatives.pow(2).sum((1, 2)).clamp_min(TINY)
    size = g.norm()
    cosine = inner / (size * square.sqrt()).clamp_min(TINY)
    best = cosine.argmax()
    fit = torch.where(size > 0, cosine[best], torch.full_like(cosine[best], float("nan")))
    weight = (inner / square)[best]
    return {fmt.RECON_TERM_WEIGHT: weight * batch, fmt.RECON_TERM_FIT: fit,
            fmt.LOSS_GRADIENT_ALIGNMENT: fit, fmt.RECON_LOSS_FORM: best.float()}


def kl_weight(mu: torch.Tensor, logvar: torch.Tensor, mu_gradient: torch.Tensor,
              logvar_gradient: torch.Tensor) -> dict[str, torch.Tensor]:
    """The analytic KL term's per-sample weight on each latent dimension, with the cosine
    of the fit (near 1 when nothing else pulls on mu and the log-variance)."""
    batch = mu.shape[0]
    regressor = torch.cat([mu.detach().reshape(batch, -1).double(),
                           0.5 * (logvar.detach().double().exp() - 1).reshape(batch, -1)], 1)
    response = torch.cat([mu_gradient.detach().reshape(batch, -1).double(),
                          logvar_gradient.detach().reshape(batch, -1).double()], 1)
    weight, cosine = _projection(response, regressor)
    return {fmt.KL_TERM_WEIGHT: weight * batch, fmt.KL_TERM_FIT: cosine}
