"""Training and test data, generated on the device from a seed (nothing is downloaded).

One `DataSource` serves a whole bucket of M stacked runs: `train_batch(step)` returns `x [M, B, d_in]` and `y`, and
`test_set()` returns `x [M, N, d_in]` and `y`. Run m gets the data of its own seed, so runs that share a seed (in this
bucket or in any other) see identical data, and batch t is a pure function of (seed, t): every call re-seeds a generator
from (seed, stream, t), so nothing depends on earlier calls. Work is done once per *distinct* seed and then gathered
to the M runs.

Targets: `"mse"`/`"bce"` get float `y [M, B, d_out]`; `"ce"` gets int64 class indices `y [M, B]`.

Kinds (`DataConfig.kind`):

- `"teacher_regression"`: x ~ N(0, I_d_in) (unit RMS in expectation), y = c·Bᵀ tanh(2·A x) + noise·ε, with A of
  rank `teacher_rank` (r × d_in, entries N(0, 1/d_in)), B (r × d_out, entries N(0, 1/r)) and c set so that the clean
  target has unit variance; ε ~ N(0, 1). The teacher is drawn from the run seed (each seed is one task).
- `"teacher_classification"`: same inputs and low-rank teacher with `n_classes` logits; label = argmax, then replaced
  with probability `noise` by a uniformly drawn *other* class (a flip for two classes).
- `"two_class_standin"`: a fixed, image-like two-class set standing in for the 200-image CIFAR-10 airplane/automobile
  subset (see `standin_images`); fixed seed `STANDIN_SEED`, independent of the run seed.
- `"cifar10"`: the same 200-image subset read from the CIFAR-10 python batches in `data_dir` (see `load_cifar10_pair`).
  A run is identified by the content of those files (`cifar10_digest`), not by the folder's name.

Training sets: `n_train=None` draws a fresh batch every step (teacher kinds); an integer fixes a training set of that
many samples, served full-batch when `batch_size >= n_train` and otherwise as minibatches drawn without replacement
(per seed, per step). The two image kinds always use a fixed set (200 samples unless `n_train` says otherwise).
Test sets (`n_test` samples) are drawn once per seed from a separate stream and carry *clean* labels (no noise, no
flips), so the test loss measures the distance to the teacher.

Random numbers come from `torch.Generator`s on the target device, so the data is reproducible per device type but
differs between CPU and CUDA.
"""

from __future__ import annotations

import hashlib
import math
import os
import pickle
import stat
from functools import lru_cache
from typing import Sequence

import numpy as np
import torch

from synthetic.errors import DataError

TEACHER_KINDS = ("teacher_regression", "teacher_classification")
IMAGE_KINDS = ("two_class_standin", "cifar10")
KINDS = TEACHER_KINDS + IMAGE_KINDS
LOSSES = ("mse", "bce", "ce")

IMAGE_DIM = 3072
STANDIN_SEED = 20_260_101
STANDIN_PER_CLASS = 100
STANDIN_SPECTRUM = 1.5  # amplitude ∝ 1/f^1.5: neighbouring-pixel correlation ≈ 0.9, as in CIFAR-10
STANDIN_MEAN_WEIGHT = 0.25  # class signal: nearest-centroid test accuracy ≈ 76%, min-norm linear ≈ 95%
CIFAR_CLASSES = (0, 1)  # airplane, automobile
CIFAR_TRAIN_FILES = tuple(f"data_batch_{i}" for i in range(1, 6))
CIFAR_TEST_FILES = ("test_batch",)
CIFAR_MEAN = (0.4914, 0.4822, 0.4465)  # per-channel statistics of the CIFAR-10 training set (torchvision convention)
CIFAR_STD = (0.2470, 0.2435, 0.2616)
TEACHER_GAIN = 2.0

_STREAM_TEACHER, _STREAM_TRAIN_SET, _STREAM_BATCH, _STREAM_TEST, _STREAM_FLIP = 1, 2, 3, 4, 5
_MASK64 = (1 << 64) - 1


def _splitmix64(z: int) -> int:
    z = (z + 0x9E3779B97F4A7C15) & _MASK64
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK64
    return z ^ (z >> 31)


def stream_seed(seed: int, stream: int, step: int = 0) -> int:
    """A 63-bit generator seed that is a pure function of (seed, stream, step)."""
    z = _splitmix64(int(seed) & _MASK64)
    z = _splitmix64(z ^ (int(stream) & _MASK64))
    z = _splitmix64(z ^ (int(step) & _MASK64))
    return z >> 1


