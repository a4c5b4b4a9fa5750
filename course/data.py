"""The course's data sets, as float32 images in [0, 1] with a fixed validation split.

* Fashion-MNIST: read offline from Debian's ``dataset-fashion-mnist`` files
  (``/usr/share/datasets/fashion-mnist``) or Keras' cache, or downloaded into
  Keras' cache when neither exists and the network allows.
* MNIST: Keras' download and cache (``~/.keras/datasets/mnist.npz``).
* Digits: scikit-learn's bundled 8x8 digits (always offline).

Every file is checked against its SHA-256. The validation split always comes
from the training set; the test set is never used for validation.

Command line: ``course-data status`` and ``course-data fetch NAME``.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import socket
import sys
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # for annotations only: runtime imports this module, not the other way round
    from .runtime import Budget

DEBIAN_FASHION_DIR = Path("/usr/share/datasets/fashion-mnist")
KERAS_ORIGIN = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/"
DOWNLOAD_TIMEOUT_S = 15

FASHION_FILES: dict[str, str] = {
    "train-images-idx3-ubyte.gz": "b0564c3eedabfbf835052cff8503ea422014ce006caf5b757f851416ee8300c7",
    "train-labels-idx1-ubyte.gz": "0ae29f65d86684f32d1b9c85147786c547b9c6aebcaf235f0400a0cce308b056",
    "t10k-images-idx3-ubyte.gz": "cc1d090a38ace84dfa1aa66e3ada7c336ef481a96936906477e6dd344da56eaa",
    "t10k-labels-idx1-ubyte.gz": "8d3605d196f4be44669e46906da9733c8131fef761fdbfec72c424d5222f1a05",
}
GRADING_COPY_ENV = "COURSE_GRADING_FASHION_MNIST"  # set by the grader in a graded kernel
HELD_OUT_FROM = 5_000  # test images from here on are held out of graded kernels
MNIST_FILE = "mnist.npz"
MNIST_SHA256 = "731c5ac602752760c8e48fbffcf8c3b850d9dc2a2aedcf2cc48468fc17b673d1"

FASHION_CLASSES = (
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
)
DIGIT_CLASSES = tuple(str(d) for d in range(10))

FIX = {
    "fashion_mnist": (
        "install Debian's package:  sudo apt-get install dataset-fashion-mnist   "
        "(or, with internet access:  course-data fetch fashion_mnist)"
    ),
    "mnist": "with internet access run:  course-data fetch mnist",
}


class DatasetUnavailable(RuntimeError):
    """A data set could not be found or verified; the message says how to fix it."""


@dataclass(frozen=True)
class Dataset:
    """Images in [0, 1] (float32, shape (N, H, W)) with integer labels."""

    name: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    class_names: tuple[str, ...]
    source: str

    @property
    def image_shape(self) -> tuple[int, ...]:
        return tuple(self.x_train.shape[1:])

    def take(self, budget: Budget) -> Dataset:
        """The first ``budget.n_*`` images of each split (splits stay disjoint)."""
        return replace(
            self,
            x_train=self.x_train[: budget.n_train], y_train=self.y_train[: budget.n_train],
            x_val=self.x_val[: budget.n_val], y_val=self.y_val[: budget.n_val],
            x_test=self.x_test[: budget.n_test], y_test=self.y_test[: budget.n_test],
        )

    def summary(self) -> str:
        return (
            f"{self.name}: train {self.x_train.shape}, val {self.x_val.shape}, "
            f"test {self.x_test.shape}, from {self.source}"
        )


def flatten(images: np.ndarray) -> np.ndarray:
    """(N, H, W[, C]) -> (N, H*W*C), the vectors a dense network reads."""
    return images.reshape(len(images), -1)


def keras_cache_dir() -> Path:
    """Keras' data set cache: ``$KERAS_HOME/datasets`` (default ``~/.keras/datasets``)."""
    home = os.environ.get("KERAS_HOME") or str(Path.home() / ".keras")
    return Path(home) / "datasets"


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _verified(path: Path, expected: str, name: str) -> Path:
    actual = sha256(path)
    if actual != expected:
        raise DatasetUnavailable(
            f"{name}: {path} is corrupt or not the expected file "
            f"(sha256 {actual[:12]}..., expected {expected[:12]}...). "
            f"Delete it, then {FIX[name]}"
        )
    return path


@contextmanager
def _socket_timeout(seconds: float):
    previous = socket.getdefaulttimeout()
    socket.setdefaulttimeout(seconds)
    try:
        yield
    finally:
        socket.setdefaulttimeout(previous)


