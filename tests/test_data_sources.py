"""synthetic.data: determinism, shapes and dtypes, teacher statistics, the stand-in set, the CIFAR-10 loader."""

import os
import pickle

import numpy as np
import pytest
import torch

from synthetic.config import DataConfig
from synthetic.data import (IMAGE_DIM, CIFAR_MEAN, CIFAR_STD, load_cifar10_pair, make_data_source,
                            standin_images)
from synthetic.errors import DataError


def source(seeds, *, kind="teacher_regression", d_in=16, d_out=1, loss="mse", batch=32, dtype=torch.float64, **kw):
    return make_data_source(DataConfig(kind=kind, **kw), d_in=d_in, d_out=d_out, loss=loss, batch_size=batch,
                            seeds=seeds, device="cpu", dtype=dtype)


def test_same_seed_same_data_across_sources_and_order():
    a = source([0, 1, 0])
    b = source([1, 0])
    xa, ya = a.train_batch(5)
    assert xa.shape == (3, 32, 16) and ya.shape == (3, 32, 1) and xa.dtype == torch.float64
    assert torch.equal(xa[0], xa[2]) and torch.equal(ya[0], ya[2])
    assert not torch.equal(xa[0], xa[1])
    b.train_batch(0), b.train_batch(1)  # other calls first: batch 5 must not depend on them
    xb, yb = b.train_batch(5)
    assert torch.equal(xb[1], xa[0]) and torch.equal(yb[0], ya[1])
    x6, _ = a.train_batch(6)
    assert not torch.equal(x6, xa)
    assert torch.equal(a.train_batch(5)[0], xa)


def test_teacher_regression_statistics_match_the_definition():
    src = source([3], d_in=64, batch=4096, teacher_rank=4, noise=0.5, n_test=4096)
    x, y = src.train_batch(0)
    xt, yt = src.test_set()
    assert abs(float(x.pow(2).mean()) - 1.0) < 0.02  # unit RMS inputs
    a, b = src._teachers[0]
    assert torch.linalg.matrix_rank(a).item() == 4
    clean = torch.tanh(2.0 * (x[0] @ a.T)) @ b
    resid = y[0] - clean
    assert abs(float(resid.std()) - 0.5) < 0.02  # label noise std = noise
    assert torch.allclose(yt[0], torch.tanh(2.0 * (xt[0] @ a.T)) @ b)  # test labels are clean
    # clean targets have unit variance on average over teachers (c normalises E[tanh²])
    vars_ = [float(source([s], d_in=64, batch=2048, teacher_rank=8).test_set()[1].var()) for s in range(12)]
    assert 0.7 < np.mean(vars_) < 1.3


def test_classification_flip_rate_and_encodings():
    src = source([0], kind="teacher_classification", d_in=16, d_out=3, loss="ce", batch=20000, n_classes=3,
                 noise=0.2, n_test=20000)
    _, labels = src.train_batch(0)
    assert labels.dtype == torch.int64 and labels.shape == (1, 20000)
    clean = src._teachers[0]
    x, _ = src.train_batch(0)
    teacher_labels = (torch.tanh(2.0 * (x[0] @ clean[0].T)) @ clean[1]).argmax(1)
    assert abs(float((labels[0] != teacher_labels).double().mean()) - 0.2) < 0.015
    _, yt = src.test_set()
    assert set(torch.unique(yt).tolist()) <= {0, 1, 2}
    bce = source([0], kind="teacher_classification", d_out=1, loss="bce", batch=8)
    _, yb = bce.train_batch(0)
    assert yb.shape == (1, 8, 1) and yb.dtype == torch.float64 and set(yb.unique().tolist()) <= {0.0, 1.0}
    onehot = source([0], kind="teacher_classification", d_out=2, loss="mse", batch=8)
    _, yo = onehot.train_batch(0)
    assert yo.shape == (1, 8, 2) and torch.all(yo.sum(-1) == 1)


