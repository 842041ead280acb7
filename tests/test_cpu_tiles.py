"""synthetic.cpu_tiles: the measured tile of the element-wise update covers the whole group and moves no number."""

from __future__ import annotations

import pytest
import torch

import synthetic.optim as optim
from synthetic import cpu_tiles
from synthetic.optim import _tiles


def _state(rows: int, cols: int):
    gen = torch.Generator().manual_seed(1)
    p, g, m = (torch.randn(rows, cols, generator=gen, dtype=torch.float64) for _ in range(3))
    v = torch.rand(rows, cols, generator=gen, dtype=torch.float64)
    return p, g, m, v, torch.empty_like(p), torch.empty_like(p), torch.rand(rows, 1, generator=gen, dtype=torch.float64)


@pytest.mark.parametrize("tile", cpu_tiles.CANDIDATES)
def test_the_measured_passes_give_the_untiled_update_at_every_candidate(tile):
    """The workload timed for each candidate is the whole group's AdamW passes: tiled at `tile` bytes it leaves p, m,
    v exactly where the untiled passes do (every element visited once, per-row factors on the right rows)."""
    rows, cols = 8, 3 * tile // 8 // 4 + 5   # not a multiple of the tile: a ragged last tile
    a, b = _state(rows, cols), _state(rows, cols)
    cpu_tiles._adamw_passes(*a, _tiles(rows, cols, tile // 8))
    cpu_tiles._adamw_passes(*b, _tiles(rows, cols, None))
    for x, y in zip(a[:4], b[:4]):
        assert torch.equal(x, y)
    assert len(_tiles(rows, cols, tile // 8)) > 1


def test_measure_times_every_candidate_and_tile_bytes_picks_the_fastest(monkeypatch):
    times = cpu_tiles.measure(group_bytes=4 * 1024 * 1024, repeats=1)
    assert set(times) == set(cpu_tiles.CANDIDATES) and all(t > 0 for t in times.values())
    fake = {128 * 1024: 3.0, 256 * 1024: 1.0, 512 * 1024: 2.0, 1024 * 1024: 4.0}
    monkeypatch.setattr(cpu_tiles, "measure", lambda: fake)
    cpu_tiles.tile_bytes.cache_clear()
    try:
        assert cpu_tiles.tile_bytes() == 256 * 1024
    finally:
        cpu_tiles.tile_bytes.cache_clear()


def test_small_groups_never_trigger_the_measurement(monkeypatch):
    def boom():
        raise AssertionError("measured for a group no tile can split")

    monkeypatch.setattr(cpu_tiles, "tile_bytes", boom)
    assert optim.cpu_tile_bytes(min(cpu_tiles.CANDIDATES)) == min(cpu_tiles.CANDIDATES)
    monkeypatch.setattr(optim, "CPU_TILE_BYTES", 4096)
    assert optim.cpu_tile_bytes(10**9) == 4096
    monkeypatch.setattr(optim, "CPU_TILE_BYTES", None)
    assert optim.cpu_tile_bytes(10**9) is None
