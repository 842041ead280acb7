"""benchmarks.kernel_paths: the second kernel path a chaotic figure is checked on really is another path."""

import pytest

from benchmarks import kernel_paths
from benchmarks.kernel_paths import native_aten_isa, path_env, run_under, second_path


@pytest.mark.parametrize("native, second", [("AVX512", "avx2"), ("AVX512_BF16", "avx2"), ("AVX2", "default"),
                                            ("DEFAULT", "default")])
def test_the_second_path_is_avx2_only_under_avx512(monkeypatch, native, second):
    monkeypatch.setattr(kernel_paths, "native_aten_isa", lambda: native)
    assert second_path() == second


def test_on_this_cpu_the_second_path_runs_other_aten_kernels_than_the_native_one():
    """Asked of a process started on each path: the ISA ATen uses differs, unless the CPU has no vector ISA to drop."""
    isa = run_under(second_path(), ["-c", "import torch; print(torch.backends.cpu.get_cpu_capability())"],
                    check=True).stdout.split()[-1]
    assert isa != native_aten_isa() or native_aten_isa() == "DEFAULT"
    assert path_env(second_path())["ATEN_CPU_CAPABILITY"] in ("avx2", "default")