def test_fixed_training_set_full_batch_and_minibatches():
    full = source([0, 1], n_train=50, batch=64, dtype=torch.float32)
    x0, y0 = full.train_batch(0)
    assert full.full_batch and x0.shape == (2, 50, 16) and x0.dtype == torch.float32
    assert torch.equal(full.train_batch(9)[0], x0)
    mini = source([0, 1], n_train=50, batch=10, dtype=torch.float32)
    xm, ym = mini.train_batch(3)
    assert xm.shape == (2, 10, 16) and not mini.full_batch
    for m in range(2):  # every minibatch row is a row of the run's own fixed set, without repeats
        match = (xm[m][:, None, :] == x0[m][None, :, :]).all(-1)
        assert torch.all(match.sum(1) == 1)
        rows = match.float().argmax(1)
        assert rows.unique().numel() == 10
        assert torch.equal(ym[m], y0[m][rows])
    assert not torch.equal(mini.train_batch(4)[0], xm)


def test_standin_is_fixed_unit_rms_two_class_and_image_like():
    x, labels = standin_images()
    assert x.shape == (200, IMAGE_DIM) and labels.tolist() == [0] * 100 + [1] * 100
    np.testing.assert_allclose(np.sqrt((x ** 2).mean(axis=1)), 1.0, rtol=1e-12)
    img = x.reshape(200, 3, 32, 32)
    # neighbouring pixels are strongly correlated (image-like), unlike isotropic noise
    neighbour = np.corrcoef(img[..., :-1].ravel(), img[..., 1:].ravel())[0, 1]
    assert neighbour > 0.8
    # colour channels share a luminance component
    assert np.corrcoef(img[:, 0].ravel(), img[:, 2].ravel())[0, 1] > 0.5
    # the classes differ: a nearest-centroid rule beats chance clearly on the held-out split, but not perfectly
    xt, lt = standin_images(split="test")
    m0, m1 = x[labels == 0].mean(0), x[labels == 1].mean(0)
    acc = np.mean((((xt - m1) ** 2).sum(1) < ((xt - m0) ** 2).sum(1)) == lt)
    assert 0.65 < acc < 0.9
    src = source([5, 6], kind="two_class_standin", d_in=IMAGE_DIM, loss="bce", batch=200)
    xs, ys = src.train_batch(0)
    assert xs.shape == (2, 200, IMAGE_DIM) and ys.shape == (2, 200, 1)
    assert torch.equal(xs[0], xs[1]) and np.allclose(xs[0].numpy(), x)  # independent of the run seed


def write_cifar(tmp_path, per_file, with_test=True):
    rng = np.random.default_rng(0)
    files = {}
    names = [f"data_batch_{i}" for i in range(1, 6)] + (["test_batch"] if with_test else [])
    for name in names:
        data = rng.integers(0, 256, size=(per_file, IMAGE_DIM), dtype=np.uint8)
        labels = [int(v) for v in rng.integers(0, 10, size=per_file)]
        with open(tmp_path / name, "wb") as f:
            pickle.dump({b"data": data, b"labels": labels, b"batch_label": name.encode()}, f)
        files[name] = (data, np.array(labels))
    return files


def test_cifar_loader_selects_first_airplanes_and_automobiles(tmp_path):
    files = write_cifar(tmp_path, per_file=40)
    x, labels = load_cifar10_pair(str(tmp_path), per_class=10)
    data = np.concatenate([files[f"data_batch_{i}"][0] for i in range(1, 6)])
    lab = np.concatenate([files[f"data_batch_{i}"][1] for i in range(1, 6)])
    want = np.concatenate([data[lab == 0][:10], data[lab == 1][:10]]).astype(np.float64) / 255.0
    want = (want.reshape(-1, 3, 1024) - np.array(CIFAR_MEAN)[:, None]) / np.array(CIFAR_STD)[:, None]
    want = want.reshape(-1, IMAGE_DIM)
    want /= np.sqrt((want ** 2).mean(1, keepdims=True))
    np.testing.assert_allclose(x, want, rtol=1e-12)
    assert labels.tolist() == [0] * 10 + [1] * 10
    src = source([0], kind="cifar10", d_in=IMAGE_DIM, loss="ce", d_out=2, batch=500, data_dir=str(tmp_path),
                 n_train=20, n_test=6)
    xs, ys = src.train_batch(0)
    assert xs.shape == (1, 20, IMAGE_DIM) and ys.tolist() == [labels.tolist()]
    xt, yt = src.test_set()
    test_data, test_lab = files["test_batch"]
    assert xt.shape == (1, 6, IMAGE_DIM) and yt.tolist() == [[0, 0, 0, 1, 1, 1]]
    first_test_plane = test_data[test_lab == 0][0].astype(np.float64)
    assert np.corrcoef(xt[0, 0].numpy(), first_test_plane)[0, 1] > 0.9


