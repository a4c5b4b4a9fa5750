"""Do the faster compile options give the default's results at the student CPU budget?

Every model the course trains (the library's builders and lecture 04's variants) is fitted
from the same seed, on the same data, for the same epochs and batch size as at the ``cpu``
budget, three ways: Keras' default compile (twice, for the spread), ``steps_per_execution=32``,
and ``steps_per_execution=32`` with XLA (``jit_compile=True``). Reported per epoch: the
largest difference of training and validation loss from the default's, against the
tolerance ``max(10 x spread of the two default runs, 1e-5)``, and the seconds per fit.
``--budget ci`` (2,000 images, 5 epochs, batch 128) is a smoke run: the labs' grading scale.

    python benchmarks/same_results.py [--only deep] [--budget ci|cpu]
"""

from __future__ import annotations

import argparse
import json
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
from keras import layers  # noqa: E402

from course import data, framework, models, runtime  # noqa: E402

SETTINGS = {"default": {}, "spe 32": {"steps_per_execution": 32},
            "XLA + spe 32": {"jit_compile": True, "steps_per_execution": 32}}
FLOOR = 1e-5


def lecture04(code: int, activation="relu", output="sigmoid", l1: float = 0.0, noise: float = 0.0,
              batch: int = 256):
    """Lecture 04's one-hidden-layer autoencoder with its options (L1 per image at ``batch``)."""
    def build():
        image = keras.Input((784,))
        h = layers.GaussianNoise(noise)(image) if noise else image
        penalty = keras.regularizers.L1(framework.per_image_l1(l1, batch)) if l1 else None
        z = layers.Dense(code, activation=activation, activity_regularizer=penalty)(h)
        return keras.Model(image, layers.Dense(784, activation=output)(z))
    return build


def tied():
    layer = framework.TiedDense(32, 784, activation="relu", decode_activation="sigmoid")
    image = keras.Input((784,))
    return keras.Model(image, layer(layer(image), decode=True))


def main() -> dict:
    parser = argparse.ArgumentParser()
    parser.add_argument("--only", default="", help="substring of the model names to check")
    parser.add_argument("--budget", choices=["ci", "cpu"], default="cpu",
                        help="the student CPU budget (default) or the CI/grading one (a smoke run)")
    args = parser.parse_args()
    budget = runtime.BUDGETS[args.budget]
    b = budget.batch_size
    fashion = data.load_fashion_mnist(budget)
    flat = {"train": data.flatten(fashion.x_train), "val": data.flatten(fashion.x_val)}
    square = {"train": fashion.x_train[:10_000, ..., None], "val": fashion.x_val[:2_000, ..., None]}
    sparse_l1 = framework.per_image_l1(1e-4, budget.batch_size)
    # name: (build, loss, data, n_train); sizes as the lectures use them on a CPU
    cases = {
        "dense 784-32-784 (05, 11, 12)": (lambda: models.dense_autoencoder(784, 32)[2], "bce", flat, None),
        "sparse 784-32-784 (06)": (lambda: models.dense_autoencoder(784, 32, sparse_l1)[2], "bce", flat,
                                   None),
        "deep 784-128-64-32 (07)": (lambda: models.deep_autoencoder()[2], "bce", flat, None),
        "latent 2-D 784-256-64-2 (09)": (lambda: models.latent_2d_autoencoder()[2], "bce", flat, None),
        "784-1024-784 (04)": (lecture04(1024), "bce", flat, 25_000),
        "784-1024-784 + L1 (04)": (lecture04(1024, l1=1e-3, batch=b), "bce", flat, 25_000),
        "784-1024-784 + input noise (04)": (lecture04(1024, noise=0.5), "bce", flat, 25_000),
        "linear 784-8-784, MSE (04)": (lecture04(8, None, None), "mse", flat, None),
        "tied 784-32-784 (04)": (tied, "bce", flat, None),
        "conv 4x4x8 (08)": (lambda: models.conv_autoencoder()[2], "bce", square, None),
        "conv denoiser (10)": (lambda: models.conv_denoiser(), "bce", square, None),
    }
    result = {"budget": budget.describe(), "scale": budget.scale, "keras": keras.__version__,
              "load_average_start": os.getloadavg(), "models": {}}
    for name, (build, loss, arrays, n) in cases.items():
        if args.only not in name:
            continue
        conv = arrays is square
        epochs, batch = budget.epochs, budget.batch_size
        if conv:  # on a CPU lectures 08 and 10 train conv models for few epochs, the denoiser at half batch
            epochs = min(budget.epochs, 3)
            batch = max(32, budget.batch_size // 2) if "denoiser" in name else budget.batch_size
        histories, seconds = {}, {}
        for label in ("default", "default (repeat)", "spe 32", "XLA + spe 32"):
            keras.utils.set_random_seed(runtime.SEED)
            model = build()
            model.compile(optimizer=keras.optimizers.Adam(1e-3),
                          loss="binary_crossentropy" if loss == "bce" else "mse",
                          **SETTINGS[label.replace(" (repeat)", "")])
            x, x_val = arrays["train"][:n], arrays["val"]
            start = time.perf_counter()
            histories[label] = model.fit(x, x, epochs=epochs, batch_size=batch, shuffle=True,
                                         validation_data=(x_val, x_val), verbose=0).history
            seconds[label] = time.perf_counter() - start

        def diff(a: dict, b: dict) -> float:
            return max(abs(u - v) for key in ("loss", "val_loss")
                       for u, v in zip(a[key], b[key], strict=True))

        spread = diff(histories["default"], histories["default (repeat)"])
        tolerance = max(10 * spread, FLOOR)
        row = {"epochs": epochs, "batch": batch, "images": len(arrays["train"][:n]), "spread": spread,
               "tolerance": tolerance, "final_loss": histories["default"]["loss"][-1],
               "final_val_loss": histories["default"]["val_loss"][-1], "seconds": seconds, "settings": {}}
        for label in ("spe 32", "XLA + spe 32"):
            d = diff(histories[label], histories["default"])
            row["settings"][label] = {"max_loss_diff": d, "same": d <= tolerance,
                                      "seconds": seconds[label]}
        result["models"][name] = row
        print(f"{name:42s} default {seconds['default']:6.1f} s; " + "; ".join(
            f"{label}: diff {s['max_loss_diff']:.1e} {'same' if s['same'] else 'DIFFERENT'} "
            f"{s['seconds']:6.1f} s" for label, s in row["settings"].items()) + f" (tol {tolerance:.0e})",
            flush=True)
    result["load_average_end"] = os.getloadavg()
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    main()