def _download(fname: str, cache_subdir: str, expected: str, name: str) -> Path:
    """Keras' download into its cache, bounded in time, then verified."""
    import keras

    try:
        with _socket_timeout(DOWNLOAD_TIMEOUT_S):
            path = keras.utils.get_file(
                fname, origin=KERAS_ORIGIN + fname, cache_subdir=cache_subdir
            )
    except Exception as err:  # keras raises a bare Exception offline
        raise DatasetUnavailable(
            f"{name} is not on this machine and could not be downloaded ({err}). {FIX[name]}"
        ) from None
    return _verified(Path(path), expected, name)


def fashion_mnist_dir() -> Path | None:
    """The folder holding all four Fashion-MNIST files, or None."""
    for folder in (DEBIAN_FASHION_DIR, keras_cache_dir() / "fashion-mnist"):
        if all((folder / f).is_file() for f in FASHION_FILES):
            return folder
    return None


def mnist_path() -> Path | None:
    path = keras_cache_dir() / MNIST_FILE
    return path if path.is_file() else None


def describe_source(name: str) -> str:
    """Where ``name`` will be read from, in one line (for the runtime banner)."""
    if name == "fashion_mnist":
        folder = fashion_mnist_dir()
        return f"Fashion-MNIST from {folder}" if folder else "Fashion-MNIST: NOT FOUND, " + FIX[name]
    if name == "mnist":
        path = mnist_path()
        return f"MNIST from {path}" if path else "MNIST: not cached, will download"
    if name == "digits":
        return "8x8 digits bundled with scikit-learn"
    raise ValueError(f"Unknown data set {name!r}; use fashion_mnist, mnist or digits.")


