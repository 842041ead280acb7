"""benchmarks.kernel_paths: the paths CI and the second-path check use really are other paths, and the one CI skips\non an AVX2-only CPU really is the native one."""

import pytest

from benchmarks import kernel_paths
from benchmarks.kernel_paths import distinct_paths, main, path_env, run_under


@pytest.mark.parametrize("native, paths", [("AVX512", ("avx2", "default")), ("AVX512_VNNI", ("avx2", "default")),
                                           ("AVX2", ("default",))])
def test_ci_skips_only_the_avx2_path_of_an_avx2_only_cpu(monkeypatch, capsys, native, paths):
    monkeypatch.setattr(kernel_paths, "native_aten_isa", lambda: native)
    assert distinct_paths() == paths
    assert main(["--distinct"]) == 0 and capsys.readouterr().out.split() == list(paths)


BATTERY = """
import hashlib, torch
torch.set_num_threads(1)
g = torch.Generator().manual_seed(0)
h = hashlib.sha256()
for m, k, n in [(7, 33, 65), (128, 256, 256), (3, 129, 517)]:
    a, b = torch.randn(m, k, generator=g), torch.randn(k, n, generator=g)
    x, y = torch.randn(4, m, k, generator=g), torch.randn(4, k, n, generator=g)
    for t in (a @ b, torch.bmm(x, y), torch.softmax(a, -1), torch.tanh(a).exp(), a.norm(dim=1),
              torch.sqrt(a.abs()) / (1 + a)):
        h.update(t.numpy().tobytes())
print(h.hexdigest())
"""
"""float32 MKL products and ATen vectorized element-wise ops and reductions at odd sizes, hashed bit for bit."""


def test_on_this_cpu_the_paths_ci_skips_compute_bit_for_bit_what_the_native_one_does():
    """The premise of `distinct_paths`, measured: a forced path left out gives the native path's bits on a battery of
    MKL and ATen kernels, and a path kept gives other bits (so the battery can see a change of path)."""
    digest = {p: run_under(p, ["-c", BATTERY], check=True).stdout.split()[-1] for p in kernel_paths.KERNEL_PATHS}
    skipped = [p for p in kernel_paths.KERNEL_PATHS if p != "native" and p not in distinct_paths()]
    assert all(digest[p] == digest["native"] for p in skipped), (skipped, digest)
    assert any(digest[p] != digest["native"] for p in distinct_paths()), digest
