"""benchmarks.gemm_floor: the matmuls of one training step, against the FLOP count of the model (closed form)."""

from __future__ import annotations

from benchmarks.gemm_floor import step_matmul_shapes
from synthetic.config import ModelConfig, OptimConfig, RunConfig


def _bucket(depths, k=2, hidden_ratio=1.5):
    return [RunConfig(model=ModelConfig(width=8, depth=d, k=k, d_in=3, d_out=2, hidden_ratio=hidden_ratio),
                      optim=OptimConfig(name="adamw"), steps=4, batch_size=5, seed=i) for i, d in enumerate(depths)]


def test_step_flops_are_six_per_weight_and_example_but_four_at_the_input():
    """Forward + both gradients: 2·3 FLOPs per weight and example; the input layer has no input gradient (2·2)."""
    for depths, k in (((3, 3), 2), ((3, 1, 1), 2), ((2,), 1), ((4, 2), 3)):
        bucket = _bucket(depths, k)
        m, B = bucket[0].model, bucket[0].batch_size
        n, nh = m.width, m.hidden_width
        per_block = sum((n if i == 0 else nh) * (n if i == k - 1 else nh) for i in range(k))
        expected = len(depths) * B * (4 * n * m.d_in + 6 * m.d_out * n) + 6 * B * per_block * sum(depths)
        flops = sum(2 * a[0] * a[1] * a[2] * b[2] for a, b in step_matmul_shapes(bucket))
        assert flops == expected, (depths, k)
        for a, b in step_matmul_shapes(bucket):
            assert a[0] == b[0] and a[2] == b[1]

