"""Lab 05 · the latent plane and anomaly detection."""

from __future__ import annotations

import numpy as np

from .answers import as_array, as_float, attempt, check, close, expect, is_number, passed, type_name
from .models import composition, dense_stack, shuffle_weights, three_models

# The student's kernel may run the decoder and the autoencoder on a GPU, where TensorFlow's
# default TF32 rounds matmul inputs to 10 mantissa bits (unit roundoff 2^-11); the judge
# computes them in float32 on the grader's CPU. Measured with TF32 emulated on this
# check's models (course/checks/TOLERANCES.md): walk pixels differ by up to 1.9e-3, anomaly
# scores by up to 1.7e-4 relative; the seeded wrong answers differ by at least 0.12 and 96%.
WALK_ATOL = 1e-2  # pixels in [0, 1]
SCORE_RTOL = 1e-2

# --------------------------------------------------------------------------- exercise 1


def judge_latent_2d_autoencoder(data: dict, input_dim, hidden, seed) -> None:
    hidden = tuple(hidden)
    encoder, decoder, autoencoder = three_models(
        data["models"], input_dim, (2,), "build_latent_2d_autoencoder"
    )
    dense_stack(encoder, "encoder", [*hidden, 2], ["relu"] * len(hidden) + ["linear"])
    dense_stack(decoder, "decoder", [*reversed(hidden), input_dim], ["relu"] * len(hidden) + ["sigmoid"])
    x = np.random.default_rng(seed).uniform(size=(64, input_dim)).astype("float32")
    z = np.asarray(encoder(x))
    expect(
        bool((z < 0).any() and (z > 0).any()),
        "the 2-D code should be linear (no activation), so codes spread over the whole plane, "
        "negative values included.",
    )
    composition(encoder, decoder, autoencoder, x)
    passed(f"autoencoder {input_dim}-{'-'.join(map(str, hidden))}-2 with a linear code")


@check(judge_latent_2d_autoencoder)
def check_latent_2d_autoencoder(
    build, input_dim: int = 784, hidden: tuple[int, ...] = (256, 64), seed: int = 0
) -> dict:
    """``build(input_dim, hidden)``: a deep dense autoencoder with a linear 2-D code."""
    return {"models": shuffle_weights(build(input_dim, tuple(hidden)), seed)}


# --------------------------------------------------------------------------- exercise 2


def small_decoder(seed: int, out_dim: int = 10):
    """A fixed little decoder from the plane to ``out_dim`` values (its weights come from ``seed``)."""
    import keras
    from keras import layers

    z = keras.Input(shape=(2,))
    hidden = layers.Dense(16, activation="relu")
    out = layers.Dense(out_dim, activation="sigmoid")
    decoder = keras.Model(z, out(hidden(z)))
    rng = np.random.default_rng(seed + 104729)
    decoder.set_weights([rng.normal(0, 0.7, tuple(w.shape)).astype("float32") for w in decoder.weights])
    return decoder


