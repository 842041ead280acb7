"""figures.kernel_check: the chaotic figures' second kernel path is one on which their runs really train otherwise."""

import pytest

from benchmarks import kernel_paths
from figures import kernel_check


@pytest.fixture
def digests(monkeypatch):
    """Stand-in probe digests per path, and second_path's cache cleared around the test."""
    table: dict[str, str] = {}
    monkeypatch.setattr(kernel_check, "probe_digest", lambda path: table[path])
    kernel_check.second_path.cache_clear()
    yield table
    kernel_check.second_path.cache_clear()


@pytest.mark.parametrize("paths, table, expected", [
    (("avx2", "default"), {"native": "a", "avx2": "a", "default": "b"}, "default"),   # avx2 repeats native (Zen 4)
    (("avx2", "default"), {"native": "a", "avx2": "c", "default": "b"}, "avx2"),      # the first that differs
    (("default",), {"native": "a", "default": "b"}, "default"),
    (("avx2", "default"), {"native": "a", "avx2": "a", "default": "a"}, "default"),   # none differs: the last
])
def test_the_second_path_is_the_first_distinct_path_whose_probe_differs(monkeypatch, digests, paths, table, expected):
    monkeypatch.setattr(kernel_paths, "distinct_paths", lambda: paths)
    digests.update(table)
    assert kernel_check.second_path() == expected


def test_on_this_cpu_the_second_path_trains_the_probe_to_other_bits_unless_no_path_does():
    kernel_check.second_path.cache_clear()
    native = kernel_check.probe_digest("native")
    assert kernel_check.probe_digest("native") == native                   # deterministic
    second = kernel_check.second_path()
    assert second in kernel_paths.distinct_paths()
    if kernel_check.probe_digest(second) == native:
        assert all(kernel_check.probe_digest(p) == native for p in kernel_paths.distinct_paths())
