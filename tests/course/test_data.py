"""course.data on the real files, and its errors when files are missing or wrong."""

from __future__ import annotations

import gzip
import hashlib
import time
from pathlib import Path

import numpy as np
import pytest

from course import data
from course.runtime import BUDGETS


@pytest.fixture
def no_local_data(monkeypatch, tmp_path):
    """No Debian files, an empty Keras cache, and a download origin that refuses at once."""
    monkeypatch.setattr(data, "DEBIAN_FASHION_DIR", tmp_path / "no-debian")
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    monkeypatch.setattr(data, "KERAS_ORIGIN", "http://127.0.0.1:9/")
    return tmp_path / "keras" / "datasets"


def test_fashion_mnist_is_real_scaled_and_split_from_training():
    d = data.load_fashion_mnist()
    assert d.x_train.shape == (50_000, 28, 28) and d.x_val.shape == (10_000, 28, 28)
    assert d.x_test.shape == (10_000, 28, 28)
    for x in (d.x_train, d.x_val, d.x_test):
        assert x.dtype == np.float32 and x.min() == 0.0 and x.max() == 1.0
    assert sorted(np.unique(d.y_train)) == list(range(10)) and len(d.class_names) == 10
    # validation = the last 10,000 *training* images of the IDX file, never test images
    raw = data._read_idx(data.fashion_mnist_dir() / "train-images-idx3-ubyte.gz")
    np.testing.assert_array_equal(d.x_val, raw[50_000:].astype(np.float32) / 255)
    test_raw = data._read_idx(data.fashion_mnist_dir() / "t10k-images-idx3-ubyte.gz")
    np.testing.assert_array_equal(d.x_test, test_raw.astype(np.float32) / 255)
    # the first training image is an ankle boot (label 9), as in every Fashion-MNIST copy
    assert d.y_train[0] == 9 and d.class_names[9] == "Ankle boot"


def test_budget_takes_the_first_images_of_each_split():
    full = data.load_fashion_mnist()
    ci = data.load_fashion_mnist(BUDGETS["ci"])
    assert len(ci.x_train) == BUDGETS["ci"].n_train and len(ci.x_test) == BUDGETS["ci"].n_test
    np.testing.assert_array_equal(ci.x_val, full.x_val[: BUDGETS["ci"].n_val])
    assert data.flatten(ci.x_train).shape == (BUDGETS["ci"].n_train, 784)


def test_fashion_mnist_missing_names_the_fix_within_seconds(no_local_data):
    start = time.monotonic()
    with pytest.raises(data.DatasetUnavailable) as err:
        data.load_fashion_mnist()
    assert time.monotonic() - start < 10
    assert "fashion_mnist" in str(err.value)
    assert "apt-get install dataset-fashion-mnist" in str(err.value)
    assert "NOT FOUND" in data.describe_source("fashion_mnist")


def test_fashion_mnist_corrupt_file_is_refused(no_local_data):
    folder = no_local_data / "fashion-mnist"
    folder.mkdir(parents=True)
    for name in data.FASHION_FILES:
        (folder / name).write_bytes(gzip.compress(b"\0\0\x08\x01" + b"\0\0\0\0"))
    with pytest.raises(data.DatasetUnavailable, match="corrupt or not the expected file"):
        data.load_fashion_mnist()


def _write_small_mnist(path: Path, n_train: int = 30, n_test: int = 10) -> str:
    """A tiny file in Keras' mnist.npz format; returns its sha256."""
    rng = np.random.default_rng(0)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as f:
        np.savez(f, x_train=rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
                 y_train=rng.integers(0, 10, n_train, dtype=np.uint8),
                 x_test=rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
                 y_test=rng.integers(0, 10, n_test, dtype=np.uint8))
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_mnist_reads_keras_cache_format(no_local_data):
    digest = _write_small_mnist(no_local_data / "mnist.npz")
    d = data.load_mnist(n_val=5, expected_sha256=digest)
    assert d.x_train.shape == (25, 28, 28) and d.x_val.shape == (5, 28, 28)
    assert d.x_test.shape == (10, 28, 28) and d.x_train.dtype == np.float32
    assert 0 <= d.x_train.min() and d.x_train.max() <= 1 and d.y_test.dtype == np.int64
    assert "MNIST from" in data.describe_source("mnist")


def test_mnist_with_wrong_checksum_is_refused(no_local_data):
    _write_small_mnist(no_local_data / "mnist.npz")  # not the real file: checksum differs
    with pytest.raises(data.DatasetUnavailable, match="corrupt .* Delete it"):
        data.load_mnist()


def test_mnist_offline_names_the_fix_within_seconds(no_local_data):
    start = time.monotonic()
    with pytest.raises(data.DatasetUnavailable, match="course-data fetch mnist"):
        data.load_mnist()
    assert time.monotonic() - start < 10


def test_digits_are_bundled_and_split():
    d = data.load_digits()
    assert d.x_train.shape == (1257, 8, 8) and d.x_val.shape == (180, 8, 8)
    assert d.x_test.shape == (360, 8, 8)
    assert d.x_train.dtype == np.float32 and d.x_train.max() == 1.0 and d.x_train.min() == 0.0
    again = data.load_digits()
    np.testing.assert_array_equal(d.x_test, again.x_test)  # the split is fixed


def test_unknown_name_is_a_clear_error():
    with pytest.raises(ValueError, match="fashion_mnist, mnist, digits"):
        data.load("cifar")


def test_cli_status_and_fetch(capsys, no_local_data):
    assert data.main(["status"]) == 0
    assert "8x8 digits" in capsys.readouterr().out
    assert data.main(["fetch", "mnist"]) == 1
    assert "course-data fetch mnist" in capsys.readouterr().err
