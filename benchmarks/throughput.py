"""Training throughput of the course's autoencoders against this machine's limit.

For each model: analytic FLOPs per image (forward; training ~= 3x forward), measured
images/s of `fit` under several settings (batch size, tf.data input, XLA jit,
bfloat16 mixed precision), and the fraction of the machine's measured matmul or conv
throughput that the best setting reaches. Prints a JSON object (and a table).

    python benchmarks/throughput.py [--images 10000]
"""

from __future__ import annotations

import argparse
import json
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from course import data, models  # noqa: E402


def peak_matmul_gflops(n: int = 2048, repeats: int = 10) -> float:
    """float32 matmul GFLOP/s: the dense layers' hardware limit."""
    a = tf.random.uniform((n, n))
    b = tf.random.uniform((n, n))
    tf.matmul(a, b).numpy()
    start = time.perf_counter()
    for _ in range(repeats):
        c = tf.matmul(a, b)
    c.numpy()
    return 2 * n**3 * repeats / (time.perf_counter() - start) / 1e9


def peak_conv_gflops(batch: int = 256, repeats: int = 10) -> float:
    """float32 3x3 conv GFLOP/s on 28x28x16 -> 16 maps: the conv layers' limit."""
    x = tf.random.uniform((batch, 28, 28, 16))
    k = tf.random.uniform((3, 3, 16, 16))
    tf.nn.conv2d(x, k, 1, "SAME").numpy()
    start = time.perf_counter()
    for _ in range(repeats):
        y = tf.nn.conv2d(x, k, 1, "SAME")
    y.numpy()
    return 2 * batch * 28 * 28 * 9 * 16 * 16 * repeats / (time.perf_counter() - start) / 1e9


def forward_flops(model: keras.Model) -> int:
    """Multiply-adds x 2 of the Dense and Conv2D layers for one image."""
    total = 0
    for layer in _layers(model):
        if isinstance(layer, keras.layers.Dense):
            total += 2 * layer.kernel.shape[0] * layer.kernel.shape[1]
        elif isinstance(layer, keras.layers.Conv2D):
            h, w = layer.output.shape[1:3]
            kh, kw, cin, cout = layer.kernel.shape
            total += 2 * h * w * kh * kw * cin * cout
    return int(total)


def _layers(model: keras.Model):
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            yield from _layers(layer)
        else:
            yield layer


def images_per_second(build, x: np.ndarray, batch: int, jit: bool, dataset: bool,
                      policy: str = "float32") -> float:
    """Images/s over epochs totalling at least 3 s, after a warm-up epoch."""
    keras.mixed_precision.set_global_policy(policy)
    try:
        _, _, ae = build()
        ae.compile(optimizer="adam", loss="binary_crossentropy", jit_compile=jit)
        if dataset:
            feed = tf.data.Dataset.from_tensor_slices((x, x)).batch(batch).prefetch(tf.data.AUTOTUNE)
            run = lambda: ae.fit(feed, epochs=1, verbose=0)  # noqa: E731
        else:
            run = lambda: ae.fit(x, x, batch_size=batch, epochs=1, verbose=0)  # noqa: E731
        run()
        start, epochs = time.perf_counter(), 0
        while time.perf_counter() - start < 3.0:
            run()
            epochs += 1
        return epochs * len(x) / (time.perf_counter() - start)
    finally:
        keras.mixed_precision.set_global_policy("float32")


SETTINGS = [  # (label, batch, jit, tf.data, policy)
    ("batch 128", 128, False, False, "float32"),
    ("batch 256 (course default)", 256, False, False, "float32"),
    ("batch 1024", 1024, False, False, "float32"),
    ("batch 256 + tf.data", 256, False, True, "float32"),
    ("batch 256 + XLA jit", 256, True, False, "float32"),
    ("batch 256 + bfloat16", 256, False, False, "mixed_bfloat16"),
]


def main() -> dict:
    parser = argparse.ArgumentParser()
    parser.add_argument("--images", type=int, default=10_000)
    args = parser.parse_args()
    fashion = data.load_fashion_mnist()
    flat = data.flatten(fashion.x_train[: args.images])
    square = fashion.x_train[: args.images, ..., None]
    peaks = {"matmul_gflops": peak_matmul_gflops(), "conv_gflops": peak_conv_gflops()}
    result = {"device": "CPU", "cores": os.cpu_count(), "images": args.images, **peaks,
              "models": {}}
    specs = {
        "dense 784-32-784": (models.dense_autoencoder, flat, "matmul_gflops"),
        "deep 784-128-64-32": (models.deep_autoencoder, flat, "matmul_gflops"),
        "conv 4x4x8": (models.conv_autoencoder, square, "conv_gflops"),
    }
    for name, (build, x, peak) in specs.items():
        flops = forward_flops(build()[2])
        rows = {}
        for label, batch, jit, dataset, policy in SETTINGS:
            try:
                rows[label] = images_per_second(build, x, batch, jit, dataset, policy)
            except Exception as err:  # a setting this device cannot run is reported, not fatal
                rows[label] = f"failed: {type(err).__name__}"
        best = max((v, k) for k, v in rows.items() if isinstance(v, float))
        achieved = best[0] * 3 * flops / 1e9
        result["models"][name] = {
            "forward_mflops_per_image": flops / 1e6, "images_per_s": rows, "best": best[1],
            "best_train_gflops": achieved, "fraction_of_peak": achieved / peaks[peak],
        }
        print(f"{name}: {flops / 1e6:.3f} MFLOP/image; " + ", ".join(
            f"{k}: {v:,.0f}/s" if isinstance(v, float) else f"{k}: {v}" for k, v in rows.items()))
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    main()
