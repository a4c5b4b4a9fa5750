"""Training throughput of the course's autoencoders against this machine's limit.

One process measures, side by side, every candidate training setting (``model.compile``
options and the input pipeline) for each of the course's models, together with the
machine's peaks in the same run:

* peaks: a 2048x2048 float32 matmul, the model's own Dense matmuls and the model's own
  3x3 Conv2D layers at its batch size (forward, in a compiled loop: no per-call overhead);
* candidates: Keras' default compile; ``steps_per_execution`` 8, 32, 128; ``jit_compile``
  (XLA) alone and with each of them; tf.data with prefetch; the default with another seed
  (the size of a real change). Each one trains the same model from the same seed for the
  same epochs and batch size; images/s is timed over the epochs after the first one (the
  first includes tracing and XLA compilation, reported apart as ``first_epoch_extra_s``).
* rounds alternate the candidates' order (ABC..., then ...CBA) so the machine's load, which
  others share, falls on all of them alike; the load average is recorded per round.
* same results: the final training loss of each candidate against the default's. The
  tolerance is ``max(10 x spread of the repeated default runs, 1e-5)`` (absolute, on a
  binary cross-entropy of about 0.3): same seed, same batches, so only float rounding may
  differ. The tf.data candidate shuffles in another order, so it is compared with the
  other-seed run, not with the tolerance.
* per-step account (dense models): seconds per step at batch 64, 256 and 1024 for the
  default and the chosen setting, fitted as ``a + b * batch``: ``a`` is the fixed cost of
  a step (dispatch), ``b`` the cost per image.

Every model is compiled as the course compiles it (Adam 1e-3, binary cross-entropy, MSE
reported: ``course.models.compile_for_images``), with the candidate's options instead of
``course.training.training_options()``.

Prints a JSON object on its last line (and a table before it). ``--quick`` (a smoke run:
4,096 images, 3 epochs, one round) checks that it all runs; its figures mean little.

    python benchmarks/throughput.py [--rounds 3] [--only dense] [--no-account] [--quick]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from dataclasses import dataclass
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from course import data, models, runtime, training  # noqa: E402

LOSS_FLOOR = 1e-5  # absolute floor of the same-results tolerance (BCE ~0.3)
SPREAD_MULTIPLE = 10
QUICK_IMAGES, QUICK_EPOCHS = 4_096, 3  # --quick: a smoke run (the timed epochs are 2..3)


@dataclass(frozen=True)
class Candidate:
    label: str
    compile: dict[str, Any]
    pipeline: str = "arrays"  # or "tf.data"
    seed: int = 0


CANDIDATES = [  # the two default runs sit at the ends and in the middle of every round
    Candidate("default", {}),
    Candidate("spe 8", {"steps_per_execution": 8}),
    Candidate("spe 32", {"steps_per_execution": 32}),
    Candidate("spe 128", {"steps_per_execution": 128}),
    Candidate("jit", {"jit_compile": True}),
    Candidate("default (repeat)", {}),
    Candidate("jit + spe 8", {"jit_compile": True, "steps_per_execution": 8}),
    Candidate("jit + spe 32", {"jit_compile": True, "steps_per_execution": 32}),
    Candidate("jit + spe 128", {"jit_compile": True, "steps_per_execution": 128}),
    Candidate("spe 32 + tf.data", {"steps_per_execution": 32}, pipeline="tf.data"),
    Candidate("default, seed 1", {}, seed=1),
]
SAME_ORDER = [c.label for c in CANDIDATES if c.pipeline == "arrays" and c.seed == 0]


@dataclass(frozen=True)
class Spec:
    name: str
    build: Any  # () -> keras.Model
    x: np.ndarray
    batch: int
    epochs: int
    peak: str  # "matmul" or "conv"


def _autoencoder(builder, *args):
    return lambda: builder(*args)[2]


def compile_as_the_course(model: keras.Model, options: dict) -> keras.Model:
    """``course.models.compile_for_images`` with ``options`` instead of ``training_options()``."""
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="binary_crossentropy", metrics=["mse"],
                  **options)
    return model


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
    """float32 3x3 conv GFLOP/s on 28x28x16 -> 16 maps (a mid-sized course layer)."""
    x = tf.random.uniform((batch, 28, 28, 16))
    k = tf.random.uniform((3, 3, 16, 16))
    tf.nn.conv2d(x, k, 1, "SAME").numpy()
    start = time.perf_counter()
    for _ in range(repeats):
        y = tf.nn.conv2d(x, k, 1, "SAME")
    y.numpy()
    return 2 * batch * 28 * 28 * 9 * 16 * 16 * repeats / (time.perf_counter() - start) / 1e9


def model_shape_gflops(model: keras.Model, batch: int, kind: str, loops: int = 50) -> float:
    """GFLOP/s of the model's own Dense matmuls (kind 'matmul') or 3x3 Conv2D layers ('conv'),
    forward at ``batch``, ``loops`` times inside one compiled function (no dispatch cost)."""
    shapes = []
    for layer in _layers(model):
        if kind == "matmul" and isinstance(layer, keras.layers.Dense):
            shapes.append(((batch, layer.kernel.shape[0]), tuple(layer.kernel.shape), None))
        elif kind == "conv" and isinstance(layer, keras.layers.Conv2D):
            h, w, c = layer.input.shape[1:]
            shapes.append(((batch, h, w, c), tuple(layer.kernel.shape), layer.padding.upper()))
    if not shapes:
        return float("nan")
    inputs = [(tf.random.uniform(a), tf.random.uniform(k), pad) for a, k, pad in shapes]

    @tf.function
    def chain():
        total = tf.constant(0.0)
        for _ in tf.range(loops):
            for a, k, pad in inputs:
                y = tf.matmul(a, k) if pad is None else tf.nn.conv2d(a, k, 1, pad)
                total += y[0, 0] if pad is None else y[0, 0, 0, 0]  # keeps every op live
        return total

    flops = 0
    for (a, k, pad), (x, kernel, _) in zip(shapes, inputs, strict=True):
        if pad is None:
            flops += 2 * a[0] * k[0] * k[1]
        else:
            out_hw = tf.nn.conv2d(x[:1], kernel, 1, pad).shape[1:3]
            flops += 2 * a[0] * out_hw[0] * out_hw[1] * k[0] * k[1] * k[2] * k[3]
    chain().numpy()
    start = time.perf_counter()
    chain().numpy()
    return flops * loops / (time.perf_counter() - start) / 1e9


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


class EpochTimer(keras.callbacks.Callback):
    def on_train_begin(self, logs=None):
        self.seconds: list[float] = []

    def on_epoch_begin(self, epoch, logs=None):
        self._start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.seconds.append(time.perf_counter() - self._start)


def train(spec: Spec, cand: Candidate, epochs: int | None = None, batch: int | None = None,
          n: int | None = None) -> dict:
    """Fit ``spec``'s model from ``cand.seed`` with ``cand``'s options; time each epoch."""
    epochs, batch = epochs or spec.epochs, batch or spec.batch
    x = spec.x[:n]
    keras.utils.set_random_seed(cand.seed)
    model = compile_as_the_course(spec.build(), cand.compile)
    timer = EpochTimer()
    if cand.pipeline == "tf.data":
        feed = (tf.data.Dataset.from_tensor_slices((x, x)).shuffle(len(x), seed=cand.seed)
                .batch(batch).prefetch(tf.data.AUTOTUNE))
        history = model.fit(feed, epochs=epochs, verbose=0, callbacks=[timer])
    else:
        history = model.fit(x, x, batch_size=batch, epochs=epochs, shuffle=True, verbose=0,
                            callbacks=[timer])
    steady = timer.seconds[1:]
    per_epoch = sum(steady) / len(steady)
    return {"images_per_s": len(x) / per_epoch, "epoch_seconds": timer.seconds,
            "first_epoch_extra_s": timer.seconds[0] - per_epoch,
            "final_loss": float(history.history["loss"][-1]),
            "steps_per_epoch": -(-len(x) // batch)}


def measure_model(spec: Spec, rounds: int, load: list) -> dict:
    """Every candidate for one model, rounds in alternating order; peaks in between."""
    probe = spec.build()
    flops = forward_flops(probe)
    runs: dict[str, list[dict]] = {c.label: [] for c in CANDIDATES}
    shape_peaks, peaks = [], []
    for r in range(rounds):
        load.append({"model": spec.name, "round": r, "start": os.getloadavg()})
        shape_peaks.append(model_shape_gflops(probe, spec.batch, spec.peak))
        peaks.append(peak_matmul_gflops() if spec.peak == "matmul" else peak_conv_gflops(spec.batch))
        for cand in (CANDIDATES if r % 2 == 0 else CANDIDATES[::-1]):
            try:
                runs[cand.label].append(train(spec, cand))
            except Exception as err:  # a setting this Keras cannot run is reported, not fatal
                runs[cand.label].append({"error": f"{type(err).__name__}: {str(err)[:200]}"})
        load[-1]["end"] = os.getloadavg()
    peak, shape_peak = max(peaks), max(shape_peaks)
    defaults = [run["final_loss"] for label in ("default", "default (repeat)") for run in runs[label]
                if "final_loss" in run]
    spread = max(defaults) - min(defaults)
    tolerance = max(SPREAD_MULTIPLE * spread, LOSS_FLOOR)
    reference = statistics.mean(defaults)
    default_rate = [statistics.geometric_mean([a["images_per_s"], b["images_per_s"]])
                    for a, b in zip(runs["default"], runs["default (repeat)"], strict=True)]
    rows = {}
    for cand in CANDIDATES:
        ok = [run for run in runs[cand.label] if "error" not in run]
        if not ok:
            rows[cand.label] = {"compile": cand.compile, "pipeline": cand.pipeline,
                                "error": runs[cand.label][0]["error"]}
            continue
        rate = statistics.median(run["images_per_s"] for run in ok)
        paired = [run["images_per_s"] / base for run, base in zip(runs[cand.label], default_rate, strict=True)
                  if "error" not in run]
        losses = [run["final_loss"] for run in ok]
        diff = max(abs(loss - reference) for loss in losses)
        train_gflops = rate * 3 * flops / 1e9
        rows[cand.label] = {
            "compile": cand.compile, "pipeline": cand.pipeline, "seed": cand.seed,
            "images_per_s": rate, "images_per_s_best": max(run["images_per_s"] for run in ok),
            "images_per_s_rounds": [run["images_per_s"] for run in ok],
            "speedup_vs_default": statistics.median(paired),  # against the same round's defaults
            "first_epoch_extra_s": statistics.median(run["first_epoch_extra_s"] for run in ok),
            "final_loss": losses, "loss_diff": diff,
            "same_loss": (diff <= tolerance) if cand.label in SAME_ORDER else None,
            "train_gflops": train_gflops, "fraction_of_peak": train_gflops / peak,
            "fraction_of_model_shape_peak": train_gflops / shape_peak,
        }
    same = [label for label in SAME_ORDER if rows[label].get("same_loss")]
    best = max(same, key=lambda label: rows[label]["images_per_s"]) if same else "none"
    chosen = training.training_options(runtime.budget("cpu"))  # the scale of these measurements
    chosen_label = next((c.label for c in CANDIDATES if c.compile == chosen and c.seed == 0
                         and c.pipeline == "arrays"), f"not measured: {chosen}")
    return {
        "forward_mflops_per_image": flops / 1e6, "images": len(spec.x), "batch": spec.batch,
        "epochs": spec.epochs, "steps_per_epoch": -(-len(spec.x) // spec.batch),
        "peak": spec.peak, "peak_gflops": peak, "peak_gflops_rounds": peaks,
        "model_shape_gflops": shape_peak, "model_shape_gflops_rounds": shape_peaks,
        "default_loss": reference, "default_spread": spread, "tolerance": tolerance,
        "candidates": rows, "best_same_results": best, "chosen": chosen_label,
        "chosen_options": chosen,
    }


def step_account(spec: Spec, labels: list[str], batches=(64, 256, 1024), n: int = 16_384,
                 epochs: int = 3) -> dict:
    """Seconds per training step against batch size, fitted as a + b * batch (ABAB order)."""
    by_label = {c.label: c for c in CANDIDATES}
    seconds: dict[str, dict[int, list[float]]] = {label: {b: [] for b in batches} for label in labels}
    for r in range(2):
        for label in (labels if r == 0 else labels[::-1]):
            for b in batches:
                run = train(spec, by_label[label], epochs=epochs, batch=b, n=n)
                seconds[label][b].append(n / run["images_per_s"] / run["steps_per_epoch"])
    out = {}
    flops = forward_flops(spec.build())
    for label in labels:
        xs = np.array(batches, dtype=float)
        ys = np.array([min(seconds[label][b]) for b in batches])
        slope, intercept = np.polyfit(xs, ys, 1)
        out[label] = {"seconds_per_step": {str(b): float(y) for b, y in zip(batches, ys, strict=True)},
                      "fixed_ms_per_step": 1e3 * intercept, "us_per_image": 1e6 * slope,
                      "marginal_train_gflops": 3 * flops / slope / 1e9 if slope > 0 else float("inf")}
    return out


def layer_ops_ms(model: keras.Model, batch: int, loops: int = 20) -> float:
    """ms per step of the model's Dense and Conv2D ops alone, forward and both backward ops,
    at ``batch``, looped in one compiled function: the arithmetic floor on these shapes."""
    cases = []
    for layer in _layers(model):
        if isinstance(layer, keras.layers.Dense | keras.layers.Conv2D):
            shape = (batch, *layer.input.shape[1:])
            pad = layer.padding.upper() if isinstance(layer, keras.layers.Conv2D) else None
            cases.append((tf.random.uniform(shape), tf.Variable(tf.random.uniform(layer.kernel.shape)), pad))

    @tf.function
    def loop():
        total = tf.constant(0.0)
        for _ in tf.range(loops):
            for x, w, pad in cases:
                with tf.GradientTape() as tape:
                    tape.watch(x)
                    y = tf.matmul(x, w) if pad is None else tf.nn.conv2d(x, w, 1, pad)
                    s = tf.reduce_sum(y)
                dx, dw = tape.gradient(s, [x, w])
                total += dx[(0,) * len(dx.shape)] + dw[(0,) * len(dw.shape)]
        return total

    loop().numpy()
    times = []
    for _ in range(3):
        start = time.perf_counter()
        loop().numpy()
        times.append(time.perf_counter() - start)
    return 1e3 * min(times) / loops


def elementwise_us(shape: tuple[int, ...], loops: int = 200) -> float:
    """Microseconds of one cheap unfused elementwise op (a negation) on an array of ``shape``."""
    x = tf.random.uniform(shape)

    @tf.function
    def loop():
        y = x
        for _ in tf.range(loops):
            y = tf.negative(y)
        return y[(0,) * len(shape)]

    loop().numpy()
    start = time.perf_counter()
    loop().numpy()
    return 1e6 * (time.perf_counter() - start) / loops


def bandwidth_gbps(n: int = 32 * 2**20, loops: int = 10) -> float:
    """Memory bandwidth of x += y in place on n float32 each (bytes read + written per second).

    In place, in one compiled loop: ``y = x + 1`` eagerly would allocate 128 MB per op, and on a
    CPU TensorFlow's allocator hands fresh pages back to the kernel, so the page faults, not the
    memory, would set the figure (1-2 GB/s measured that way)."""
    x, y = tf.Variable(tf.zeros((n,))), tf.Variable(tf.ones((n,)))

    @tf.function
    def loop():
        for _ in tf.range(loops):
            x.assign_add(y)
        return x[0]

    loop().numpy()
    start = time.perf_counter()
    loop().numpy()
    return 12 * n * loops / (time.perf_counter() - start) / 1e9


def step_op_count(spec: Spec) -> int:
    """Operations in the graph of one ``model.train_step`` (forward, backward, Adam, metrics)."""
    model = compile_as_the_course(spec.build(), {})
    batch = tf.constant(spec.x[: spec.batch])
    model.train_step((batch, batch))
    graph = tf.function(lambda: model.train_step((batch, batch))).get_concrete_function().graph
    return len(graph.get_operations())


def core_step_ms(spec: Spec, jit: bool, loops: int = 20) -> float:
    """ms per ``model.train_step`` on one fixed batch, looped in one compiled function:
    a training step without Keras' fit loop, input pipeline or per-step dispatch."""
    keras.utils.set_random_seed(0)
    model = compile_as_the_course(spec.build(), {})
    batch = tf.constant(spec.x[: spec.batch])
    model.train_step((batch, batch))  # builds the optimizer's variables
    step = tf.function(lambda: model.train_step((batch, batch)), jit_compile=jit)

    @tf.function
    def loop():
        for _ in tf.range(loops):
            step()

    loop()
    times = []
    for _ in range(3):
        start = time.perf_counter()
        loop()
        float(model.trainable_weights[0][(0,) * len(model.trainable_weights[0].shape)])
        times.append(time.perf_counter() - start)
    return 1e3 * min(times) / loops


