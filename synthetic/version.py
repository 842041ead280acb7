"""The engine version: part of every run's cache key and of every summary's provenance.

Bump `ENGINE_VERSION` in the same commit as any change that alters a run's numbers (the engine, the optimizers, the
data, the measurements, the divergence rule). `tests/test_engine_version.py` trains a fixed set of small buckets and
compares every record with `tests/golden/engine_records.json`, within a tolerance measured across CPU kernel paths
(`benchmarks.engine_golden`); it fails, naming this version, when the numbers move without a bump. A change that
keeps every bit on a given machine and kernel path is checked with `python -m benchmarks.bit_identity`. A bump makes
every cached run a miss, so no run trained by older code is ever served.
"""

ENGINE_VERSION = "engine-3"
"""engine-1: everything before provenance (implicit). engine-2: divergence also on loss > 1e6·(1 + loss at step 0).
engine-3: a lone run stays on the batched matmul kernel, so its numbers no longer depend on its bucket companions."""

LOSS_VERSIONS = {"bce": 2}
"""Per-loss versions past the first, part of the run id of every run with that loss (as measured quantities carry
theirs), so a change to one loss's numbers misses the cache for its runs only. bce 2: computed run by run on a CPU (`synthetic.runwise`), so a run's
numbers no longer depend on its bucket (torch's SIMD kernel rounds the scalar tail of a tensor differently, and where a
run's elements fall in the stacked tensor depended on the runs before it; docs/engine.md, "Bucket independence")."""

ACTIVATION_VERSIONS = {("gelu", "float64"): 2}
"""Versions past the first of an (activation, dtype), part of the run id of every run with both, as LOSS_VERSIONS.
float64 gelu 2: applied run by run on a CPU (`synthetic.models.RUN_BY_RUN_ACTIVATIONS`; its float64 kernel rounds
a tensor's scalar tail otherwise)."""

THREADED_VERSION = 3
"""Recorded in the `trained_on` of every cache entry. An entry trained on a CPU at more than one torch thread with an
older one, or with no `trained_on` at all, is a miss (`synthetic.provenance.threaded_stale`, in `synthetic.grid`).
Before version 2 a lone matrix product (a chunk of one run, a ragged bucket's deepest blocks) was split between the
threads within the matrix, which rounds otherwise than the same matrix in a stack, so such a run's numbers depended
on its bucket; since, it goes through a stack of two (`synthetic.runwise.matmul`). Before version 3 a lone run's
loss (32768 or more elements) was summed the same split way (`synthetic.runwise.reduce_per_run`). Numbers trained at
one thread did not change, apart from the quantities, rules and activation whose versions say so. At four threads
or more a run's numbers can still depend on its bucket (docs/engine.md, "Bucket independence")."""

WEIGHT_GRAD_VERSION = 2
"""Recorded in the `trained_on` of every cache entry. An entry with an older one (or none) trained on a GPU or on a
CPU at more than one torch thread is a miss (`synthetic.provenance.weight_grad_stale`). Before version 2 a float32
run's hidden-weight gradient was gzᵀu (`synthetic.models.DIRECT_WEIGHT_GRAD_DTYPES`) only where a probe found it equal
to autograd's (uᵀgz)ᵀ, and autograd's product elsewhere; since, it is gzᵀu everywhere. At one thread the probe compared
autograd's product with itself (its bmm wrote into an output with the transposed strides of autograd's, so BLAS got
the same call), so it held and gzᵀu was used: true at one thread on all three kernel paths of an Intel Xeon, whose
AVX2 path rounds the two products differently, and false at two threads there, where a lone probe matrix went
through a stack of two (a real comparison). Numbers trained at one thread did not change."""

DIVERGENCE_FACTOR = 1e6
"""A run diverges at the first step whose loss is not finite or exceeds DIVERGENCE_FACTOR·(1 + its step-0 loss)."""
