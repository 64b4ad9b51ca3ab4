"""A logging step's results reach the host in one transfer, in order, whatever their dtype."""

from __future__ import annotations

import torch

from aelog.sdk.tensor_utils import HostBatch, read_stacked, to_host


def test_mixed_dtypes_come_back_in_order_and_exact():
    weight = torch.tensor([1.5, -2.0], requires_grad=True)
    tensors = [
        torch.tensor(0.1, dtype=torch.float64),
        (weight * 2).sum(),                         # float32, part of an autograd graph
        torch.tensor(1 / 3, dtype=torch.float16),
        torch.tensor([7.0]),                        # one element, not 0-d
        torch.tensor(True),
        torch.tensor(1 / 3, dtype=torch.float64),
    ]
    values = to_host(tensors)
    assert values == [0.1, -1.0, float(torch.tensor(1 / 3, dtype=torch.float16)), 7.0, 1.0,
                      1 / 3]
    assert to_host([]) == []
    assert read_stacked(tensors) == values  # the way off the CPU, one transfer per device


def test_host_batch_keeps_its_keys():
    batch = HostBatch()
    batch.add("a", torch.tensor(2.0))
    batch.extend("b", [torch.tensor(3.0, dtype=torch.float64), torch.tensor(4.0)])
    assert batch.read() == {"a": [2.0], "b": [3.0, 4.0]}


def test_numbers_read_on_the_host_already_keep_their_place():
    batch = HostBatch()
    batch.add("a", 0.25)
    batch.extend("b", [torch.tensor(3.0), 1 / 3, torch.tensor(5.0, dtype=torch.float64)])
    batch.add("c", 7)
    assert batch.read() == {"a": [0.25], "b": [3.0, 1 / 3, 5.0], "c": [7.0]}
    assert to_host([0.5, 2]) == [0.5, 2.0]
