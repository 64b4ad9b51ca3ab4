"""On a GPU: non-logging steps never synchronise with the device, and logging works there.

Skipped without CUDA (the CPU suite checks the same promise by counting tensor ops).
"""

from __future__ import annotations

import pytest
import torch
from sdk_fixtures import MLPAE, VAE, digits, train

import aelog
from aelog.logfile import format as fmt

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")


def test_non_logging_steps_do_not_synchronise(tmp_path):
    torch.manual_seed(0)
    model = MLPAE().cuda()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    data = digits().cuda()
    with aelog.watch(model, optimizer, logdir=tmp_path, log_every=50, on_collapse=None) as mon:
        train(model, optimizer, data, 1)  # step 0 logs (and may synchronise)
        torch.cuda.synchronize()
        torch.cuda.set_sync_debug_mode("error")
        try:
            train(model, optimizer, data, 20)  # steps 1-20: none logs
        finally:
            torch.cuda.set_sync_debug_mode("default")
    assert mon.run_data().signal(fmt.RELATIVE_ERROR).steps.tolist() == [0]


def test_logging_and_identity_check_on_the_device(tmp_path):
    torch.manual_seed(0)
    model = VAE().cuda()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    with aelog.watch(model, optimizer, logdir=tmp_path, log_every=1, identity_every=1,
                     on_collapse=None) as monitor:
        train(model, optimizer, digits().cuda(), 5)
    run = monitor.run_data()
    assert len(run.signal(fmt.IDENTITY_RATIO)) == 5 and len(run.signal(fmt.KL_PER_DIM)) == 5
