"""The course in one table: every reference model trained on the same data at the same budget.

:func:`results_table` fits PCA (k=32 and, for a fair match with the conv code, k=128),
the dense, sparse, deep and convolutional autoencoders of :mod:`course.models` on one
data set and reports each one's test reconstruction error (MSE, binary cross-entropy,
PSNR). :func:`as_markdown` renders the rows; :func:`with_reference` puts the Keras
blog's MNIST losses next to rows computed on MNIST.
"""

from __future__ import annotations

import time

import keras
import numpy as np

from . import data, metrics, models
from .framework import per_image_l1
from .pca import fit_pca
from .runtime import SEED, Budget

KERAS_BLOG_URL = "https://blog.keras.io/building-autoencoders-in-keras.html"
# Binary cross-entropy on MNIST as the Keras blog states it (validation = MNIST's test set):
# dense "about 0.09" after 50 epochs; sparse "test loss of 0.10" after 100; deep "~0.08"
# after 100; conv "converges to a loss of 0.094" after 50 (the slides quote this one).
KERAS_BLOG_MNIST_BCE: dict[str, float] = {"dense": 0.09, "sparse": 0.10, "deep": 0.08, "conv": 0.094}
REFERENCE_COLUMN = "Keras blog BCE (MNIST)"

SPARSE_L1 = 1e-4  # the Keras blog's regularizers.l1(10e-5) on the code


def conv_epochs_for(budget: Budget) -> int:
    """Epochs for the conv autoencoder: the budget's on a GPU, at most 3 on a CPU (slow there)."""
    return budget.epochs if budget.scale == "gpu" else min(budget.epochs, 3)


def _row(key: str, model: str, code_size: int, epochs: int | None, n_train: int,
         x_test: np.ndarray, x_hat: np.ndarray, seconds: float) -> dict:
    x_hat = np.clip(np.asarray(x_hat, dtype=np.float64).reshape(x_test.shape), 0.0, 1.0)
    return {
        "key": key, "model": model, "code size": code_size,
        "epochs": epochs if epochs is not None else "-", "train images": n_train,
        "test MSE": float(metrics.reconstruction_errors(x_test, x_hat).mean()),
        "test BCE": metrics.binary_crossentropy(x_test, x_hat),
        "PSNR (dB)": float(metrics.psnr(x_test, x_hat)),
        "seconds": seconds,
    }


def _train(autoencoder: keras.Model, x_train: np.ndarray, x_val: np.ndarray, budget: Budget,
           epochs: int, verbose: int) -> None:
    models.compile_for_images(autoencoder)
    autoencoder.fit(x_train, x_train, epochs=epochs, batch_size=budget.batch_size, shuffle=True,
                    validation_data=(x_val, x_val), verbose=verbose)


def results_table(budget: Budget, dataset: data.Dataset | None = None, *, l1: float = SPARSE_L1,
                  conv_epochs: int | None = None, verbose: int = 0) -> list[dict]:
    """Train each reference model on ``dataset`` (default Fashion-MNIST) at ``budget``;
    one row per model with its test MSE, BCE and PSNR. Seeds are reset per model."""
    ds = (dataset if dataset is not None else data.load_fashion_mnist()).take(budget)
    x_train, x_val, x_test = (data.flatten(x) for x in (ds.x_train, ds.x_val, ds.x_test))
    n, dim = len(x_train), x_train.shape[1]
    conv_epochs = conv_epochs or conv_epochs_for(budget)
    rows = []

    def pca_row(k: int) -> dict:
        start = time.perf_counter()
        pca = fit_pca(x_train, k)
        x_hat = pca.decode(pca.encode(x_test))
        return _row(f"pca{k}", f"PCA, k={k}", k, None, n, x_test, x_hat, time.perf_counter() - start)

    dense_like = (
        ("dense", f"dense {dim}-32-{dim}", lambda: models.dense_autoencoder(dim, 32)),
        ("sparse", f"sparse {dim}-32-{dim}, L1 {l1:g} on code",  # l1 per image on any Keras 3
         lambda: models.dense_autoencoder(dim, 32, per_image_l1(l1, budget.batch_size))),
        ("deep", f"deep {dim}-128-64-32-…-{dim}", lambda: models.deep_autoencoder(dim, (128, 64), 32)),
    )
    rows.append(pca_row(32))
    for key, name, build in dense_like:
        keras.utils.set_random_seed(SEED)
        start = time.perf_counter()
        _, _, autoencoder = build()
        _train(autoencoder, x_train, x_val, budget, budget.epochs, verbose)
        x_hat = autoencoder.predict(x_test, verbose=0)
        rows.append(_row(key, name, 32, budget.epochs, n, x_test, x_hat, time.perf_counter() - start))
    rows.append(pca_row(128))

    keras.utils.set_random_seed(SEED)
    start = time.perf_counter()
    images = (ds.x_train[..., None], ds.x_val[..., None], ds.x_test[..., None])
    encoder, _, autoencoder = models.conv_autoencoder(images[0].shape[1:])
    _train(autoencoder, images[0], images[1], budget, conv_epochs, verbose)
    code_size = int(np.prod(encoder.output_shape[1:]))
    x_hat = autoencoder.predict(images[2], verbose=0)
    rows.append(_row("conv", "conv, code 4x4x8", code_size, conv_epochs, n, x_test, x_hat,
                     time.perf_counter() - start))
    return rows


def with_reference(rows: list[dict], reference: dict[str, float] | None = None) -> list[dict]:
    """The rows with a column of published figures (default: the Keras blog's MNIST BCE),
    '-' where none was published."""
    reference = KERAS_BLOG_MNIST_BCE if reference is None else reference
    return [{**row, REFERENCE_COLUMN: reference.get(row["key"], "-")} for row in rows]


def _cell(column: str, value: object) -> str:
    if not isinstance(value, float):
        return f"{value:,}" if isinstance(value, int) else str(value)
    if column == REFERENCE_COLUMN:
        return f"{value:g}"
    if column == "seconds":
        return f"{value:.1f}"
    return f"{value:.2f}" if column.startswith("PSNR") else f"{value:.4f}"


def as_markdown(rows: list[dict]) -> str:
    """A Markdown table of the rows (every column but the internal ``key``)."""
    columns = [c for c in rows[0] if c != "key"]
    lines = ["| " + " | ".join(columns) + " |", "|" + " --- |" * len(columns)]
    lines += ["| " + " | ".join(_cell(c, row[c]) for c in columns) + " |" for row in rows]
    return "\n".join(lines)