def _read_idx(path: Path) -> np.ndarray:
    """Read a gzipped IDX file (the MNIST family's format) into a uint8 array."""
    with gzip.open(path, "rb") as f:
        raw = f.read()
    ndim = raw[3]
    dims = [int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def _split(
    name: str, x_train: np.ndarray, y_train: np.ndarray, x_test: np.ndarray,
    y_test: np.ndarray, n_val: int, classes: tuple[str, ...], source: str,
) -> Dataset:
    """Scale to [0, 1] float32 and hold out the last ``n_val`` training images."""
    scale = np.float32(255.0) if x_train.dtype == np.uint8 else np.float32(1.0)
    xtr = x_train.astype(np.float32) / scale
    xte = x_test.astype(np.float32) / scale
    cut = len(xtr) - n_val
    return Dataset(
        name, xtr[:cut], y_train[:cut].astype(np.int64), xtr[cut:], y_train[cut:].astype(np.int64),
        xte, y_test.astype(np.int64), classes, source,
    )


def write_grading_copy(path: Path, budget: Budget) -> Path:
    """The Fashion-MNIST a graded kernel gets: ``budget``'s images only, uint8, in one ``.npz``.

    The rest of the test set stays out of the kernel: the training checks measure the
    student's models on it (:func:`held_out_test`).
    """
    full = load_fashion_mnist()
    part = full.take(budget)
    if budget.n_test > HELD_OUT_FROM:
        raise ValueError(f"a grading copy keeps at most {HELD_OUT_FROM} test images")
    arrays = {k: getattr(part, k) for k in ("x_train", "y_train", "x_val", "y_val", "x_test", "y_test")}
    arrays = {k: (np.round(v * 255).astype(np.uint8) if k.startswith("x") else v) for k, v in arrays.items()}
    with open(path, "wb") as f:
        np.savez(f, **arrays)
    return path


def _grading_copy(path: str) -> Dataset:
    with np.load(path, allow_pickle=False) as f:
        arrays = {k: f[k] for k in ("x_train", "y_train", "x_val", "y_val", "x_test", "y_test")}
    x = {k: arrays[k].astype(np.float32) / np.float32(255.0) for k in ("x_train", "x_val", "x_test")}
    return Dataset("Fashion-MNIST", x["x_train"], arrays["y_train"].astype(np.int64), x["x_val"],
                   arrays["y_val"].astype(np.int64), x["x_test"], arrays["y_test"].astype(np.int64),
                   FASHION_CLASSES, "the grader's copy (held-out test images removed)")


def held_out_test(n: int) -> tuple[np.ndarray, np.ndarray]:
    """The last ``n`` Fashion-MNIST test images and labels, which a graded kernel never has.

    The training checks measure students' models on these; while grading, the kernel's
    copy of the data holds only the first test images (:func:`write_grading_copy`).
    """
    if os.environ.get(GRADING_COPY_ENV):
        raise DatasetUnavailable("the held-out test images are not available while grading")
    if not 0 < n <= 10_000 - HELD_OUT_FROM:
        raise ValueError(f"n must be between 1 and {10_000 - HELD_OUT_FROM}")
    folder = fashion_mnist_dir()
    if folder is None:
        load_fashion_mnist()  # downloads into Keras' cache, or says what to install
        folder = keras_cache_dir() / "fashion-mnist"
    images, labels = (_read_idx(_verified(folder / f, FASHION_FILES[f], "fashion_mnist"))
                      for f in ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"))
    return images[-n:].astype(np.float32) / np.float32(255.0), labels[-n:].astype(np.int64)


def load_fashion_mnist(budget: Budget | None = None, n_val: int = 10_000) -> Dataset:
    """Fashion-MNIST (60k train -> 50k train + 10k val, 10k test), 28x28, offline first."""
    if os.environ.get(GRADING_COPY_ENV):
        data = _grading_copy(os.environ[GRADING_COPY_ENV])
        return data.take(budget) if budget else data
    folder = fashion_mnist_dir()
    if folder is None:
        for fname, digest in FASHION_FILES.items():
            _download(fname, "datasets/fashion-mnist", digest, "fashion_mnist")
        folder = keras_cache_dir() / "fashion-mnist"
    arrays = {
        f: _read_idx(_verified(folder / f, d, "fashion_mnist")) for f, d in FASHION_FILES.items()
    }
    data = _split(
        "Fashion-MNIST",
        arrays["train-images-idx3-ubyte.gz"], arrays["train-labels-idx1-ubyte.gz"],
        arrays["t10k-images-idx3-ubyte.gz"], arrays["t10k-labels-idx1-ubyte.gz"],
        n_val, FASHION_CLASSES, str(folder),
    )
    return data.take(budget) if budget else data


def load_mnist(
    budget: Budget | None = None, n_val: int = 10_000, expected_sha256: str = MNIST_SHA256
) -> Dataset:
    """MNIST digits (60k train -> 50k train + 10k val, 10k test), 28x28, via Keras' cache."""
    path = mnist_path()
    if path is None:
        path = _download(MNIST_FILE, "datasets", expected_sha256, "mnist")
    _verified(path, expected_sha256, "mnist")
    with np.load(path) as f:
        x_train, y_train, x_test, y_test = (f[k] for k in ("x_train", "y_train", "x_test", "y_test"))
    data = _split("MNIST", x_train, y_train, x_test, y_test, n_val, DIGIT_CLASSES, str(path))
    return data.take(budget) if budget else data


def load_digits(budget: Budget | None = None) -> Dataset:
    """scikit-learn's 1,797 8x8 digits: 1,257 train / 180 val / 360 test (fixed split)."""
    from sklearn.datasets import load_digits as sklearn_digits
    from sklearn.model_selection import train_test_split

    bunch = sklearn_digits()
    x = (bunch.images / 16.0).astype(np.float32)
    y = bunch.target.astype(np.int64)
    x_rest, x_test, y_rest, y_test = train_test_split(
        x, y, test_size=360, random_state=0, stratify=y
    )
    data = _split(
        "digits", x_rest, y_rest, x_test, y_test, 180, DIGIT_CLASSES, "scikit-learn (bundled)"
    )
    return data.take(budget) if budget else data


LOADERS = {"fashion_mnist": load_fashion_mnist, "mnist": load_mnist, "digits": load_digits}


def load(name: str, budget: Budget | None = None) -> Dataset:
    """Load a data set by name: ``fashion_mnist``, ``mnist`` or ``digits``."""
    if name not in LOADERS:
        raise ValueError(f"Unknown data set {name!r}; use one of {', '.join(LOADERS)}.")
    return LOADERS[name](budget)


def link_fashion_mnist_into_keras_cache() -> Path:
    """Symlink Debian's Fashion-MNIST files into Keras' cache, so that
    ``keras.datasets.fashion_mnist.load_data()`` also works offline."""
    target = keras_cache_dir() / "fashion-mnist"
    target.mkdir(parents=True, exist_ok=True)
    for fname in FASHION_FILES:
        src, dst = DEBIAN_FASHION_DIR / fname, target / fname
        if src.is_file() and not dst.exists():
            dst.symlink_to(src)
    return target


def main(argv: list[str] | None = None) -> int:
    """``course-data status`` | ``course-data fetch NAME`` | ``course-data link``."""
    args = sys.argv[1:] if argv is None else argv
    if not args or args[0] == "status":
        for name in LOADERS:
            print(describe_source(name))
        return 0
    if args[0] == "fetch" and len(args) == 2:
        try:
            print(load(args[1]).summary())
        except DatasetUnavailable as err:
            print(err, file=sys.stderr)
            return 1
        return 0
    if args[0] == "link":
        print(f"linked into {link_fashion_mnist_into_keras_cache()}")
        return 0
    print(main.__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    raise SystemExit(main())