@lru_cache(maxsize=None)
def _tanh_rms(gain: float) -> float:
    """sqrt(E[tanh(gain·z)²]) for z ~ N(0, 1), by Gauss–Hermite quadrature."""
    nodes, weights = np.polynomial.hermite_e.hermegauss(120)
    return float(np.sqrt(np.sum(weights * np.tanh(gain * nodes) ** 2) / np.sqrt(2.0 * np.pi)))


class DataSource:
    """Stacked data for M runs; see the module docstring."""

    def __init__(self, cfg, *, d_in: int, d_out: int, loss: str, batch_size: int, seeds: Sequence[int],
                 device, dtype: torch.dtype):
        _validate(cfg, d_in=d_in, d_out=d_out, loss=loss, batch_size=batch_size, seeds=seeds)
        self.cfg = cfg
        self.kind: str = cfg.kind
        self.d_in, self.d_out, self.loss = d_in, d_out, loss
        self.batch_size = int(batch_size)
        self.device = torch.device(device)
        self.dtype = dtype
        self.seeds = [int(s) for s in seeds]
        self.distinct = sorted(set(self.seeds))
        self._run_to_distinct = torch.tensor([self.distinct.index(s) for s in self.seeds], device=self.device)
        self._gen = torch.Generator(device=self.device)
        self._teachers = None
        self._train = None  # (x [U, n, d_in], y-labels [U, n, ...]) when the training set is fixed
        self._test = None
        if self.kind in TEACHER_KINDS:
            self._teachers = [self._teacher(s) for s in self.distinct]
            if cfg.n_train is not None:
                self._train = self._stack([self._sample(i, s, _STREAM_TRAIN_SET, 0, cfg.n_train, noisy=True)
                                           for i, s in enumerate(self.distinct)])
        else:
            x, labels = _image_set(cfg, split="train")
            self._train = self._broadcast_distinct(x, labels)
        self.n_train: int | None = None if self._train is None else int(self._train[0].shape[1])
        self.full_batch: bool = self.n_train is not None and self.batch_size >= self.n_train
        self._full = self._gather(*self._train) if self.full_batch else None

    # ----- public -----
    def train_batch(self, step: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Batch number `step`: x [M, B, d_in] and targets; B = n_train when full-batch."""
        if self._full is not None:
            return self._full
        if self._train is None:
            return self._gather(*self._stack([self._sample(i, s, _STREAM_BATCH, step, self.batch_size, noisy=True)
                                              for i, s in enumerate(self.distinct)]))
        xs, ys = self._train
        idx = []
        for s in self.distinct:
            self._gen.manual_seed(stream_seed(s, _STREAM_BATCH, step))
            idx.append(torch.randperm(self.n_train, generator=self._gen, device=self.device)[: self.batch_size])
        idx = torch.stack(idx)
        x = torch.gather(xs, 1, idx[:, :, None].expand(-1, -1, xs.shape[2]))
        y = torch.gather(ys, 1, idx if ys.dim() == 2 else idx[:, :, None].expand(-1, -1, ys.shape[2]))
        return self._gather(x, y)

    def test_set(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Held-out set with clean labels: x [M, N, d_in] and targets (built once)."""
        if self._test is None:
            if self.kind in TEACHER_KINDS:
                parts = self._stack([self._sample(i, s, _STREAM_TEST, 0, self.cfg.n_test, noisy=False)
                                     for i, s in enumerate(self.distinct)])
            else:
                parts = self._broadcast_distinct(*_image_set(self.cfg, split="test"))
            self._test = self._gather(*parts)
        return self._test

    # ----- teacher tasks -----
    def _teacher(self, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
        r = min(self.cfg.teacher_rank, self.d_in)
        n_logits = self.d_out if self.kind == "teacher_regression" else self.cfg.n_classes
        self._gen.manual_seed(stream_seed(seed, _STREAM_TEACHER))
        a = torch.randn(r, self.d_in, generator=self._gen, device=self.device, dtype=torch.float64)
        b = torch.randn(r, n_logits, generator=self._gen, device=self.device, dtype=torch.float64)
        a = a / math.sqrt(self.d_in)
        b = b / (math.sqrt(r) * _tanh_rms(TEACHER_GAIN))
        return a.to(self.dtype), b.to(self.dtype)

    def _sample(self, i: int, seed: int, stream: int, step: int, n: int, *, noisy: bool):
        a, b = self._teachers[i]
        self._gen.manual_seed(stream_seed(seed, stream, step))
        x = torch.randn(n, self.d_in, generator=self._gen, device=self.device, dtype=self.dtype)
        f = torch.tanh(TEACHER_GAIN * (x @ a.T)) @ b
        if self.kind == "teacher_regression":
            if noisy and self.cfg.noise > 0:
                f = f + self.cfg.noise * torch.randn(f.shape, generator=self._gen, device=self.device,
                                                     dtype=self.dtype)
            return x, f
        labels = f.argmax(dim=1)
        if noisy and self.cfg.noise > 0:
            k = self.cfg.n_classes
            flip = torch.rand(n, generator=self._gen, device=self.device) < self.cfg.noise
            shift = torch.randint(1, k, (n,), generator=self._gen, device=self.device)
            labels = torch.where(flip, (labels + shift) % k, labels)
        return x, labels

    # ----- assembling -----
    def _stack(self, parts):
        if len(parts) == 1:  # one distinct seed: a view (the gather that follows copies)
            return parts[0][0].unsqueeze(0), parts[0][1].unsqueeze(0)
        return torch.stack([p[0] for p in parts]), torch.stack([p[1] for p in parts])

    def _broadcast_distinct(self, x: np.ndarray, labels: np.ndarray):
        u = len(self.distinct)
        xt = torch.tensor(x, device=self.device, dtype=self.dtype)
        lt = torch.tensor(labels, device=self.device, dtype=torch.int64)
        return xt.expand(u, *xt.shape).contiguous(), lt.expand(u, *lt.shape).contiguous()

    def _gather(self, x: torch.Tensor, y: torch.Tensor):
        """Distinct-seed tensors -> per-run tensors, targets encoded for the loss."""
        x = x.index_select(0, self._run_to_distinct)
        y = y.index_select(0, self._run_to_distinct)
        if self.kind == "teacher_regression":
            return x, y
        if self.loss == "ce":
            return x, y
        if self.d_out == 1:
            return x, y.to(self.dtype)[..., None]
        return x, torch.nn.functional.one_hot(y, self.d_out).to(self.dtype)


def make_data_source(cfg, *, d_in: int, d_out: int, loss: str, batch_size: int, seeds: Sequence[int],
                     device, dtype: torch.dtype) -> DataSource:
    """Data for a bucket of len(seeds) runs; raises DataError (one line) on inconsistent settings."""
    return DataSource(cfg, d_in=d_in, d_out=d_out, loss=loss, batch_size=batch_size, seeds=seeds,
                      device=device, dtype=dtype)


def _validate(cfg, *, d_in, d_out, loss, batch_size, seeds) -> None:
    if cfg.kind not in KINDS:
        raise DataError(f"unknown data kind {cfg.kind!r}; expected one of {', '.join(KINDS)}")
    if loss not in LOSSES:
        raise DataError(f"unknown loss {loss!r}; expected one of {', '.join(LOSSES)}")
    if d_in < 1 or d_out < 1 or batch_size < 1:
        raise DataError(f"d_in, d_out and batch size must be >= 1 (got {d_in}, {d_out}, {batch_size})")
    if len(seeds) == 0:
        raise DataError("a data source needs at least one seed")
    if cfg.n_train is not None and cfg.n_train < 1:
        raise DataError(f"n_train must be >= 1 or None (got {cfg.n_train})")
    if cfg.n_test < 1:
        raise DataError(f"n_test must be >= 1 (got {cfg.n_test})")
    if cfg.kind == "teacher_regression":
        if loss != "mse":
            raise DataError(f"teacher_regression needs loss 'mse' (got {loss!r})")
        if cfg.teacher_rank < 1 or cfg.noise < 0:
            raise DataError(f"teacher_rank must be >= 1 and noise >= 0 (got {cfg.teacher_rank}, {cfg.noise})")
        return
    n_classes = 2 if cfg.kind in IMAGE_KINDS else cfg.n_classes
    if cfg.kind == "teacher_classification":
        if n_classes < 2 or cfg.teacher_rank < 1 or not 0 <= cfg.noise <= 1:
            raise DataError(f"teacher_classification needs n_classes >= 2, teacher_rank >= 1 and 0 <= noise <= 1 "
                            f"(got {cfg.n_classes}, {cfg.teacher_rank}, {cfg.noise})")
    else:
        if d_in != IMAGE_DIM:
            raise DataError(f"{cfg.kind} has {IMAGE_DIM}-dim inputs; d_in is {d_in}")
        if cfg.n_train is not None and cfg.n_train < 2:
            raise DataError(f"{cfg.kind} needs n_train >= 2 (one per class) or None")
    if loss == "ce" and d_out != n_classes:
        raise DataError(f"loss 'ce' needs d_out == n_classes ({d_out} != {n_classes})")
    if loss == "bce" and not (d_out == 1 and n_classes == 2) and d_out != n_classes:
        raise DataError(f"loss 'bce' needs d_out 1 with two classes, or d_out == n_classes (got d_out {d_out})")
    if loss == "mse" and not (d_out == 1 and n_classes == 2) and d_out != n_classes:
        raise DataError(f"classification with loss 'mse' needs d_out == n_classes (got {d_out} != {n_classes})")


# ----- the two-class image sets -----

def _image_set(cfg, *, split: str) -> tuple[np.ndarray, np.ndarray]:
    if split == "train":
        per_class = STANDIN_PER_CLASS if cfg.n_train is None else cfg.n_train // 2
    else:
        per_class = max(1, cfg.n_test // 2)
    if cfg.kind == "two_class_standin":
        return standin_images(per_class, split=split)
    if not cfg.data_dir:
        raise DataError("data kind 'cifar10' needs data_dir (a folder with the CIFAR-10 python batches)")
    return load_cifar10_pair(cfg.data_dir, per_class, split=split)


def unit_rms_rows(x: np.ndarray) -> np.ndarray:
    """Scale each row to RMS 1 (float64)."""
    x = np.asarray(x, dtype=np.float64)
    return x / np.sqrt(np.mean(x * x, axis=1, keepdims=True))


def _smooth_fields(rng: np.random.Generator, n: int, channels: int, size: int = 32) -> np.ndarray:
    """Gaussian random fields [n, channels, size, size] with a natural-image-like 1/f^STANDIN_SPECTRUM amplitude
    spectrum, unit RMS."""
    fy = np.fft.fftfreq(size)[:, None]
    fx = np.fft.fftfreq(size)[None, :]
    amp = np.maximum(np.sqrt(fx * fx + fy * fy), 1.0 / size) ** -STANDIN_SPECTRUM
    white = rng.standard_normal((n, channels, size, size))
    field = np.fft.ifft2(np.fft.fft2(white) * amp).real
    return field / np.sqrt(np.mean(field ** 2))


@lru_cache(maxsize=8)
def _standin_cached(per_class: int, split: str) -> tuple[np.ndarray, np.ndarray]:
    rng_means = np.random.default_rng(STANDIN_SEED)
    means = _luminance_chroma(rng_means, 2)  # one mean image per class, shared by both splits
    rng = np.random.default_rng([STANDIN_SEED, 0 if split == "train" else 1])
    noise = _luminance_chroma(rng, 2 * per_class)
    labels = np.repeat(np.array([0, 1]), per_class)
    images = STANDIN_MEAN_WEIGHT * means[labels] + noise + 0.05 * rng.standard_normal(noise.shape)
    x = unit_rms_rows(images.reshape(2 * per_class, IMAGE_DIM))
    x.setflags(write=False)
    labels.setflags(write=False)
    return x, labels


def _luminance_chroma(rng: np.random.Generator, n: int) -> np.ndarray:
    """Colour images: a shared luminance field plus weaker per-channel (chroma) fields, like RGB photos."""
    lum = _smooth_fields(rng, n, 1)
    chroma = _smooth_fields(rng, n, 3)
    return lum + 0.35 * chroma


def standin_images(per_class: int = STANDIN_PER_CLASS, *, split: str = "train") -> tuple[np.ndarray, np.ndarray]:
    """The synthetic stand-in for the CIFAR-10 airplane/automobile subset: x [2·per_class, 3072] (unit RMS per row,
    laid out as CIFAR's channel-major 3×32×32), labels [2·per_class] in {0, 1}, class 0 first.

    Each image = 0.25·(class mean image) + a fresh image-like field + 5% white noise, every field having a 1/f
    amplitude spectrum and a luminance component shared across the three colour channels; then each row is scaled to
    unit RMS. The class signal is weak enough to make the task CIFAR-like rather than trivial (a nearest-centroid
    rule gets about 76% on the test split, a min-norm least-squares linear classifier about 95%). The fixed seed
    `STANDIN_SEED` makes the set the same for every run, as a fixed image subset is.
    """
    return _standin_cached(int(per_class), split)


def load_cifar10_pair(data_dir: str, per_class: int = STANDIN_PER_CLASS, *, split: str = "train"
                      ) -> tuple[np.ndarray, np.ndarray]:
    """The first `per_class` airplanes (label 0) and automobiles (label 1), in file order, from the CIFAR-10 python
    batches (`data_batch_1..5` for train, `test_batch` for test) in `data_dir`; no download.

    Preprocessing (the paper does not give one): pixels / 255, standardised per colour channel with the usual
    CIFAR-10 channel mean and std (`CIFAR_MEAN`, `CIFAR_STD`, the torchvision convention), then each image scaled to
    unit RMS, matching the stand-in's scale. Returns x [2·per_class, 3072] float64 (class 0 first, channel-major
    3×32×32 as in the files) and labels in {0, 1}.
    """
    names = CIFAR_TRAIN_FILES if split == "train" else CIFAR_TEST_FILES
    _require_dir(data_dir)
    picked = {c: [] for c in CIFAR_CLASSES}
    for name in names:
        if all(len(v) >= per_class for v in picked.values()):
            break
        path = os.path.join(data_dir, name)
        if not os.path.isfile(path):
            raise DataError(f"CIFAR-10 batch file missing: {path} (expected the python version of CIFAR-10)")
        data, labels = _read_cifar_batch(path)
        for c in CIFAR_CLASSES:
            need = per_class - len(picked[c])
            if need > 0:
                picked[c].extend(data[labels == c][:need])
    for c in CIFAR_CLASSES:
        if len(picked[c]) < per_class:
            raise DataError(f"CIFAR-10 files in {data_dir} hold only {len(picked[c])} images of class {c}; "
                            f"{per_class} needed")
    x = np.stack(picked[0] + picked[1]).astype(np.float64).reshape(-1, 3, 1024) / 255.0
    x = ((x - np.array(CIFAR_MEAN)[:, None]) / np.array(CIFAR_STD)[:, None]).reshape(-1, IMAGE_DIM)
    if np.any(np.all(x == 0, axis=1)):
        raise DataError(f"CIFAR-10 files in {data_dir} contain a constant image; cannot scale it to unit RMS")
    return unit_rms_rows(x), np.repeat(np.array([0, 1]), per_class)


def _require_dir(data_dir: str) -> None:
    if not os.path.isdir(data_dir):
        raise DataError(f"CIFAR-10 data directory not found: {data_dir}")


def cifar10_digest(data_dir: str) -> str:
    """sha256 identifying the CIFAR-10 data in `data_dir`: over the name and content digest of every batch file that
    `load_cifar10_pair` may read (`CIFAR_TRAIN_FILES`, `CIFAR_TEST_FILES`), an absent or unreadable file entering as
    such. Equal for the same folder under any path, or for a copy; changed by any change to those files. Raises the
    loader's DataError when the folder does not exist."""
    _require_dir(data_dir)
    h = hashlib.sha256()
    for name in CIFAR_TRAIN_FILES + CIFAR_TEST_FILES:
        h.update(f"{name}\0{_file_digest(os.path.join(data_dir, name))}\n".encode())
    return h.hexdigest()


_FILE_DIGESTS: dict[tuple[int, ...], str] = {}
"""Content sha256 by (device, inode, size, mtime_ns, ctime_ns): each file is read once per process and content."""


def _file_digest(path: str) -> str:
    """sha256 of a file's bytes, "absent" for a missing or non-regular file, "unreadable" when it cannot be read
    (the loader then fails on it, so its bytes cannot reach a run)."""
    try:
        st = os.stat(path)
    except OSError:
        return "absent"
    if not stat.S_ISREG(st.st_mode):
        return "absent"
    sig = (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)
    if sig not in _FILE_DIGESTS:
        try:
            h = hashlib.sha256()
            with open(path, "rb") as f:
                for chunk in iter(lambda: f.read(1 << 20), b""):
                    h.update(chunk)
            _FILE_DIGESTS[sig] = h.hexdigest()
        except OSError:
            return "unreadable"
    return _FILE_DIGESTS[sig]


def _read_cifar_batch(path: str) -> tuple[np.ndarray, np.ndarray]:
    try:
        with open(path, "rb") as f:
            batch = pickle.load(f, encoding="bytes")
        data = np.asarray(batch[b"data"], dtype=np.uint8)
        labels = np.asarray(batch[b"labels"], dtype=np.int64)
    except Exception as exc:  # any unreadable file is one clear error
        raise DataError(f"cannot read CIFAR-10 batch {path}: {type(exc).__name__}: {exc}") from None
    if data.ndim != 2 or data.shape[1] != IMAGE_DIM or labels.shape != (data.shape[0],):
        raise DataError(f"CIFAR-10 batch {path} has data of shape {data.shape}; expected [N, {IMAGE_DIM}]")
    return data, labels
