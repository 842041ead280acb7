"""benchmarks.kernel_paths: the second kernel path a chaotic figure is checked on really is another path."""

import pytest

from benchmarks import kernel_paths
from benchmarks.kernel_paths import distinct_paths, main, native_aten_isa, path_env, run_under, second_path


@pytest.mark.parametrize("native, second", [("AVX512", "avx2"), ("AVX512_BF16", "avx2"), ("AVX2", "default"),
                                            ("DEFAULT", "default")])
def test_the_second_path_is_avx2_only_under_avx512(monkeypatch, native, second):
    monkeypatch.setattr(kernel_paths, "native_aten_isa", lambda: native)
    assert second_path() == second


@pytest.mark.parametrize("native, paths", [("AVX512", ("avx2", "default")), ("AVX512_VNNI", ("avx2", "default")),
                                           ("AVX2", ("default",))])
def test_ci_skips_only_the_avx2_path_of_an_avx2_only_cpu(monkeypatch, capsys, native, paths):
    monkeypatch.setattr(kernel_paths, "native_aten_isa", lambda: native)
    assert distinct_paths() == paths and second_path() == paths[0]
    assert main(["--distinct"]) == 0 and capsys.readouterr().out.split() == list(paths)


def test_on_this_cpu_every_distinct_path_runs_other_aten_kernels_than_the_native_one():
    for path in distinct_paths():
        isa = run_under(path, ["-c", "import torch; print(torch.backends.cpu.get_cpu_capability())"],
                        check=True).stdout.split()[-1]
        assert isa != native_aten_isa() or native_aten_isa() == "DEFAULT", path


def test_on_this_cpu_the_second_path_runs_other_aten_kernels_than_the_native_one():
    """Asked of a process started on each path: the ISA ATen uses differs, unless the CPU has no vector ISA to drop."""
    isa = run_under(second_path(), ["-c", "import torch; print(torch.backends.cpu.get_cpu_capability())"],
                    check=True).stdout.split()[-1]
    assert isa != native_aten_isa() or native_aten_isa() == "DEFAULT"
    assert path_env(second_path())["ATEN_CPU_CAPABILITY"] in ("avx2", "default")