def step_breakdown(spec: Spec, row_default: dict, row_chosen: dict) -> dict:
    """Where a step's time goes: layer ops alone < train_step alone (+ loss, activations,
    Adam) < fit (+ input pipeline, Keras loop, dispatch), in ms per step at the spec's batch."""
    model = spec.build()
    return {
        "batch": spec.batch,
        "layer_ops_ms": layer_ops_ms(model, spec.batch),
        "train_step_ms": core_step_ms(spec, jit=False),
        "train_step_xla_ms": core_step_ms(spec, jit=True),
        "fit_default_ms": 1e3 * spec.batch / row_default["images_per_s_best"],
        "fit_chosen_ms": 1e3 * spec.batch / row_chosen["images_per_s_best"],
        "train_step_ops": step_op_count(spec),
        "elementwise_op_us": elementwise_us((spec.batch, *spec.x.shape[1:])),
        "bandwidth_gbps": bandwidth_gbps(),
    }


def specs(only: str, quick: bool = False) -> list[Spec]:
    fashion = data.load_fashion_mnist()
    flat = data.flatten(fashion.x_train[:50_000])
    square = fashion.x_train[:10_000, ..., None]
    all_specs = [
        Spec("dense 784-32-784", _autoencoder(models.dense_autoencoder, 784, 32), flat, 256, 5, "matmul"),
        Spec("deep 784-128-64-32", _autoencoder(models.deep_autoencoder), flat, 256, 5, "matmul"),
        Spec("conv 4x4x8", _autoencoder(models.conv_autoencoder), square, 256, 4, "conv"),
        # lecture 10's denoiser at its CPU batch (budget batch // 2)
        Spec("conv denoiser (lecture 10)", lambda: models.conv_denoiser((28, 28, 1)), square[:4_000],
             128, 4, "conv"),
    ]
    chosen = [s for s in all_specs if only in s.name]
    if quick:
        chosen = [Spec(s.name, s.build, s.x[:QUICK_IMAGES], s.batch, QUICK_EPOCHS, s.peak) for s in chosen]
    return chosen


