"""synthetic.coord_check on any model, and the worked example (examples/coord_check.py): μP flat, SP growing."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from synthetic.coord_check import coord_check, slopes


class Scaled(nn.Module):
    """out = √width · depth · (W x) with W fixed at ones/d_in: ‖out‖_RMS = √width · depth · RMS(mean of x)."""

    def __init__(self, width: int, depth: int) -> None:
        super().__init__()
        self.lin = nn.Linear(4, 1, bias=False)
        nn.init.constant_(self.lin.weight, 0.25)
        self.scale = math.sqrt(width) * depth
        self.tap = nn.Identity()

    def forward(self, x):
        return self.tap(self.lin(x) * self.scale)


def fixed_batches(seed: int, t: int):
    x = torch.randn(8, 4, generator=torch.Generator().manual_seed(seed))
    return x, torch.zeros(8, 1)


def test_records_and_slopes_recover_known_exponents():
    records = coord_check(lambda w, d, s: Scaled(w, d), lambda m, w, d: torch.optim.SGD(m.parameters(), lr=0.0),
                          widths=(4, 16, 64), depths=(1, 2), batches=fixed_batches, loss_fn=F.mse_loss,
                          watch=lambda m: {"tap": m.tap}, steps=2, seeds=(0, 1, 2))
    assert len(records) == 3 * 2 * 3 * 3 * 2                  # shapes × seeds × steps 0..2 × (rms, delta_rms)
    assert all(r["value"] == 0.0 for r in records if r["quantity"] == "delta_rms")   # lr 0: nothing changes
    for (module, step), fit in slopes(records, over="width").items():
        assert module == "tap" and fit.slope == pytest.approx(0.5, abs=1e-9)
    for fit in slopes(records, over="depth").values():
        assert fit.slope == pytest.approx(1.0, abs=1e-9)
    assert slopes(records, over="width", quantity="delta_rms") == {}     # zeros are not fitted


def test_the_worked_example_is_flat_under_mup_and_grows_under_sp():
    from examples.coord_check import run

    result = run(widths=(32, 64, 128), depths=(2, 4, 8), steps=2, seeds=(0, 1, 2))
    for (p, q, over), fits in result.items():
        for step, fit in fits.items():
            if p == "mup_k2":
                assert abs(fit.slope) < 0.1, (p, q, over, step, fit.slope)
            else:
                assert fit.ci_low > 0.1, (p, q, over, step, fit.slope)   # above the FLAT tolerance
