"""BackwardEnd: one call at the end of each backward through a watched output, none after."""

from __future__ import annotations

import torch

from aelog.sdk.backward_end import BackwardEnd


def _model() -> torch.nn.Module:
    torch.manual_seed(0)
    return torch.nn.Linear(4, 3)


def test_one_call_per_backward_with_every_gradient_accumulated():
    model = _model()
    seen = []
    watcher = BackwardEnd(lambda: seen.append(
        [None if p.grad is None else p.grad.clone() for p in model.parameters()]))
    x = torch.randn(5, 4)
    out = model(x)
    recon, code = out, out * 2  # two watched outputs of one forward, like (recon, mu)
    watcher.watch((recon, code, "not a tensor"))
    (recon.sum() + code.pow(2).sum()).backward()
    assert len(seen) == 1
    assert all(g is not None for g in seen[0])  # the whole pass was done: every parameter
    for got, param in zip(seen[0], model.parameters(), strict=True):
        assert torch.equal(got, param.grad)


def test_accumulation_calls_after_each_backward_and_remove_stops_it():
    model = _model()
    calls = []
    watcher = BackwardEnd(lambda: calls.append(model.weight.grad.clone()))
    for _ in range(2):  # two micro-batches before one step
        out = model(torch.randn(5, 4))
        watcher.watch({"reconstruction": out})
        out.sum().backward()
    assert len(calls) == 2  # the second sees the accumulated sum
    assert torch.equal(calls[1], model.weight.grad) and not torch.equal(calls[0], calls[1])
    watcher.remove()
    out = model(torch.randn(5, 4))
    watcher.watch(out)
    out.sum().backward()
    assert len(calls) == 2


def test_outputs_without_a_graph_are_left_alone():
    model = _model()
    calls = []
    watcher = BackwardEnd(lambda: calls.append(1))
    with torch.no_grad():
        watcher.watch(model(torch.randn(5, 4)))  # an eval forward: nothing to hook
    out = model(torch.randn(5, 4))
    out.sum().backward()
    assert calls == []
    assert all(p._post_accumulate_grad_hooks is None for p in model.parameters())


def test_a_callback_autograd_refuses_is_reported_not_raised():
    errors, calls = [], []
    watcher = BackwardEnd(lambda: calls.append(1), on_error=errors.append)
    watcher._on_gradient(torch.zeros(1))  # outside a backward: autograd takes no callback
    assert len(errors) == 1 and isinstance(errors[0], RuntimeError)
    model = _model()
    out = model(torch.randn(5, 4))
    watcher.watch(out)
    out.sum().backward()
    assert calls == []  # the watch stopped


def test_forwards_are_watched_in_training_only_and_until_the_handle_goes():
    model = _model()
    calls = []
    watcher = BackwardEnd(lambda: calls.append(1))
    handle = watcher.watch_forwards_of(model)
    model(torch.randn(5, 4)).sum().backward()
    model.eval()
    model(torch.randn(5, 4)).sum().backward()
    model.train()
    handle.remove()
    model(torch.randn(5, 4)).sum().backward()
    assert calls == [1]