def test_cifar_errors_are_one_line(tmp_path):
    with pytest.raises(DataError, match="not found"):
        load_cifar10_pair(str(tmp_path / "nope"))
    write_cifar(tmp_path, per_file=5)
    with pytest.raises(DataError, match="only") as e:
        load_cifar10_pair(str(tmp_path), per_class=100)
    assert "\n" not in str(e.value)
    os.remove(tmp_path / "data_batch_1")
    with pytest.raises(DataError, match="data_batch_1"):
        load_cifar10_pair(str(tmp_path), per_class=1)
    (tmp_path / "data_batch_1").write_bytes(b"not a pickle")
    with pytest.raises(DataError, match="cannot read"):
        load_cifar10_pair(str(tmp_path), per_class=1)
    with pytest.raises(DataError, match="data_dir"):
        source([0], kind="cifar10", d_in=IMAGE_DIM, loss="bce")


@pytest.mark.parametrize("kw, match", [
    (dict(loss="ce"), "mse"),
    (dict(kind="two_class_standin", loss="bce"), "3072"),
    (dict(kind="teacher_classification", loss="ce", d_out=3), "n_classes"),
    (dict(n_train=0), "n_train"),
])
def test_inconsistent_settings_raise_data_error(kw, match):
    with pytest.raises(DataError, match=match):
        source([0], **kw)


def cifar_run(data_dir):
    from synthetic.config import ModelConfig, RunConfig

    return RunConfig(model=ModelConfig(width=8, depth=1, d_in=IMAGE_DIM, d_out=2), loss="ce", steps=2, batch_size=4,
                     data=DataConfig(kind="cifar10", n_train=4, n_test=2, data_dir=data_dir))


def test_cifar_run_id_follows_the_files_not_the_path(tmp_path, monkeypatch):
    from synthetic.engine import run_id

    folder = tmp_path / "cifar"
    folder.mkdir()
    write_cifar(folder, per_file=5)
    original = run_id(cifar_run(str(folder)))
    monkeypatch.chdir(tmp_path)
    assert run_id(cifar_run("cifar")) == original
    assert run_id(cifar_run("./cifar/../cifar/")) == original
    key_json = cifar_run(str(folder)).canonical_json()
    assert str(tmp_path) not in key_json and "data_dir" not in key_json
    assert cifar_run("cifar").bucket_key() == cifar_run(str(folder)).bucket_key()
    copy = tmp_path / "copy"
    copy.mkdir()
    for f in folder.iterdir():
        (copy / f.name).write_bytes(f.read_bytes())
    assert run_id(cifar_run(str(copy))) == original
    (copy / "batches.meta").write_bytes(b"not read by the loader")
    assert run_id(cifar_run(str(copy))) == original

    raw = bytearray((folder / "data_batch_3").read_bytes())
    raw[-200] ^= 1  # one pixel bit, same size
    (folder / "data_batch_3").write_bytes(bytes(raw))
    changed = run_id(cifar_run("cifar"))
    assert changed != original
    assert run_id(cifar_run(str(folder))) == changed
    (folder / "test_batch").unlink()
    assert run_id(cifar_run(str(folder))) not in (original, changed)


def test_cifar_run_id_needs_an_existing_folder(tmp_path):
    from synthetic.engine import run_id, train_bucket

    with pytest.raises(DataError, match="CIFAR-10 data directory not found: .*nope"):
        run_id(cifar_run(str(tmp_path / "nope")))
    with pytest.raises(DataError, match="needs data_dir"):
        train_bucket([cifar_run(None)])