def _walk_ends(seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.normal(0, 3, 2).astype("float32"), rng.normal(0, 3, 2).astype("float32")


def judge_latent_walk(data: dict, steps, seed) -> None:
    decoder = small_decoder(seed)
    z_from, z_to = _walk_ends(seed)
    got = as_array(data["walk"])

    def decode(z):
        return np.asarray(decoder(np.asarray(z, dtype="float32")), dtype=np.float64)

    t = np.linspace(0, 1, steps)[:, None]
    expected = decode((1 - t) * z_from + t * z_to)
    shape = None if got is None else got.shape
    expect(
        shape == expected.shape,
        f"return {steps} decoded images, one per row, shape {expected.shape}; yours has shape "
        f"{shape}." + (" Decode the points: return images, not codes." if shape == (steps, 2) else ""),
    )
    if not close(got, expected, rtol=0, atol=WALK_ATOL):
        ends = decode(np.stack([z_from, z_to]))
        hints = [
            (
                (1 - t) * ends[0] + t * ends[1],
                " You mixed the two decoded images; walk in the code plane, then decode each point.",
            ),
        ]
        hint = next((h for value, h in hints if close(got, value, rtol=0, atol=WALK_ATOL)), "")
        expect(
            close(got[0], ends[0], rtol=0, atol=WALK_ATOL), "the walk should start at decoder(z_from)." + hint
        )
        expect(
            close(got[-1], ends[1], rtol=0, atol=WALK_ATOL),
            "the walk should end at decoder(z_to): include both ends (np.linspace(0, 1, steps))." + hint,
        )
        raise AssertionError(
            "decode the points (1 - t) * z_from + t * z_to for t evenly spaced from 0 to 1." + hint
        )
    passed(f"a walk of {steps} steps across the latent plane")


@check(judge_latent_walk)
def check_latent_walk(fn, steps: int = 5, seed: int = 0) -> dict:
    """``fn(decoder, z_from, z_to, steps)``: decode ``steps`` evenly spaced points of the
    segment from ``z_from`` to ``z_to`` (both ends included), one image per row."""
    z_from, z_to = _walk_ends(seed)
    return {"walk": fn(small_decoder(seed), z_from.copy(), z_to.copy(), steps)}


# --------------------------------------------------------------------------- exercise 3


def small_autoencoder(input_dim: int, seed: int):
    """A fixed 4-value dense autoencoder (weights from ``seed``), to score images with."""
    from .. import models

    _, _, autoencoder = models.dense_autoencoder(input_dim, 4)
    rng = np.random.default_rng(seed + 15485863)
    autoencoder.set_weights(
        [
            rng.normal(0, 1 / np.sqrt(w.shape[0]) if len(w.shape) > 1 else 0.1, tuple(w.shape)).astype(
                "float32"
            )
            for w in autoencoder.weights
        ]
    )
    return autoencoder


def judge_anomaly_scores(data: dict, input_dim, n, seed) -> None:
    autoencoder = small_autoencoder(input_dim, seed)
    x = np.random.default_rng(seed).uniform(size=(n, input_dim)).astype("float32")
    x_hat = np.asarray(autoencoder.predict(x, verbose=0), dtype=np.float64)
    expected = ((x - x_hat) ** 2).mean(axis=1)
    got = as_array(data["scores"])
    shape = None if got is None else got.shape
    expect(
        shape == (n,),
        f"return one score per image, shape ({n},); yours has shape {shape}. Average the "
        "squared differences over each image's pixels (axis=1), not over the images.",
    )
    hints = [
        (np.abs(x - x_hat).mean(axis=1), " That is the mean absolute error; square the differences."),
        (((x - x_hat) ** 2).sum(axis=1), " Average over the pixels (mean), not a sum."),
    ]
    hint = next((h for value, h in hints if close(value, got, rtol=SCORE_RTOL)), "")
    expect(
        close(got, expected, rtol=SCORE_RTOL, atol=1e-7),
        "each score should be the image's mean squared reconstruction error, "
        f"mean((x - autoencoder(x))**2); expected {expected[0]:.5f} for the first image, "
        f"got {got[0]:.5f}." + hint,
    )
    passed(f"anomaly scores of {n} images")


@check(judge_anomaly_scores)
def check_anomaly_scores(fn, input_dim: int = 784, n: int = 7, seed: int = 0) -> dict:
    """``fn(autoencoder, x)``: each image's mean squared reconstruction error, shape (N,)."""
    x = np.random.default_rng(seed).uniform(size=(n, input_dim)).astype("float32")
    return {"scores": fn(small_autoencoder(input_dim, seed), x.copy())}


# --------------------------------------------------------------------------- exercise 4


def judge_threshold_from_validation(data: dict, n, quantiles, seed) -> None:
    val = np.random.default_rng(seed).exponential(0.02, size=n)
    expect(
        close(data["val_after"], val, rtol=0, atol=0), "your function changed (sorted?) the errors in place."
    )
    for q, got in zip(quantiles, data["thresholds"], strict=True):
        expect(is_number(got), f"return one threshold (a number), not {type_name(got)}.")
        got = as_float(got)
        below = float(np.mean(val <= got))
        hint = (
            " np.percentile takes percent (0-100); np.quantile takes a fraction (0-1)."
            if np.isclose(got, np.percentile(val, q))
            else ""
        )
        expect(
            abs(below - q) <= 1.5 / n,
            f"with quantile={q} the threshold should leave {q:.0%} of the validation errors "
            f"below it (np.quantile(val_errors, quantile) = {np.quantile(val, q):.5f}); "
            f"yours, {got:.5f}, leaves {below:.1%}." + hint,
        )
    passed(f"thresholds at quantiles {', '.join(map(str, quantiles))} of {n} validation errors")


@check(judge_threshold_from_validation)
def check_threshold_from_validation(
    fn, n: int = 400, quantiles: tuple[float, ...] = (0.95, 0.99), seed: int = 0
) -> dict:
    """``fn(val_errors, quantile)``: L with a fraction ``quantile`` of validation errors below."""
    val = np.random.default_rng(seed).exponential(0.02, size=n)
    thresholds = [fn(val, q) if i == 0 else attempt(fn, val, q) for i, q in enumerate(quantiles)]
    return {"thresholds": thresholds, "val_after": val}


# --------------------------------------------------------------------------- exercise 5


def anomaly_test_data(seed: int, n_val: int = 400, n_normal: int = 300, n_anomalies: int = 60):
    """Validation errors of normal images, and a test set whose normal images err a bit more
    than the validation ones (a threshold picked on the test set then differs)."""
    rng = np.random.default_rng(seed)
    val = rng.exponential(0.02, n_val)
    normal = rng.exponential(0.026, n_normal)
    anomalies = 0.05 + rng.exponential(0.04, n_anomalies)
    test = np.concatenate([normal, anomalies])
    is_anomaly = np.concatenate([np.zeros(n_normal, bool), np.ones(n_anomalies, bool)])
    order = rng.permutation(len(test))
    return val, test[order], is_anomaly[order]


def judge_precision_recall(data: dict, quantile, seed) -> None:
    val, test, is_anomaly = anomaly_test_data(seed)

    def scores(threshold, flag_above=True):
        flagged = test > threshold if flag_above else test < threshold
        tp = np.sum(flagged & is_anomaly)
        return tp / max(flagged.sum(), 1), tp / is_anomaly.sum()

    threshold = float(np.quantile(val, quantile))
    expected = scores(threshold)
    result = data["result"]
    expect(
        all(
            close(a, b, rtol=0, atol=0)
            for a, b in zip(data["inputs_after"], (val, test, is_anomaly), strict=True)
        ),
        "your function changed its inputs.",
    )
    expect(
        isinstance(result, tuple) and len(result) == 2 and all(map(is_number, result)),
        f"return a tuple of two numbers (precision, recall), not {result!r}.",
    )
    got = tuple(as_float(r) for r in result)
    if not np.allclose(got, expected):
        hints = [
            (
                scores(float(np.quantile(test, quantile))),
                " You chose the threshold on the test errors: it must come from the validation "
                "errors (normal images only); the test set only measures.",
            ),
            (expected[::-1], " Precision is tp / (tp + fp), recall is tp / (tp + fn)."),
            (scores(threshold, flag_above=False), " Flag the images whose error is ABOVE the threshold."),
        ]
        hint = next((h for value, h in hints if np.allclose(got, value)), "")
        raise AssertionError(
            f"with the threshold at the {quantile} quantile of the validation errors "
            f"({threshold:.4f}), flagging test errors above it gives precision {expected[0]:.3f} "
            f"and recall {expected[1]:.3f}; you returned {got[0]:.3f} and {got[1]:.3f}." + hint
        )
    passed(f"precision {expected[0]:.3f} and recall {expected[1]:.3f} at quantile {quantile}")


@check(judge_precision_recall)
def check_precision_recall(fn, quantile: float = 0.95, seed: int = 0) -> dict:
    """``fn(val_errors, test_errors, test_is_anomaly, quantile)`` -> ``(precision, recall)`` of
    flagging test errors above the validation quantile."""
    val, test, is_anomaly = anomaly_test_data(seed)
    result = fn(val, test, is_anomaly, quantile)
    return {"result": result, "inputs_after": (val, test, is_anomaly)}
