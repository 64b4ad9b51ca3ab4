"""Read a model's output: the reconstruction and, for a VAE, mu and log-variance.

Models return a tensor, a tuple/list (reconstruction first, VAEs as (recon, mu, logvar);
a loss or other scalars before them are passed over),
a dict with the usual keys, or an object holding them as attributes (a dataclass, or a
small class of one's own, read like a dict). A ``torch.distributions`` object stands for
its tensors: a decoder's distribution for its mean (a categorical one for its logits), a
later Normal posterior for mu and log-variance (see :func:`distribution_fields`).
Anything else raises
:class:`UnexpectedOutput`, which the monitor turns into one warning and switches the
output probes off.
"""

from __future__ import annotations

import dataclasses
import inspect
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import torch
from torch import distributions

RECONSTRUCTION_KEYS = (
    "recon", "reconstruction", "x_hat", "x_recon", "x_rec", "recon_x", "output", "out",
    "decoded", "logits", "recon_logits",
)
MU_KEYS = ("mu", "mean", "z_mean", "z_mu", "posterior_mean")
LOGVAR_KEYS = ("logvar", "log_var", "z_log_var", "z_logvar", "log_variance")
LOGIT_KEYS = ("logits", "recon_logits")


class UnexpectedOutput(TypeError):
    """The model's output holds no tensor we can read as a reconstruction."""


@dataclass
class ParsedOutput:
    reconstruction: torch.Tensor
    mu: torch.Tensor | None = None
    logvar: torch.Tensor | None = None
    from_logits: bool = False
    """the reconstruction is logits (a BCE-with-logits model): compare sigmoid(logits)."""

    @property
    def is_vae(self) -> bool:
        return self.mu is not None and self.logvar is not None

    def reconstruction_values(self) -> torch.Tensor:
        recon = self.reconstruction.detach()
        return torch.sigmoid(recon) if self.from_logits else recon


def distribution_fields(dist: distributions.Distribution, *,
                        as_posterior: bool = True) -> dict[str, torch.Tensor]:
    """A distribution's tensors under the names the parser reads: ``recon``, its mean (a
    categorical's ``logits`` instead), and for a Normal (``Independent`` or not) ``mu``
    and ``logvar`` too, for when it is the posterior (``as_posterior=False``: not asked
    for). Read through the distribution classes' own properties: a distribution that
    cannot say its mean gives none. The log-variance is computed apart from the user's
    graph: the user's loss never reaches it."""
    base = dist
    while isinstance(base, distributions.Independent):
        base = base.base_dist
    if isinstance(base, (distributions.Categorical, distributions.OneHotCategorical)):
        return {"logits": base.logits}
    fields = {}
    try:
        mean = dist.mean
    except (NotImplementedError, ValueError, RuntimeError):
        mean = None
    if isinstance(mean, torch.Tensor):
        fields["recon"] = mean
    if as_posterior and isinstance(base, distributions.Normal):
        with torch.no_grad():
            logvar = 2 * base.scale.log()
        fields.update(mu=base.loc, logvar=logvar)
    return fields


def _without_distributions(items: Sequence) -> list:
    """``items`` with each distribution replaced by its tensors: the first thing in them
    is a decoder's distribution (its mean); a later one is a posterior (mu, log-variance)
    where it has them, else its mean."""
    plain: list = []
    for item in items:
        if not isinstance(item, distributions.Distribution):
            plain.append(item)
            continue
        first = all(_is_scalar(seen) for seen in plain)
        fields = distribution_fields(item, as_posterior=not first)
        reconstruction = fields.get("recon", fields.get("logits"))
        if not first and "mu" in fields:
            plain.extend((fields["mu"], fields["logvar"]))
        elif reconstruction is not None:
            plain.append(reconstruction)
    return plain


def _mapping_without_distributions(output: Mapping) -> Mapping:
    """A dict's distributions replaced by tensors: the first one (or one under a
    reconstruction key) is the reconstruction, kept under its key; a later Normal gives
    ``mu`` and ``logvar`` where the dict has none."""
    if not any(isinstance(v, distributions.Distribution) for v in output.values()):
        return output
    plain: dict = {}
    has_reconstruction = any(isinstance(output.get(key), torch.Tensor)
                             for key in RECONSTRUCTION_KEYS)
    for key, value in output.items():
        if not isinstance(value, distributions.Distribution):
            plain[key] = value
            continue
        fields = distribution_fields(value, as_posterior=has_reconstruction)
        if not has_reconstruction and (fields.get("recon") is not None or "logits" in fields):
            if "logits" in fields:
                plain["logits"] = fields["logits"]
            else:
                plain[key if key in RECONSTRUCTION_KEYS else "recon"] = fields["recon"]
            has_reconstruction = True
        elif "mu" in fields and "mu" not in output:
            plain.setdefault("mu", fields["mu"])
            plain.setdefault("logvar", fields["logvar"])
    return plain


def without_distributions(output: object) -> object:
    """The output with its ``torch.distributions`` objects replaced by their tensors, as
    the parser reads them; anything else as it is."""
    if isinstance(output, distributions.Distribution):
        return _mapping_without_distributions({"decoded": output})
    if isinstance(output, Mapping):
        return _mapping_without_distributions(output)
    if isinstance(output, (tuple, list)):
        return _without_distributions(output)
    return output


