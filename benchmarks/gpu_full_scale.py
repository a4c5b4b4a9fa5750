"""The benchmark figures at the full lecture scale, for a GPU machine (within 8 minutes).

Prints one JSON line per figure: the device, training throughput of each model, the
results table rows at the `gpu` budget (epochs capped by --epochs to fit the time
limit), and the denoising and anomaly figures. Runs on a CPU too (slowly; use
--budget ci to check it works).

    python benchmarks/gpu_full_scale.py [--budget gpu] [--epochs 20]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parent))

from quality import anomaly_auc, denoising  # noqa: E402
from throughput import forward_flops, images_per_second  # noqa: E402

from course import data, models, results, runtime  # noqa: E402


def emit(figure: str, **values) -> None:
    print(json.dumps({"figure": figure, **values}), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--budget", choices=runtime.SCALES, default="gpu")
    parser.add_argument("--epochs", type=int, default=20, help="cap on epochs (8-minute limit)")
    args = parser.parse_args()
    start = time.perf_counter()
    budget = runtime.budget(args.budget)
    budget = dataclasses.replace(budget, epochs=min(budget.epochs, args.epochs))
    emit("device", name=runtime.device_name(), versions=runtime.versions(), budget=budget.describe())
    fashion = data.load_fashion_mnist(budget)
    flat = data.flatten(fashion.x_train)
    for name, build, x in (("dense", models.dense_autoencoder, flat),
                           ("deep", models.deep_autoencoder, flat),
                           ("conv", models.conv_autoencoder, fashion.x_train[..., None])):
        emit("throughput", model=name, forward_mflops=forward_flops(build()[2]) / 1e6,
             images_per_s=images_per_second(build, x, budget.batch_size, jit=False, dataset=True))
    for row in results.results_table(budget, fashion, conv_epochs=budget.epochs):
        emit("results_table", **row)
    emit("denoising", **denoising(fashion, budget))
    emit("anomaly", **anomaly_auc(fashion, budget))
    emit("total", seconds=time.perf_counter() - start)


if __name__ == "__main__":
    main()
