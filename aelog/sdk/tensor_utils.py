"""Small tensor helpers shared by the monitor's hooks."""

from __future__ import annotations

import copy
from collections import defaultdict
from collections.abc import Mapping

import torch

from aelog.sdk.outputs import UnexpectedOutput

INPUT_KEYS = (
    "x", "input", "inputs", "image", "images", "img", "pixel_values", "input_ids", "tokens",
    "data", "features", "signal", "audio", "waveform", "sequence", "seq",
)
"""names a batch dict gives the model's input, most usual first."""

Place = int | str | tuple[int | str, str]
"""where the input is: a positional index, a keyword name, or (either, key) for the entry
of a dict passed in that place (``model(batch)`` with ``batch = {"image": x, ...}``)."""


def first_tensor(args: tuple, kwargs: dict) -> torch.Tensor | None:
    """The model's input: its first tensor argument, positional or keyword, else the input
    entry of a dict argument (see :func:`input_place`)."""
    place = input_place(args, kwargs)
    if place is None:
        return None
    if isinstance(place, tuple):
        outer, key = place
        return (args[outer] if isinstance(outer, int) else kwargs[outer])[key]
    return args[place] if isinstance(place, int) else kwargs[place]


def input_place(args: tuple, kwargs: dict) -> Place | None:
    """Where the input is: the first tensor argument; failing that, in the first dict
    argument holding tensors, the entry with an input's usual name (``INPUT_KEYS``), else its
    first tensor with a batch dimension."""
    for index, value in enumerate(args):
        if isinstance(value, torch.Tensor):
            return index
    for name, value in kwargs.items():
        if isinstance(value, torch.Tensor):
            return name
    places = [*enumerate(args), *kwargs.items()]
    for outer, value in places:
        if isinstance(value, Mapping):
            key = _input_key(value)
            if key is not None:
                return outer, key
    return None


def _input_key(batch: Mapping) -> str | None:
    for key in INPUT_KEYS:
        if isinstance(batch.get(key), torch.Tensor) and batch[key].dim() >= 1:
            return key
    for key, value in batch.items():
        if isinstance(key, str) and isinstance(value, torch.Tensor) and value.dim() >= 1:
            return key
    return None


def with_input(args: tuple, kwargs: dict, place: Place, value: torch.Tensor):
    """The same call with another input in the input's place: ``(args, kwargs)``. A batch
    dict is copied with its input entry replaced; the caller's dict is left as it was."""
    if isinstance(place, tuple):
        outer, key = place
        batch = args[outer] if isinstance(outer, int) else kwargs[outer]
        value = _replaced(batch, key, value)
        place = outer
    if isinstance(place, int):
        return args[:place] + (value,) + args[place + 1 :], kwargs
    return args, {**kwargs, place: value}


def _replaced(batch: Mapping, key: str, value: torch.Tensor) -> Mapping:
    try:
        copied = copy.copy(batch)  # keeps the batch's own class (attribute access included)
        copied[key] = value
    except Exception:  # noqa: BLE001 - a read-only mapping: a plain dict of its entries
        copied = {**batch, key: value}
    return copied


def matching_shape(output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """The output in the target's shape (a flat output for an image input, and so on)."""
    if output.shape == target.shape:
        return output
    if output.numel() == target.numel():
        return output.reshape(target.shape)
    sample = tuple(output.shape[1:]) if output.dim() else ()
    wanted = tuple(target.shape[1:]) if target.dim() else ()
    if sample == wanted:  # the batch sizes differ, not the samples
        sample, wanted = tuple(output.shape), tuple(target.shape)
    raise UnexpectedOutput(  # per sample, so one mismatch reads the same in every probe
        f"the reconstruction has shape {sample} per sample but the target has {wanted}; "
        "pass target= if the model does not reconstruct its input"
    )


@torch.no_grad()
def to_host(tensors: list[torch.Tensor | float]) -> list[float]:
    """All 0-d results as floats, in one transfer (one synchronisation) per device.

    Off the CPU they go through :func:`read_stacked`. On the CPU there is nothing to wait
    for: each is read as it is (``python -m benchmarks.overhead.micro`` times both ways),
    and a result that is a number already is taken as it is.
    """
    values: list[float] = [0.0] * len(tensors)
    elsewhere: list[int] = []
    for index, tensor in enumerate(tensors):
        if not isinstance(tensor, torch.Tensor):
            values[index] = float(tensor)
        elif tensor.is_cpu:
            values[index] = float(tensor.item())
        else:
            elsewhere.append(index)
    if elsewhere:
        for index, value in zip(elsewhere, read_stacked([tensors[i] for i in elsewhere]),
                                strict=True):
            values[index] = value
    return values


@torch.no_grad()
def read_stacked(tensors: list[torch.Tensor]) -> list[float]:
    """0-d tensors as floats, stacked by device and dtype and converted once per dtype: a
    logging step has a few hundred results, and a transfer each would be a synchronisation
    each."""
    groups: dict[torch.device, dict[torch.dtype, list[int]]] = defaultdict(
        lambda: defaultdict(list))
    for index, tensor in enumerate(tensors):
        groups[tensor.device][tensor.dtype].append(index)
    values: list[float] = [0.0] * len(tensors)
    for by_dtype in groups.values():
        order = [i for indices in by_dtype.values() for i in indices]
        parts = [torch.stack([_scalar(tensors[i]) for i in indices]).double()
                 for indices in by_dtype.values()]
        joined = parts[0] if len(parts) == 1 else torch.cat(parts)
        for index, value in zip(order, joined.tolist(), strict=True):
            values[index] = value
    return values


def _scalar(tensor: torch.Tensor) -> torch.Tensor:
    return tensor if tensor.dim() == 0 else tensor.reshape(())


class HostBatch:
    """Named 0-d tensors (or numbers) and named lists of them, brought to the host in one
    transfer."""

    def __init__(self) -> None:
        self._tensors: list[torch.Tensor | float] = []
        self._slots: dict[str, tuple[int, int]] = {}

    def add(self, key: str, tensor: torch.Tensor | float) -> None:
        self.extend(key, [tensor])

    def extend(self, key: str, tensors: list[torch.Tensor | float]) -> None:
        self._slots[key] = (len(self._tensors), len(tensors))
        self._tensors.extend(tensors)

    def read(self) -> dict[str, list[float]]:
        """``{key: [floats]}``: one list per key, in the order added."""
        host = to_host(self._tensors)
        return {key: host[start : start + count] for key, (start, count) in self._slots.items()}
