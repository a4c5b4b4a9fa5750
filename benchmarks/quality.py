"""Quality of the course's models on Fashion-MNIST (and MNIST when it is available).

* the course's results table (PCA, dense, sparse, deep, conv) at one budget;
* test error against code size for PCA and the dense autoencoder (PNG curve);
* denoising: PSNR of noisy inputs vs the conv denoiser's outputs;
* anomaly detection: ROC AUC of reconstruction error, footwear as the normal family.

    python benchmarks/quality.py [--budget cpu]

Prints a JSON object whose "markdown" holds the report section.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import matplotlib  # noqa: E402

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from course import anomaly, corruptions, data, metrics, models, results, runtime  # noqa: E402
from course.pca import fit_pca  # noqa: E402

HERE = Path(__file__).resolve().parent
CODE_SIZES = (2, 4, 8, 16, 32, 64, 128)
FOOTWEAR = (5, 7, 9)  # Sandal, Sneaker, Ankle boot


def fit(autoencoder: keras.Model, x: np.ndarray, x_val: np.ndarray, budget: runtime.Budget,
        target: np.ndarray | None = None, epochs: int | None = None) -> keras.Model:
    models.compile_for_images(autoencoder)
    autoencoder.fit(x, x if target is None else target, epochs=epochs or budget.epochs,
                    batch_size=budget.batch_size, shuffle=True, verbose=0,
                    validation_data=(x_val, x_val) if target is None else None)
    return autoencoder


def error_vs_code_size(ds: data.Dataset, budget: runtime.Budget) -> dict:
    x_train, x_val, x_test = (data.flatten(x) for x in (ds.x_train, ds.x_val, ds.x_test))
    curve = {"code size": list(CODE_SIZES), "PCA MSE": [], "dense MSE": []}
    for k in CODE_SIZES:
        pca = fit_pca(x_train, k)
        x_hat = np.clip(pca.decode(pca.encode(x_test)), 0, 1)
        curve["PCA MSE"].append(float(metrics.reconstruction_errors(x_test, x_hat).mean()))
        runtime.seed_everything()
        _, _, ae = models.dense_autoencoder(x_train.shape[1], k)
        fit(ae, x_train, x_val, budget)
        x_hat = ae.predict(x_test, verbose=0)
        curve["dense MSE"].append(float(metrics.reconstruction_errors(x_test, x_hat).mean()))
    fig, ax = plt.subplots(figsize=(5.5, 3.5))
    ax.plot(CODE_SIZES, curve["PCA MSE"], "o-", label="PCA")
    ax.plot(CODE_SIZES, curve["dense MSE"], "s-", label=f"dense AE ({budget.epochs} epochs)")
    ax.set_xscale("log", base=2)
    ax.set_xlabel("code size")
    ax.set_ylabel("test MSE")
    ax.legend()
    fig.tight_layout()
    fig.savefig(HERE / "error_vs_code_size.png", dpi=100)
    plt.close(fig)
    return curve


def denoising(ds: data.Dataset, budget: runtime.Budget, std: float = 0.5) -> dict:
    n = min(len(ds.x_train), 20_000)
    x, x_test = ds.x_train[:n, ..., None], ds.x_test[..., None]
    runtime.seed_everything()
    net = models.conv_denoiser()
    fit(net, corruptions.gaussian_noise(x, std, seed=1), None, budget, target=x,
        epochs=results.conv_epochs_for(budget))
    noisy = corruptions.gaussian_noise(x_test, std, seed=2)
    out = net.predict(noisy, verbose=0)
    return {"noise std": std, "train images": n, "PSNR noisy": metrics.psnr(x_test, noisy),
            "PSNR denoised": metrics.psnr(x_test, out),
            "gain dB": metrics.psnr(x_test, out) - metrics.psnr(x_test, noisy)}


def anomaly_auc(ds: data.Dataset, budget: runtime.Budget) -> dict:
    normal = lambda y: np.isin(y, FOOTWEAR)  # noqa: E731
    x_train = data.flatten(ds.x_train[normal(ds.y_train)])
    x_val = data.flatten(ds.x_val[normal(ds.y_val)])
    x_test, is_anomaly = data.flatten(ds.x_test), ~normal(ds.y_test)
    runtime.seed_everything()
    _, _, ae = models.dense_autoencoder(x_train.shape[1], 32)
    fit(ae, x_train, x_val, budget)
    errors = lambda x: metrics.reconstruction_errors(x, ae.predict(x, verbose=0))  # noqa: E731
    threshold = anomaly.threshold_from_validation(errors(x_val), 0.99)
    test_errors = errors(x_test)
    found = anomaly.detect(test_errors, is_anomaly, threshold)
    return {"normal": "footwear (Sandal, Sneaker, Ankle boot)", "threshold (val 99%)": threshold,
            "precision": found.precision, "recall": found.recall,
            "ROC AUC": anomaly.roc_curve(test_errors, is_anomaly)[2]}


def main() -> dict:
    parser = argparse.ArgumentParser()
    parser.add_argument("--budget", choices=runtime.SCALES, default="cpu")
    args = parser.parse_args()
    budget = runtime.budget(args.budget)
    runtime.seed_everything()
    fashion = data.load_fashion_mnist(budget)
    table = results.results_table(budget, fashion)
    curve = error_vs_code_size(fashion, budget)
    noise = denoising(fashion, budget)
    detect = anomaly_auc(fashion, budget)
    try:
        mnist_rows = results.with_reference(results.results_table(budget, data.load_mnist(budget)))
        mnist = results.as_markdown(mnist_rows)
    except data.DatasetUnavailable as err:
        mnist = f"MNIST was not available, so the Keras blog's MNIST figures are not compared ({err})."
    md = "\n\n".join([
        f"Fashion-MNIST at the `{budget.scale}` budget ({budget.describe()}):",
        results.as_markdown(table),
        "Test MSE against code size (PCA vs the dense autoencoder):",
        "| code size | " + " | ".join(map(str, CODE_SIZES)) + " |\n|---|" + "---|" * len(CODE_SIZES)
        + "\n| PCA | " + " | ".join(f"{v:.4f}" for v in curve["PCA MSE"]) + " |"
        + "\n| dense AE | " + " | ".join(f"{v:.4f}" for v in curve["dense MSE"]) + " |",
        "![error vs code size](error_vs_code_size.png)",
        f"Denoising (Gaussian std {noise['noise std']}, conv denoiser, {noise['train images']:,} "
        f"images): PSNR {noise['PSNR noisy']:.2f} dB noisy -> {noise['PSNR denoised']:.2f} dB "
        f"denoised, a gain of **{noise['gain dB']:.2f} dB**.",
        f"Anomaly detection ({detect['normal']} normal, every other class anomalous; threshold = "
        f"99% quantile of normal validation errors): precision {detect['precision']:.3f}, recall "
        f"{detect['recall']:.3f}, **ROC AUC {detect['ROC AUC']:.3f}**.",
        mnist,
    ])
    result = {"budget": budget.scale, "table": table, "curve": curve, "denoising": noise,
              "anomaly": detect, "markdown": md}
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    main()