def main() -> dict:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=None, help="default 3 (1 with --quick)")
    parser.add_argument("--only", default="", help="substring of the model names to measure")
    parser.add_argument("--no-account", action="store_true", help="skip the per-step account")
    parser.add_argument("--quick", action="store_true",
                        help=f"smoke run: {QUICK_IMAGES:,} images, {QUICK_EPOCHS} epochs, 1 round per model")
    args = parser.parse_args()
    args.rounds = args.rounds or (1 if args.quick else 3)
    os.environ.pop("COURSE_FAST_TRAINING", None)  # the library's choice, as students get it
    load: list = []
    result = {"device": "CPU" if not tf.config.list_physical_devices("GPU") else "GPU",
              "cores": os.cpu_count(), "keras": keras.__version__, "tensorflow": tf.__version__,
              "rounds": args.rounds, "quick": args.quick,
              "tolerance_rule": f"max({SPREAD_MULTIPLE} x spread of the repeated default runs, "
              f"{LOSS_FLOOR:g}) on the final training loss",
              "load_average_start": os.getloadavg(), "models": {}, "load": load}
    for spec in specs(args.only, args.quick):
        m = measure_model(spec, args.rounds, load)
        result["models"][spec.name] = m
        print(f"\n{spec.name}: {m['forward_mflops_per_image']:.3f} MFLOP/image forward, "
              f"peak {m['peak']} {m['peak_gflops']:.0f} GFLOP/s, model shapes "
              f"{m['model_shape_gflops']:.0f} GFLOP/s, tolerance {m['tolerance']:.1e}; "
              f"best same-results: {m['best_same_results']}; library picks: {m['chosen']}")
        for label, row in m["candidates"].items():
            if "error" in row:
                print(f"  {label:20s} {row['error']}")
                continue
            print(f"  {label:20s} {row['images_per_s']:9,.0f} img/s  x{row['speedup_vs_default']:.2f}  "
                  f"{row['fraction_of_peak']:6.1%} of peak  loss diff {row['loss_diff']:.1e} "
                  f"same={row['same_loss']}  first epoch +{row['first_epoch_extra_s']:.1f} s")
        if args.no_account:
            continue
        chosen = m["candidates"].get(m["chosen"], m["candidates"]["default"])
        m["step_breakdown"] = step_breakdown(spec, m["candidates"]["default"], chosen)
        print("  per step (ms): " + ", ".join(f"{k} {v:.2f}" for k, v in m["step_breakdown"].items()))
        if spec.peak == "matmul":
            labels = ["default", "spe 32", "jit + spe 32"]
            m["step_account"] = (step_account(spec, labels, n=len(spec.x), epochs=QUICK_EPOCHS)
                                 if args.quick else step_account(spec, labels))
            for label, acc in m["step_account"].items():
                print(f"  account {label:14s} {acc['fixed_ms_per_step']:.2f} ms/step fixed + "
                      f"{acc['us_per_image']:.2f} us/image ({acc['marginal_train_gflops']:.0f} GFLOP/s "
                      "at the margin)")
    result["load_average_end"] = os.getloadavg()
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    main()