def output_fields(output: object) -> Mapping | None:
    """An output object's fields by name: every field of a dataclass; or, for any other
    object, its tensors under the usual names (reconstruction, mu, log-variance), read
    without running its code (no property or ``__getattr__`` is called). None when there
    are none."""
    if dataclasses.is_dataclass(output) and not isinstance(output, type):
        return {field.name: getattr(output, field.name) for field in dataclasses.fields(output)}
    if isinstance(output, (type, torch.nn.Module)):
        return None
    found = {}
    for key in (*RECONSTRUCTION_KEYS, *MU_KEYS, *LOGVAR_KEYS):
        try:
            value = inspect.getattr_static(output, key)
        except AttributeError:
            continue
        if isinstance(value, torch.Tensor):
            found[key] = value
    return found if any(key in found for key in RECONSTRUCTION_KEYS) else None


def parse_output(output: object) -> ParsedOutput:
    if isinstance(output, torch.Tensor):
        return ParsedOutput(output)
    if isinstance(output, distributions.Distribution):
        output = {"decoded": output}
    if isinstance(output, Mapping):
        return _parse_mapping(output)
    if isinstance(output, Sequence) and not isinstance(output, (str, bytes)):
        return _parse_sequence(output)
    fields = output_fields(output)
    if fields is not None:
        return _parse_mapping(fields)
    raise UnexpectedOutput(
        f"model output of type {type(output).__name__} holds no reconstruction tensor"
    )


def parse_pair(output: object) -> tuple[torch.Tensor, torch.Tensor | None]:
    """An encoder's output: a code tensor, or (mu, logvar) for a VAE encoder."""
    if isinstance(output, torch.Tensor):
        return output, None
    if isinstance(output, distributions.Distribution):
        fields = distribution_fields(output)
        if "mu" in fields:
            return fields["mu"], fields["logvar"]
        if fields:
            return next(iter(fields.values())), None
        raise UnexpectedOutput(f"code distribution {type(output).__name__} has no mean")
    fields = None if isinstance(output, (Mapping, Sequence)) else output_fields(output)
    if fields is not None:
        output = fields
    if isinstance(output, Mapping):
        mu, logvar = _first_key(output, MU_KEYS), _first_key(output, LOGVAR_KEYS)
        if mu is not None:
            return mu, logvar
        output = list(output.values())
    if isinstance(output, Sequence) and not isinstance(output, (str, bytes)):
        tensors = [t for t in output if isinstance(t, torch.Tensor)]
        if len(tensors) >= 2 and tensors[0].shape == tensors[1].shape:
            return tensors[0], tensors[1]
        if tensors:
            return tensors[0], None
    raise UnexpectedOutput(f"code of type {type(output).__name__} holds no tensor")


def recurrent_code(module: object, output: object) -> object:
    """A recurrent encoder's code: the last layer's final hidden state (both directions of a
    bidirectional one), not its per-step outputs, which may be a PackedSequence."""
    if not isinstance(module, torch.nn.RNNBase) or not isinstance(output, tuple) \
            or len(output) != 2:
        return output
    hidden = output[1][0] if isinstance(output[1], tuple) else output[1]
    if not isinstance(hidden, torch.Tensor) or hidden.dim() != 3:
        return output
    if module.bidirectional:
        return torch.cat([hidden[-2], hidden[-1]], dim=-1)
    return hidden[-1]


def _first_key(mapping: Mapping, keys: tuple[str, ...]) -> torch.Tensor | None:
    for key in keys:
        value = mapping.get(key)
        if isinstance(value, torch.Tensor):
            return value
    return None


def _parse_mapping(output: Mapping) -> ParsedOutput:
    output = _mapping_without_distributions(output)
    recon = None
    from_logits = False
    for key in RECONSTRUCTION_KEYS:
        value = output.get(key)
        if isinstance(value, torch.Tensor):
            recon, from_logits = value, key in LOGIT_KEYS
            break
    if recon is None:
        tensors = [v for v in output.values() if isinstance(v, torch.Tensor)]
        if not tensors:
            raise UnexpectedOutput(
                f"model output dict with keys {sorted(map(str, output))} holds no tensor"
            )
        recon = tensors[0]
    mu, logvar = _first_key(output, MU_KEYS), _first_key(output, LOGVAR_KEYS)
    return ParsedOutput(recon, mu, logvar if mu is not None else None, from_logits)


def _is_scalar(item: object) -> bool:
    """A loss or a count handed back beside the outputs: a 0-d tensor or a number."""
    return (isinstance(item, torch.Tensor) and item.dim() == 0) or (
        isinstance(item, (int, float)) and not isinstance(item, bool))


def _parse_sequence(output: Sequence) -> ParsedOutput:
    output = _without_distributions(output)
    start = 0  # models that return (loss, reconstruction, ...): the scalars come first
    while start < len(output) and _is_scalar(output[start]):
        start += 1
    output = output[start:]
    if not output or not isinstance(output[0], torch.Tensor):
        raise UnexpectedOutput(
            "model output sequence does not start with a reconstruction tensor"
        )
    recon = output[0]
    if (
        len(output) >= 3
        and isinstance(output[1], torch.Tensor)
        and isinstance(output[2], torch.Tensor)
        and output[1].shape == output[2].shape
        and output[1].dim() >= 1
        and output[1].shape[0] == recon.shape[0]
    ):
        return ParsedOutput(recon, output[1], output[2])
    return ParsedOutput(recon)
