"""Self-checks for the labs.

The visible tests a student runs and the instructor's hidden tests call the same
functions (hidden tests with other sizes and inputs), so both judge alike. Each
check raises ``AssertionError`` with a message in the student's terms, and prints
one line when everything holds.

Each check calls only the student's function under test; whatever else it needs
(a fitted PCA, a model to train, noisy data) comes from the course library, so a
mistake in one exercise never costs points in another.

By lab: 01 curse of dimensionality and PCA, 02 dense and sparse autoencoders,
03 deep and convolutional autoencoders, 04 denoising, 05 latent space and anomalies.
"""

from __future__ import annotations

import contextlib
import functools
import io
import logging
import math
import os
import sys
import tempfile
import warnings
from collections.abc import Callable, Iterator

import numpy as np


@contextlib.contextmanager
def quiet_stderr() -> Iterator[None]:
    """Keep library noise off stderr while a check runs.

    nbgrader gives a graded cell 0 points when its output has anything on stderr, and
    TensorFlow writes there on its own (C++ log lines such as oneDNN notices on CPUs without
    AVX-512, retracing warnings). A check's verdict is its exception, never its stderr.
    """
    loggers = [logging.getLogger(name) for name in ("tensorflow", "absl", "keras")]
    levels = [logger.level for logger in loggers]
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as sink:
        os.dup2(sink.fileno(), 2)
        try:
            with contextlib.redirect_stderr(io.StringIO()), warnings.catch_warnings():
                warnings.simplefilter("ignore")
                for logger in loggers:
                    logger.setLevel(logging.CRITICAL + 1)
                yield
        finally:
            for logger, level in zip(loggers, levels, strict=True):
                logger.setLevel(level)
            os.dup2(saved, 2)
            os.close(saved)


def _graded(check: Callable) -> Callable:
    """Run ``check`` with :func:`quiet_stderr`."""

    @functools.wraps(check)
    def run(*args, **kwargs):
        with quiet_stderr():
            return check(*args, **kwargs)

    return run


def expect(condition: bool, message: str) -> None:
    """Fail with ``message`` (what is wrong and what to change) unless ``condition``."""
    if not condition:
        raise AssertionError(message)


def passed(what: str) -> None:
    print(f"OK: {what}")


def _shape(tensor) -> tuple:
    return tuple(tensor.shape)


def _is_number(value) -> bool:
    return isinstance(value, (int, float, np.number)) and not isinstance(value, bool) or (
        isinstance(value, np.ndarray) and value.shape == ()
    )


def _close(a, b, rtol: float = 1e-6, atol: float = 1e-9) -> bool:
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return a.shape == b.shape and bool(np.allclose(a, b, rtol=rtol, atol=atol))


# --------------------------------------------------------------------------------------
# Lab 01 · the curse of dimensionality and PCA
# --------------------------------------------------------------------------------------


def ball_fraction(d: int) -> float:
    """Share of the cube [-1, 1]^d inside the unit ball: pi^(d/2) / Gamma(d/2 + 1) / 2^d."""
    return math.exp(d / 2 * math.log(math.pi) - math.lgamma(d / 2 + 1) - d * math.log(2))


@_graded
def check_fraction_in_ball_mc(
    fn: Callable, dims: tuple[int, ...] = (2, 3), n: int = 20_000, seeds: tuple[int, ...] = (0, 1, 2)
) -> None:
    """``fn(d, n, seed)``: the fraction of ``n`` uniform points of [-1, 1]^d inside the unit ball."""
    for d in dims:
        exact = ball_fraction(d)
        got = fn(d, n, seeds[0])
        expect(_is_number(got), f"return one number (the fraction of points inside), not {type(got)}.")
        expect(
            0.0 <= float(got) <= 1.0,
            f"return the fraction of the {n:,} points that fall inside the ball (between 0 "
            f"and 1), not a count; you returned {float(got):g}.",
        )
        tolerance = 5 * math.sqrt(max(exact * (1 - exact), 0.0) / n) + 1e-3
        expect(
            abs(float(got) - exact) <= tolerance,
            f"for d={d} about {exact:.3f} of points drawn uniformly in the cube [-1, 1]^{d} fall "
            f"inside the unit ball (|y| <= 1); with {n:,} points you got {float(got):.4f}. "
            "Draw each coordinate with rng.uniform(-1, 1) and measure each point's length.",
        )
        again = fn(d, n, seeds[0])
        expect(
            float(again) == float(got),
            f"two calls with the same seed gave {float(got):.5f} and {float(again):.5f}: "
            "make the draw repeatable with rng = np.random.default_rng(seed).",
        )
        others = {float(fn(d, n, s)) for s in seeds[1:]}
        expect(
            exact > 1 - 1e-9 or others != {float(got)},
            "different seeds gave exactly the same fraction: your function ignores `seed`.",
        )
    passed(f"Monte Carlo fraction of the cube inside the ball for d = {', '.join(map(str, dims))}")


@_graded
def check_fraction_in_ball_exact(fn: Callable, dims: tuple[int, ...] = (2, 3)) -> None:
    """``fn(d)``: the exact share of the cube [-1, 1]^d inside the unit ball."""
    for d in dims:
        exact = ball_fraction(d)
        got = fn(d)
        expect(_is_number(got), f"return one number, not {type(got)}.")
        hint = (
            " (1/2)^d is the slides' rough rate of decay, not the exact value."
            if np.isclose(float(got), 0.5**d) else ""
        )
        expect(
            np.isclose(float(got), exact, rtol=1e-6, atol=0),
            f"for d={d} the unit ball fills {exact:.6g} of the cube [-1, 1]^{d}: its volume "
            f"pi^(d/2) / Gamma(d/2 + 1) over the cube's volume 2^d. You returned {float(got):.6g}."
            + hint,
        )
    passed(f"exact fraction for d = {', '.join(map(str, dims))}")


def pca_test_data(n_samples: int, n_features: int, seed: int, offset: float = 5.0) -> np.ndarray:
    """Correlated data with distinct variances along a random basis, far from the origin."""
    rng = np.random.default_rng(seed)
    scales = np.geomspace(4.0, 0.3, n_features)
    basis, _ = np.linalg.qr(rng.normal(size=(n_features, n_features)))
    mean = offset + rng.uniform(-1, 1, n_features)
    return (rng.normal(size=(n_samples, n_features)) * scales) @ basis.T + mean


def _reference_pca(x: np.ndarray, k: int, centred: bool = True):
    x = np.asarray(x, dtype=np.float64)
    mean = x.mean(axis=0)
    xc = x - mean if centred else x
    cov = xc.T @ xc / (len(x) - 1)
    values, vectors = np.linalg.eigh(cov)
    order = np.argsort(values)[::-1]
    return mean, vectors[:, order[:k]], values[order]


@_graded
def check_fit_pca(
    fn: Callable, n_samples: int = 200, n_features: int = 6, k: int = 3, seed: int = 0
) -> None:
    """``fn(x, k)`` -> ``(mean, V, eigenvalues)``: the slides' PCA, top-``k`` eigenvectors as columns."""
    x = pca_test_data(n_samples, n_features, seed)
    original = x.copy()
    result = fn(x, k)
    expect(
        isinstance(result, tuple) and len(result) == 3,
        f"fit_pca must return a tuple (mean, V, eigenvalues); it returned {type(result).__name__}.",
    )
    expect(np.array_equal(x, original), "fit_pca changed its input x: centre a copy (x - mean).")
    mean, V, values = (np.asarray(r, dtype=np.float64) for r in result)
    ref_mean, ref_V, ref_values = _reference_pca(x, k)
    expect(
        mean.shape == (n_features,) and _close(mean, ref_mean),
        f"mean should be the average of each of the {n_features} features (x.mean(axis=0)), "
        f"shape ({n_features},); yours has shape {mean.shape}.",
    )
    expect(
        V.shape == (n_features, k),
        f"V should hold the k={k} eigenvectors as columns, shape ({n_features}, {k}) "
        f"(n features x k); yours has shape {V.shape}.",
    )
    expect(
        np.allclose(V.T @ V, np.eye(k), atol=1e-6),
        "the columns of V should be unit-length, orthogonal eigenvectors of the covariance "
        "(np.linalg.eigh returns them as columns).",
    )
    expect(
        values.shape == (n_features,),
        f"eigenvalues: return all {n_features} of them (largest first), shape ({n_features},); "
        f"yours has shape {values.shape}.",
    )
    expect(
        bool(np.all(np.diff(values) <= 1e-9)),
        "eigenvalues should be sorted largest first; np.linalg.eigh returns them in "
        "ascending order, so reverse the order (of the eigenvectors too).",
    )
    biased = ref_values * (n_samples - 1) / n_samples  # dividing by N instead of N - 1 is fine
    expect(
        _close(values, ref_values, rtol=1e-6) or _close(values, biased, rtol=1e-6),
        "the eigenvalues should be those of the covariance of the centred data; yours are "
        f"{np.round(values[:3], 3)}..., expected {np.round(ref_values[:3], 3)}...",
    )
    alignment = np.abs(np.sum(V * ref_V, axis=0))  # each column may have either sign
    if not np.allclose(alignment, 1, atol=1e-5):
        _, uncentred_V, _ = _reference_pca(x, k, centred=False)
        hint = (
            " They are the eigenvectors of x^T x: subtract the mean before the covariance."
            if np.allclose(np.abs(np.sum(V * uncentred_V, axis=0)), 1, atol=1e-5) else ""
        )
        raise AssertionError(
            f"V's columns should be the covariance's eigenvectors with the {k} largest "
            "eigenvalues, in that order (each may have either sign)." + hint
        )
    passed(f"PCA of {n_samples} points in {n_features} dimensions, top {k} components")


@_graded
def check_pca_encode_decode(
    encode: Callable, decode: Callable, n_samples: int = 50, n_features: int = 6, k: int = 3,
    seed: int = 0,
) -> None:
    """``encode(x, mean, V)`` = (x - mean) V and ``decode(c, mean, V)`` = mean + c V^T, row-wise."""
    from .pca import fit_pca

    x = pca_test_data(n_samples, n_features, seed)
    fitted = fit_pca(x, k)
    mean, V = fitted.mean.copy(), fitted.V.copy()
    kept = (x.copy(), mean.copy(), V.copy())
    c = np.asarray(encode(x, mean, V), dtype=np.float64)
    expect(
        all(np.array_equal(a, b) for a, b in zip((x, mean, V), kept, strict=True)),
        "encode changed its inputs: compute (x - mean) as a new array.",
    )
    expect(
        c.shape == (n_samples, k),
        f"encode should give one row of k={k} code values per example, shape ({n_samples}, {k}); "
        f"yours has shape {c.shape}. With examples as rows, c = (x - mean) @ V.",
    )
    if not _close(c, (x - mean) @ V):
        hint = " Subtract the mean first." if _close(c, x @ V) else ""
        raise AssertionError("encode should compute the code c = V^T (x - mean) of each row, "
                             "i.e. (x - mean) @ V." + hint)
    codes = (x - mean) @ V
    x_hat = np.asarray(decode(codes, mean, V), dtype=np.float64)
    expect(
        x_hat.shape == (n_samples, n_features),
        f"decode should give one row of {n_features} values per code, shape ({n_samples}, "
        f"{n_features}); yours has shape {x_hat.shape}. With codes as rows, mean + c @ V.T.",
    )
    if not _close(x_hat, mean + codes @ V.T):
        hint = " Add the mean back." if _close(x_hat, codes @ V.T) else ""
        raise AssertionError("decode should compute x_hat = mean + V c for each code, "
                             "i.e. mean + c @ V.T." + hint)
    full = fit_pca(x, n_features)
    back = np.asarray(decode(encode(x, full.mean, full.V), full.mean, full.V))
    expect(_close(back, x, rtol=1e-6, atol=1e-8),
           "with all components kept, decode(encode(x)) should give x back exactly.")
    passed(f"encode and decode with k={k} of {n_features} components")


@_graded
def check_explained_variance_ratio(
    fn: Callable, eigenvalues: tuple[float, ...] = (4.0, 2.0, 1.0, 0.5, 0.3, 0.2)
) -> None:
    """``fn(eigenvalues, k)``: the share of the total variance in the top ``k`` (largest first)."""
    values = np.asarray(eigenvalues, dtype=np.float64)
    for k in range(1, len(values) + 1):
        expected = values[:k].sum() / values.sum()
        got = fn(values.copy(), k)
        expect(_is_number(got), f"return one number for each k, not {type(got)}.")
        expect(
            np.isclose(float(got), expected, rtol=1e-9),
            f"with eigenvalues {[float(v) for v in values]} (largest first), the top {k} explain "
            f"{expected:.4f} of the variance: sum of the first {k} over the sum of all. "
            f"You returned {float(got):.4f}.",
        )
    passed(f"explained variance ratio for k = 1..{len(values)}")


@_graded
def check_pca_error_by_k(
    fn: Callable, ks: tuple[int, ...] = (1, 2, 4, 6), n_train: int = 120, n_test: int = 40,
    n_features: int = 6, seed: int = 0,
) -> None:
    """``fn(x_train, x_test, ks)``: for each k, the test images' mean squared error after PCA
    fitted on ``x_train`` with k components."""
    from .pca import fit_pca

    x_train = pca_test_data(n_train, n_features, seed)
    x_test = pca_test_data(n_test, n_features, seed + 1000, offset=6.0)  # another distribution

    def errors(fit_on, measure_on, per_image_sum=False):
        out = []
        for k in ks:
            p = fit_pca(fit_on, k)
            sq = (measure_on - p.decode(p.encode(measure_on))) ** 2
            out.append(sq.sum(axis=1).mean() if per_image_sum else sq.mean())
        return np.array(out)

    got = np.asarray(fn(x_train.copy(), x_test.copy(), list(ks)), dtype=np.float64)
    expect(
        got.shape == (len(ks),),
        f"return one error per k, shape ({len(ks)},) for ks={list(ks)}; yours has shape {got.shape}.",
    )
    expected = errors(x_train, x_test)
    if not _close(got, expected, rtol=1e-6):
        hints = [
            (errors(x_test, x_test), " Fit PCA on x_train only: the test set is for measuring."),
            (errors(x_train, x_train), " Measure the error on x_test, not on the training data."),
            (errors(x_train, x_test, True), " Average over pixels too (mean, not a sum per image)."),
        ]
        hint = next((h for e, h in hints if _close(got, e, rtol=1e-6)), "")
        raise AssertionError(
            "for each k fit PCA with k components on x_train, reconstruct x_test "
            "(decode(encode(x_test))) and return the mean squared error over all test values; "
            f"expected {np.round(expected, 4)}, got {np.round(got, 4)}." + hint
        )
    passed(f"test reconstruction error for k in {list(ks)}")


# --------------------------------------------------------------------------------------
# Lab 02 · dense and sparse autoencoders
# --------------------------------------------------------------------------------------


def _check_three_models(result, input_dim: int, code_shape: tuple, name: str,
                        input_shape: tuple | None = None) -> tuple:
    """The (encoder, decoder, autoencoder) tuple: types, shapes, shared layers, composition."""
    import keras

    input_shape = input_shape or (input_dim,)
    expect(
        isinstance(result, tuple) and len(result) == 3,
        f"{name} must return a tuple (encoder, decoder, autoencoder); "
        f"it returned {type(result).__name__}.",
    )
    encoder, decoder, autoencoder = result
    for part, model in (("encoder", encoder), ("decoder", decoder), ("autoencoder", autoencoder)):
        expect(isinstance(model, keras.Model), f"{part} must be a keras.Model, got {type(model)}.")
    shapes = {
        "encoder": (encoder, input_shape, code_shape),
        "decoder": (decoder, code_shape, input_shape),
        "autoencoder": (autoencoder, input_shape, input_shape),
    }
    def what(shape: tuple) -> str:
        return f"vectors of {shape[0]} values" if len(shape) == 1 else "x".join(map(str, shape))

    for part, (model, n_in, n_out) in shapes.items():
        expect(
            _shape(model.inputs[0]) == (None, *n_in),
            f"{part} should take {what(n_in)}, shape {(None, *n_in)}; "
            f"its input shape is {_shape(model.inputs[0])}.",
        )
        expect(
            _shape(model.outputs[0]) == (None, *n_out),
            f"{part} should output {what(n_out)}, shape {(None, *n_out)}; "
            f"its output shape is {_shape(model.outputs[0])}.",
        )
    shared = {id(w) for w in autoencoder.weights}
    own = encoder.weights + decoder.weights
    expect(
        len(own) == len(shared) and all(id(w) in shared for w in own),
        "encoder and decoder must reuse the autoencoder's layers (the same layer objects), "
        "not copies: then training the autoencoder trains them too.",
    )
    return encoder, decoder, autoencoder


def _check_composition(encoder, decoder, autoencoder, x) -> None:
    both = np.asarray(autoencoder(x))
    chained = np.asarray(decoder(encoder(x)))
    expect(
        np.allclose(both, chained, atol=1e-5),
        "autoencoder(x) should equal decoder(encoder(x)); build the autoencoder from "
        "the encoder and decoder.",
    )


def _check_dense_pair(result, input_dim: int, code_size: int, name: str, seed: int) -> tuple:
    encoder, decoder, autoencoder = _check_three_models(result, input_dim, (code_size,), name)
    expected_params = 2 * input_dim * code_size + code_size + input_dim
    expect(
        autoencoder.count_params() == expected_params,
        f"a {input_dim}-{code_size}-{input_dim} dense autoencoder has {expected_params:,} "
        f"weights and biases; yours has {autoencoder.count_params():,}. Use exactly one Dense "
        "layer in the encoder and one in the decoder.",
    )
    x = np.random.default_rng(seed).uniform(-3, 3, size=(16, input_dim)).astype("float32")
    z = np.asarray(encoder(x))
    expect(
        z.min() >= 0 and (z > 0).any(),
        "the code should use a ReLU activation (values >= 0, not all zero); "
        f"your code values range from {z.min():.3g} to {z.max():.3g}.",
    )
    out = np.asarray(decoder(z * 50 - 25))
    expect(
        out.min() >= 0 and out.max() <= 1 and out.min() < 0.2 and out.max() > 0.8,
        "the decoder's output should use a sigmoid activation so pixels lie in [0, 1]; "
        f"for large codes yours gives values from {out.min():.3g} to {out.max():.3g}.",
    )
    _check_composition(encoder, decoder, autoencoder, x)
    return encoder, decoder, autoencoder


@_graded
def check_dense_autoencoder(
    build: Callable, input_dim: int = 784, code_size: int = 32, seed: int = 0
) -> None:
    """``build(input_dim, code_size)`` must return ``(encoder, decoder, autoencoder)``
    sharing layers: Dense(code, relu) then Dense(input, sigmoid)."""
    _check_dense_pair(build(input_dim, code_size), input_dim, code_size,
                      "build_dense_autoencoder", seed)
    passed(f"{input_dim}-{code_size}-{input_dim} autoencoder with shared layers")


@_graded
def check_reconstruction_errors(errors_fn: Callable, n: int = 7, seed: int = 1) -> None:
    """``errors_fn(x, x_hat)`` must return each image's mean squared error."""
    rng = np.random.default_rng(seed)
    for shape in ((n, 784), (n, 28, 28)):
        x = rng.uniform(size=shape).astype("float32")
        x_hat = rng.uniform(size=shape).astype("float32")
        expected = ((x.astype(np.float64) - x_hat) ** 2).reshape(n, -1).mean(axis=1)
        got = np.asarray(errors_fn(x, x_hat))
        expect(
            got.shape == (n,),
            f"for {n} images of shape {shape[1:]} return {n} errors, one per image "
            f"(shape ({n},)); you returned shape {got.shape}. Average over the pixel axes only.",
        )
        expect(
            np.allclose(got, expected, rtol=1e-4, atol=1e-7),
            "each error should be the mean of the squared pixel differences, "
            f"mean((x - x_hat)**2); for the first image expected {expected[0]:.5f}, "
            f"got {got[0]:.5f}.",
        )
    same = rng.uniform(size=(3, 10))
    expect(
        np.allclose(errors_fn(same, same), 0),
        "an image reconstructed perfectly has error 0.",
    )
    passed("per-image reconstruction errors")


@_graded
def check_compression_factor(
    factor_fn: Callable, cases: tuple[tuple[int, int], ...] = ((784, 32), (784, 2))
) -> None:
    """``factor_fn(input_dim, code_size)`` must be input_dim / code_size."""
    for input_dim, code_size in cases:
        got = factor_fn(input_dim, code_size)
        expect(
            isinstance(got, (int, float, np.number)) and np.isclose(got, input_dim / code_size),
            f"{input_dim} inputs squeezed into {code_size} code values is a compression "
            f"factor of {input_dim / code_size:g}; you returned {got!r}.",
        )
    passed("compression factor")


def _penalty(model) -> float:
    return float(sum(float(np.asarray(loss)) for loss in model.losses))


@_graded
def check_sparse_autoencoder(
    build: Callable, input_dim: int = 784, code_size: int = 32, l1: float = 1e-4, seed: int = 0
) -> None:
    """``build(input_dim, code_size, l1)``: the dense autoencoder plus the penalty
    ``l1 * sum|z|`` of each image's code, averaged over the batch (an activity regularizer)."""
    encoder, decoder, autoencoder = _check_dense_pair(
        build(input_dim, code_size, l1), input_dim, code_size, "build_sparse_autoencoder", seed)
    fresh = build(input_dim, code_size, l1)[2]
    expect(
        _penalty(fresh) == 0,
        "your model has a penalty before it has seen any image: that is a penalty on the "
        "weights (kernel_regularizer). The sparse autoencoder penalises the code itself: "
        "pass activity_regularizer=keras.regularizers.L1(l1) to the code's Dense layer.",
    )
    # inputs large enough that codes are far from 1, where sum|z| and sum z^2 would agree
    x = np.random.default_rng(seed + 1).uniform(0, 8, size=(8, input_dim)).astype("float32")
    autoencoder(x)
    got = _penalty(autoencoder)
    z = np.asarray(encoder(x), dtype=np.float64)
    expected = l1 * np.abs(z).sum(axis=1).mean()
    expect(
        got > 0,
        "calling your autoencoder adds no penalty: pass "
        "activity_regularizer=keras.regularizers.L1(l1) to the code's Dense layer.",
    )
    if not np.isclose(got, expected, rtol=1e-3):
        x_hat = np.asarray(decoder(z.astype("float32")), dtype=np.float64)
        hints = [
            (l1 * np.abs(x_hat).sum(axis=1).mean(),
             " You penalised the decoder's output; put the regularizer on the code layer."),
            (l1 * (z**2).sum(axis=1).mean(), " That is an L2 penalty; use L1 (sum of |z|)."),
        ]
        hint = next((h for value, h in hints if np.isclose(got, value, rtol=1e-3)), "")
        raise AssertionError(
            f"with l1={l1:g} the penalty should be l1 * sum|z| of each image's code, "
            f"averaged over the batch: {expected:.4g} for this batch; yours is {got:.4g}." + hint
        )
    passed(f"{input_dim}-{code_size}-{input_dim} sparse autoencoder, L1 penalty {l1:g} on the code")


@_graded
def check_fraction_inactive(fn: Callable, shape: tuple[int, int] = (20, 32), tol: float = 0.1,
                            seed: int = 0) -> None:
    """``fn(z, tol)``: the fraction of code values with ``|z| <= tol`` (one number)."""
    rng = np.random.default_rng(seed)
    z = rng.choice([0.0, 1.0], size=shape, p=[0.5, 0.5]) * rng.uniform(2 * tol, 5 * tol, shape)
    small = rng.uniform(size=shape) < 0.25
    z[small] = rng.uniform(-0.9 * tol, 0.9 * tol, size=int(small.sum()))  # near zero, not zero
    z[rng.uniform(size=shape) < 0.1] *= -1  # a few negative values (a linear code has them)
    original = z.copy()
    expected = float(np.mean(np.abs(z) <= tol))
    got = fn(z, tol)
    expect(np.array_equal(z, original), "your function changed the codes it measured.")
    expect(_is_number(got), f"return one number for the whole array, not {type(got)} "
           f"{np.shape(got)}.")
    expect(
        0 <= float(got) <= 1,
        f"return a fraction between 0 and 1 (share of the {z.size} values), not a count; "
        f"you returned {float(got):g}.",
    )
    hints = [
        (float(np.mean(z == 0)), " Count values close to zero (|z| <= tol), not only exact zeros."),
        (1 - expected, " That is the share of active values; count the inactive ones."),
        (float(np.mean(z <= tol)), " Use the absolute value: codes can be negative."),
    ]
    hint = next((h for value, h in hints if np.isclose(float(got), value)), "")
    expect(
        np.isclose(float(got), expected),
        f"{expected:.4f} of these code values have |z| <= {tol:g}; you returned "
        f"{float(got):.4f}." + hint,
    )
    passed(f"fraction of inactive code values (|z| <= {tol:g})")


# --------------------------------------------------------------------------------------
# Lab 03 · deep and convolutional autoencoders, training
# --------------------------------------------------------------------------------------


def _flat_layers(model) -> list:
    """The model's layers in order, nested models expanded."""
    import keras

    out = []
    for layer in model.layers:
        out.extend(_flat_layers(layer) if isinstance(layer, keras.Model) else [layer])
    return out


def _activation(layer) -> str:
    fn = getattr(layer, "activation", None)
    return getattr(fn, "__name__", str(fn))


def _check_dense_stack(model, part: str, widths: list[int], activations: list[str]) -> None:
    from keras import layers

    dense = [layer for layer in _flat_layers(model) if isinstance(layer, layers.Dense)]
    got = [layer.units for layer in dense]
    expect(
        got == widths,
        f"the {part}'s Dense layers should have {', '.join(map(str, widths))} units, in this "
        f"order; yours have {', '.join(map(str, got)) or 'none'}.",
    )
    for layer, want in zip(dense, activations, strict=True):
        should = "have no activation (linear)" if want == "linear" else f"use activation='{want}'"
        expect(
            _activation(layer) == want,
            f"the {part}'s Dense layer with {layer.units} units should {should}; "
            f"yours uses '{_activation(layer)}'.",
        )


def dense_chain_params(sizes: list[int]) -> int:
    """Weights and biases of Dense layers sizes[0] -> sizes[1] -> ... (reference answer)."""
    return sum(a * b + b for a, b in zip(sizes[:-1], sizes[1:], strict=True))


@_graded
def check_deep_autoencoder(
    build: Callable, input_dim: int = 784, hidden: tuple[int, ...] = (128, 64), code_size: int = 32,
    seed: int = 0,
) -> None:
    """``build(input_dim, hidden, code_size)``: the slides' 784-128-64-32-64-128-784 stack."""
    hidden = tuple(hidden)
    encoder, decoder, autoencoder = _check_three_models(
        build(input_dim, hidden, code_size), input_dim, (code_size,), "build_deep_autoencoder")
    _check_dense_stack(encoder, "encoder", [*hidden, code_size], ["relu"] * (len(hidden) + 1))
    _check_dense_stack(decoder, "decoder", [*reversed(hidden), input_dim],
                       ["relu"] * len(hidden) + ["sigmoid"])
    sizes = [input_dim, *hidden, code_size, *reversed(hidden), input_dim]
    expect(
        autoencoder.count_params() == dense_chain_params(sizes),
        f"a {'-'.join(map(str, sizes))} autoencoder has {dense_chain_params(sizes):,} weights "
        f"and biases; yours has {autoencoder.count_params():,}.",
    )
    x = np.random.default_rng(seed).uniform(0, 1, size=(8, input_dim)).astype("float32")
    _check_composition(encoder, decoder, autoencoder, x)
    passed(f"deep autoencoder {'-'.join(map(str, sizes))}")


def conv_params(kernel_size: int, in_channels: int, out_channels: int) -> int:
    """Weights and biases of a Conv2D layer with square kernels (reference answer)."""
    return kernel_size * kernel_size * in_channels * out_channels + out_channels


def slides_conv_params(channels: int = 1) -> int:
    """Parameters of the slides' convolutional autoencoder for ``channels``-channel images."""
    steps = [(channels, 16), (16, 8), (8, 8), (8, 8), (8, 8), (8, 16), (16, channels)]
    return sum(conv_params(3, a, b) for a, b in steps)


@_graded
def check_conv_autoencoder(build: Callable, image_shape: tuple[int, int, int] = (28, 28, 1),
                           seed: int = 0) -> None:
    """``build(image_shape)``: the slides' convolutional autoencoder with a 4x4x8 code."""
    from keras import layers

    image_shape = tuple(image_shape)
    result = build(image_shape)
    expect(isinstance(result, tuple) and len(result) == 3,
           "build_conv_autoencoder must return a tuple (encoder, decoder, autoencoder).")
    encoder, decoder, autoencoder = result
    code = _shape(encoder.outputs[0])
    expect(
        code == (None, 4, 4, 8),
        f"the code should be 4x4x8 = 128 values, shape (None, 4, 4, 8), as on the slides; "
        f"your encoder outputs {code}. Three Conv2D + MaxPooling2D(2, padding='same') steps "
        "take 28 -> 14 -> 7 -> 4; the last Conv2D has 8 filters.",
    )
    out = _shape(autoencoder.outputs[0])
    hint = ""
    if len(out) == 4 and out[1:3] != image_shape[:2]:
        hint = (" The decoder's third Conv2D (16 filters) must use padding='valid' to take 16x16 "
                "to 14x14; then UpSampling2D makes 28x28.")
    elif len(out) == 4 and out[-1] != image_shape[-1]:
        hint = (f" The last Conv2D needs one filter per image channel: image_shape[-1] = "
                f"{image_shape[-1]}.")
    expect(
        out == (None, *image_shape),
        f"the autoencoder should output images of shape {(None, *image_shape)}; yours outputs "
        f"{out}." + hint,
    )
    encoder, decoder, autoencoder = _check_three_models(
        result, 0, (4, 4, 8), "build_conv_autoencoder", input_shape=image_shape)
    kinds = {"encoder": (layers.Conv2D, layers.MaxPooling2D), "decoder": (layers.Conv2D,
                                                                          layers.UpSampling2D)}
    counts = {"encoder": (3, 3), "decoder": (4, 3)}
    for part, model in (("encoder", encoder), ("decoder", decoder)):
        found = [layer for layer in _flat_layers(model) if isinstance(layer, kinds[part])]
        n_conv = sum(isinstance(layer, layers.Conv2D) for layer in found)
        n_other = len(found) - n_conv
        want_conv, want_other = counts[part]
        expect(
            (n_conv, n_other) == (want_conv, want_other),
            f"the {part} should have {want_conv} Conv2D and {want_other} "
            f"{kinds[part][1].__name__} layers, as on the slides; yours has {n_conv} and {n_other}.",
        )
    convs = [layer for layer in _flat_layers(autoencoder) if isinstance(layer, layers.Conv2D)]
    valid = [layer for layer in convs if layer.padding == "valid"]
    expect(len(valid) == 1, f"exactly one Conv2D should use padding='valid'; yours has {len(valid)}.")
    wanted = ["relu"] * (len(convs) - 1) + ["sigmoid"]
    got = [_activation(layer) for layer in convs]
    expect(
        got == wanted,
        "every Conv2D should use activation='relu' except the last one, 'sigmoid' (pixels in "
        f"[0, 1]); yours use {got}.",
    )
    expected = slides_conv_params(image_shape[-1])
    expect(
        autoencoder.count_params() == expected,
        f"the slides' convolutional autoencoder for {image_shape[-1]}-channel images has "
        f"{expected:,} parameters; yours has {autoencoder.count_params():,}. Use 3x3 kernels "
        "with 16, 8, 8 filters down and 8, 8, 16 up, and a last Conv2D with one filter per "
        "image channel.",
    )
    x = np.random.default_rng(seed).uniform(size=(2, *image_shape)).astype("float32")
    _check_composition(encoder, decoder, autoencoder, x)
    passed(f"convolutional autoencoder {image_shape} -> 4x4x8 -> {image_shape}")


@_graded
def check_param_counts(dense_fn: Callable, conv_fn: Callable,
                       chains: tuple[tuple[int, ...], ...] = ((784, 32, 784),
                                                             (784, 128, 64, 32, 64, 128, 784)),
                       convs: tuple[tuple[int, int, int], ...] = ((3, 1, 16), (3, 16, 8))) -> None:
    """``dense_fn(sizes)`` and ``conv_fn(kernel_size, in_channels, out_channels)`` count
    weights and biases as Keras does."""
    import keras
    from keras import layers

    for sizes in chains:
        x = keras.Input(shape=(sizes[0],))
        h = x
        for units in sizes[1:]:
            h = layers.Dense(units)(h)
        keras_count = keras.Model(x, h).count_params()
        got = dense_fn(list(sizes))
        expect(
            _is_number(got) and int(got) == keras_count,
            f"Dense layers {'-'.join(map(str, sizes))} have {keras_count:,} parameters (each "
            f"layer a -> b has a*b weights and b biases); you returned {got!r}.",
        )
    for kernel, c_in, c_out in convs:
        layer = layers.Conv2D(c_out, kernel)
        layer.build((None, 2 * kernel, 2 * kernel, c_in))
        keras_count = layer.count_params()
        got = conv_fn(kernel, c_in, c_out)
        expect(
            _is_number(got) and int(got) == keras_count,
            f"a Conv2D with {c_out} filters of {kernel}x{kernel} over {c_in} input channels has "
            f"{keras_count:,} parameters (each filter has {kernel}*{kernel}*{c_in} weights and "
            f"one bias); you returned {got!r}.",
        )
    passed("parameter counts of Dense and Conv2D layers")


def _spy_on_fit(model, validate: Callable) -> list[tuple]:
    """Check the (x, y) of every ``model.fit`` call with ``validate(x, y)`` before it trains."""
    calls: list[tuple] = []
    original = model.fit

    def fit(*args, **kwargs):
        x = kwargs.get("x", args[0] if args else None)
        y = kwargs.get("y", args[1] if len(args) > 1 else None)
        calls.append((x, y))
        validate(x, y)
        return original(*args, **kwargs)

    model.fit = fit
    return calls


def _same(a, b) -> bool:
    try:
        a, b = np.asarray(a), np.asarray(b)
    except (TypeError, ValueError):
        return False
    return a.shape == b.shape and bool(np.allclose(a, b))


def _history(result, epochs: int, need_val: bool) -> None:
    import keras

    expect(
        isinstance(result, keras.callbacks.History),
        f"return what model.fit returns (a History), not {type(result).__name__}.",
    )
    expect(
        len(result.epoch) == epochs,
        f"train for the `epochs` you are given ({epochs}); yours trained {len(result.epoch)}.",
    )
    if need_val:
        expect(
            "val_loss" in result.history,
            "pass validation_data=(x_val, x_val) to fit, so the history has a 'val_loss'.",
        )


@_graded
def check_training(train_fn: Callable, seed: int = 0, max_ratio: float = 0.7) -> None:
    """``train_fn(autoencoder, x_train, x_val, epochs, batch_size)`` compiles and trains; the
    slides' deep autoencoder must then reach a test MSE below ``max_ratio`` times that of
    always predicting the mean training image, at the grading budget (``ci``) everywhere."""
    import keras

    from . import data, models, runtime

    budget = runtime.budget("ci")  # the grading budget wherever it runs: calibrated there
    print(f"grading budget {budget.describe()}")
    fashion = data.load_fashion_mnist(budget)
    x_train, x_val, x_test = (data.flatten(x) for x in (fashion.x_train, fashion.x_val,
                                                        fashion.x_test))
    keras.utils.set_random_seed(seed)
    _, _, autoencoder = models.deep_autoencoder(x_train.shape[1])

    def copies(x, y) -> None:
        expect(_same(x, x_train) and _same(y, x_train),
               "an autoencoder learns to copy: call fit(x_train, x_train, ...) (the input is "
               "the target).")

    calls = _spy_on_fit(autoencoder, copies)
    history = train_fn(autoencoder, x_train, x_val, budget.epochs, budget.batch_size)
    expect(bool(calls), "train_autoencoder should call autoencoder.fit.")
    _history(history, budget.epochs, need_val=True)
    x_hat = np.asarray(autoencoder.predict(x_test, verbose=0), dtype=np.float64)
    mse = float(np.mean((x_test - x_hat) ** 2))
    baseline = float(np.mean((x_test - x_train.mean(axis=0)) ** 2))
    print(f"test MSE {mse:.4f}; predicting the mean image: {baseline:.4f}; "
          f"required below {max_ratio} x {baseline:.4f} = {max_ratio * baseline:.4f}")
    expect(
        mse < max_ratio * baseline,
        f"after {budget.epochs} epochs on {len(x_train):,} images the deep autoencoder's test MSE "
        f"is {mse:.4f}, not below {max_ratio * baseline:.4f} ({max_ratio} x the error of always "
        "predicting the mean image). Compile with optimizer='adam' (Keras' adadelta barely "
        "moves in this budget) and loss='binary_crossentropy' or 'mse', and train for `epochs`.",
    )
    passed(f"training: test MSE {mse:.4f} < {max_ratio * baseline:.4f}")


# --------------------------------------------------------------------------------------
# Lab 04 · denoising: corruptions and a denoiser
# --------------------------------------------------------------------------------------


def _images(shape: tuple, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).uniform(size=shape).astype(np.float32)


@_graded
def check_gaussian_noise(fn: Callable, shape: tuple = (6, 28, 28), std: float = 0.5,
                         seed: int = 0) -> None:
    """``fn(x, std, seed)``: clip(x + N(0, std^2), 0, 1), seeded, on a new array."""
    x = _images(shape, seed)
    original = x.copy()
    noisy = np.asarray(fn(x, std, seed))
    expect(np.array_equal(x, original),
           "your function changed the clean images: compute x + noise as a new array (no +=).")
    expect(noisy.shape == x.shape,
           f"return images of the same shape as x, {x.shape}; yours have shape {noisy.shape}.")
    expect(
        noisy.min() >= 0 and noisy.max() <= 1,
        f"pixels must stay in [0, 1]: clip the noisy images (np.clip); yours range from "
        f"{noisy.min():.3g} to {noisy.max():.3g}.",
    )
    expect(not np.allclose(noisy, x), "the noisy images equal the clean ones: add the noise.")
    again = np.asarray(fn(x, std, seed))
    expect(np.array_equal(noisy, again),
           "the same seed must give the same noise: rng = np.random.default_rng(seed).")
    expect(not np.array_equal(noisy, np.asarray(fn(x, std, seed + 1))),
           "different seeds gave the same noise: your function ignores `seed`.")
    grey = np.full((64, 32, 32), 0.5, np.float32)  # mid-grey: a small noise is never clipped
    small = 0.1
    diff = np.asarray(fn(grey, small, seed), dtype=np.float64) - 0.5
    expect(
        abs(diff.std() - small) < 0.1 * small and abs(diff.mean()) < 0.1 * small,
        f"on mid-grey images with std={small} the noise should have mean 0 and standard "
        f"deviation {small} (Gaussian: rng.normal(0, std, x.shape)); yours has mean "
        f"{diff.mean():.4f} and standard deviation {diff.std():.4f}.",
    )
    passed(f"Gaussian noise (std {std}) on images of shape {shape}")


@_graded
def check_watermark(fn: Callable, shape: tuple = (4, 28, 28), opacity: float = 0.5,
                    seed: int = 0) -> None:
    """``fn(x, mark, opacity)``: (1 - opacity*mark) * x + opacity*mark, on a new array;
    ``x`` is (N, H, W) or (N, H, W, 1), ``mark`` is (H, W)."""
    from .corruptions import watermark_pattern

    mark = watermark_pattern(shape[1:3])
    for images_shape in (shape, (*shape, 1)):
        x = _images(images_shape, seed)
        original = x.copy()
        got = np.asarray(fn(x, mark, opacity))
        expect(np.array_equal(x, original),
               "your function changed the clean images: build the watermarked ones as a new array.")
        expect(
            got.shape == x.shape,
            f"for images of shape {x.shape} return the same shape; yours is {got.shape}. For "
            "(N, H, W, 1) images give the (H, W) mark a channel axis: mark[..., None].",
        )
        m = mark if x.ndim == 3 else mark[..., None]
        expected = (1 - opacity * m) * x + opacity * m
        hint = ""
        if _close(got, np.clip(x + opacity * m, 0, 1), rtol=1e-5, atol=1e-6):
            hint = " Blend, do not add: where the mark is 1 the pixel moves toward white."
        expect(
            _close(got, expected, rtol=1e-5, atol=1e-6),
            f"blend the mark over each image: (1 - opacity * mark) * x + opacity * mark "
            f"(with opacity={opacity}, a pixel under the mark goes from x toward 1)." + hint,
        )
    x = _images(shape, seed)
    expect(_close(fn(x, mark, 0.0), x, rtol=1e-6), "with opacity 0 the images should be unchanged.")
    passed(f"watermark with opacity {opacity} on images of shape {shape}")


@_graded
def check_mask_patches(fn: Callable, shape: tuple = (16, 28, 28), size: int = 8,
                       seed: int = 0) -> None:
    """``fn(x, size, seed)`` -> ``(masked, mask)``: one random size x size square per image,
    inside the image, set to 0; ``mask`` is True there; seeded; ``x`` untouched."""
    x = _images(shape, seed) * 0.9 + 0.05  # no pixel is 0
    original = x.copy()
    result = fn(x, size, seed)
    expect(isinstance(result, tuple) and len(result) == 2,
           "return a tuple (masked_images, mask).")
    masked, mask = (np.asarray(r) for r in result)
    expect(np.array_equal(x, original),
           "your function changed the clean images: mask a copy (x.copy()).")
    expect(masked.shape == x.shape, f"masked images should have shape {x.shape}, not {masked.shape}.")
    expect(mask.shape == x.shape and mask.dtype == bool,
           f"mask should be a boolean array of shape {x.shape} (True where pixels were removed); "
           f"yours is {mask.dtype} {mask.shape}.")
    counts = mask.reshape(len(x), -1).sum(axis=1)
    expect(
        bool(np.all(counts == size * size)),
        f"each image should lose exactly one {size}x{size} square ({size * size} pixels), fully "
        f"inside the image: draw the top-left corner from 0 to H - {size}. Your masks have "
        f"{sorted(set(counts.tolist()))} pixels.",
    )
    corners = []
    for m in mask:
        rows, cols = np.nonzero(m)
        expect(
            rows.max() - rows.min() + 1 == size and cols.max() - cols.min() + 1 == size,
            f"each mask should be one {size}x{size} square.",
        )
        corners.append((int(rows.min()), int(cols.min())))
    expect(bool(np.all(masked[mask] == 0)), "the removed pixels should be set to 0.")
    expect(np.array_equal(masked[~mask], x[~mask]), "pixels outside the square must keep their values.")
    expect(len(set(corners)) > 1,
           "every image has its square in the same place: draw a position for each image.")
    again_masked, again_mask = (np.asarray(r) for r in fn(x, size, seed))
    expect(np.array_equal(mask, again_mask),
           "the same seed must give the same squares: rng = np.random.default_rng(seed).")
    expect(not np.array_equal(mask, np.asarray(fn(x, size, seed + 1)[1])),
           "different seeds gave the same squares: your function ignores `seed`.")
    passed(f"{size}x{size} masks on images of shape {shape}")


@_graded
def check_denoiser_training(
    train_fn: Callable, model: str = "conv", std: float = 0.5, seed: int = 0,
    min_gain_db: float | None = None,
) -> None:
    """``train_fn(model, x_noisy, x_clean, epochs, batch_size)`` compiles and trains a denoiser;
    it must then raise the test images' PSNR over their noisy versions by ``min_gain_db``,
    at the grading budget (``ci``) everywhere.

    ``model``: 'conv' (the slides' denoiser with 16 filters) or 'dense' (784-128-784)."""
    import keras

    from . import corruptions, data, metrics, models, runtime

    gain_needed = min_gain_db if min_gain_db is not None else {"conv": 3.0, "dense": 2.5}[model]
    budget = runtime.budget("ci")  # the grading budget wherever it runs: calibrated there
    print(f"grading budget {budget.describe()}")
    fashion = data.load_fashion_mnist(budget)
    x_train, x_test = fashion.x_train[..., None], fashion.x_test[..., None]
    keras.utils.set_random_seed(seed)
    if model == "conv":
        net = models.conv_denoiser(x_train.shape[1:], filters=16)
    else:
        x_train, x_test = data.flatten(x_train), data.flatten(x_test)
        net = models.dense_autoencoder(x_train.shape[1], 128)[2]
    noisy_train = corruptions.gaussian_noise(x_train, std, seed=seed + 1)
    noisy_test = corruptions.gaussian_noise(x_test, std, seed=seed + 2)

    def noisy_to_clean(x, y) -> None:
        expect(not _same(x, x_train), "you trained on clean inputs: the denoiser's input is the "
               "noisy images, fit(x_noisy, x_clean, ...).")
        expect(_same(x, noisy_train), "the denoiser's input should be the noisy images x_noisy.")
        expect(_same(y, x_train), "the target should be the clean images: fit(x_noisy, x_clean, "
               "...) (the slides: recover x from x~).")

    calls = _spy_on_fit(net, noisy_to_clean)
    history = train_fn(net, noisy_train.copy(), x_train.copy(), budget.epochs, budget.batch_size)
    expect(bool(calls), "train_denoiser should call model.fit.")
    _history(history, budget.epochs, need_val=False)
    before = metrics.psnr(x_test, noisy_test)
    after = metrics.psnr(x_test, net.predict(noisy_test, verbose=0))
    print(f"PSNR of the noisy test images {before:.2f} dB, denoised {after:.2f} dB "
          f"(gain {after - before:+.2f} dB, required {gain_needed:+.1f} dB)")
    expect(
        after - before >= gain_needed,
        f"after {budget.epochs} epochs on {len(x_train):,} images the denoiser raised the test PSNR "
        f"by {after - before:+.2f} dB, less than {gain_needed} dB. Compile with "
        "optimizer='adam' and loss='binary_crossentropy' or 'mse', and train for `epochs`.",
    )
    passed(f"denoiser ({model}) gains {after - before:+.2f} dB of PSNR")


# --------------------------------------------------------------------------------------
# Lab 05 · the latent plane and anomaly detection
# --------------------------------------------------------------------------------------


@_graded
def check_latent_2d_autoencoder(build: Callable, input_dim: int = 784,
                                hidden: tuple[int, ...] = (256, 64), seed: int = 0) -> None:
    """``build(input_dim, hidden)``: a deep dense autoencoder with a linear 2-D code."""
    hidden = tuple(hidden)
    encoder, decoder, autoencoder = _check_three_models(
        build(input_dim, hidden), input_dim, (2,), "build_latent_2d_autoencoder")
    _check_dense_stack(encoder, "encoder", [*hidden, 2], ["relu"] * len(hidden) + ["linear"])
    _check_dense_stack(decoder, "decoder", [*reversed(hidden), input_dim],
                       ["relu"] * len(hidden) + ["sigmoid"])
    x = np.random.default_rng(seed).uniform(size=(64, input_dim)).astype("float32")
    z = np.asarray(encoder(x))
    expect(bool((z < 0).any() and (z > 0).any()),
           "the 2-D code should be linear (no activation), so codes spread over the whole plane, "
           "negative values included.")
    _check_composition(encoder, decoder, autoencoder, x)
    passed(f"autoencoder {input_dim}-{'-'.join(map(str, hidden))}-2 with a linear code")


def _small_decoder(seed: int, out_dim: int = 10):
    import keras
    from keras import layers

    keras.utils.set_random_seed(seed)
    z = keras.Input(shape=(2,))
    h = layers.Dense(16, activation="relu")(z)
    return keras.Model(z, layers.Dense(out_dim, activation="sigmoid")(h))


@_graded
def check_latent_walk(fn: Callable, steps: int = 5, seed: int = 0) -> None:
    """``fn(decoder, z_from, z_to, steps)``: decode ``steps`` evenly spaced points of the
    segment from ``z_from`` to ``z_to`` (both ends included), one image per row."""
    decoder = _small_decoder(seed)
    rng = np.random.default_rng(seed)
    z_from, z_to = rng.normal(0, 3, 2).astype("float32"), rng.normal(0, 3, 2).astype("float32")
    got = np.asarray(fn(decoder, z_from.copy(), z_to.copy(), steps), dtype=np.float64)

    def decode(z):
        return np.asarray(decoder(np.asarray(z, dtype="float32")), dtype=np.float64)

    t = np.linspace(0, 1, steps)[:, None]
    expected = decode((1 - t) * z_from + t * z_to)
    expect(
        got.shape == expected.shape,
        f"return {steps} decoded images, one per row, shape {expected.shape}; yours has shape "
        f"{got.shape}." + (" Decode the points: return images, not codes." if got.shape == (steps, 2)
                           else ""),
    )
    if not _close(got, expected, rtol=1e-4, atol=1e-5):
        ends = decode(np.stack([z_from, z_to]))
        hints = [
            ((1 - t) * ends[0] + t * ends[1],
             " You mixed the two decoded images; walk in the code plane, then decode each point."),
        ]
        hint = next((h for value, h in hints if _close(got, value, rtol=1e-4, atol=1e-5)), "")
        expect(_close(got[0], ends[0], rtol=1e-4, atol=1e-5),
               "the walk should start at decoder(z_from)." + hint)
        expect(_close(got[-1], ends[1], rtol=1e-4, atol=1e-5),
               "the walk should end at decoder(z_to): include both ends (np.linspace(0, 1, steps))."
               + hint)
        raise AssertionError("decode the points (1 - t) * z_from + t * z_to for t evenly spaced "
                             "from 0 to 1." + hint)
    passed(f"a walk of {steps} steps across the latent plane")


@_graded
def check_anomaly_scores(fn: Callable, input_dim: int = 784, n: int = 7, seed: int = 0) -> None:
    """``fn(autoencoder, x)``: each image's mean squared reconstruction error, shape (N,)."""
    import keras

    from . import models

    keras.utils.set_random_seed(seed)
    _, _, autoencoder = models.dense_autoencoder(input_dim, 4)
    x = np.random.default_rng(seed).uniform(size=(n, input_dim)).astype("float32")
    x_hat = np.asarray(autoencoder.predict(x, verbose=0), dtype=np.float64)
    expected = ((x - x_hat) ** 2).mean(axis=1)
    got = np.asarray(fn(autoencoder, x.copy()), dtype=np.float64)
    expect(
        got.shape == (n,),
        f"return one score per image, shape ({n},); yours has shape {got.shape}. Average the "
        "squared differences over each image's pixels (axis=1), not over the images.",
    )
    hints = [
        (np.abs(x - x_hat).mean(axis=1), " That is the mean absolute error; square the differences."),
        (((x - x_hat) ** 2).sum(axis=1), " Average over the pixels (mean), not a sum."),
    ]
    hint = next((h for value, h in hints if _close(value, got, rtol=1e-4)), "")
    expect(
        _close(got, expected, rtol=1e-4, atol=1e-7),
        "each score should be the image's mean squared reconstruction error, "
        f"mean((x - autoencoder(x))**2); expected {expected[0]:.5f} for the first image, "
        f"got {got[0]:.5f}." + hint,
    )
    passed(f"anomaly scores of {n} images")


@_graded
def check_threshold_from_validation(
    fn: Callable, n: int = 400, quantiles: tuple[float, ...] = (0.95, 0.99), seed: int = 0
) -> None:
    """``fn(val_errors, quantile)``: L with a fraction ``quantile`` of validation errors below."""
    val = np.random.default_rng(seed).exponential(0.02, size=n)
    original = val.copy()
    for q in quantiles:
        got = fn(val, q)
        expect(np.array_equal(val, original), "your function changed (sorted?) the errors in place.")
        expect(_is_number(got), f"return one threshold (a number), not {type(got)}.")
        below = float(np.mean(val <= float(got)))
        hint = (" np.percentile takes percent (0-100); np.quantile takes a fraction (0-1)."
                if np.isclose(float(got), np.percentile(val, q)) else "")
        expect(
            abs(below - q) <= 1.5 / n,
            f"with quantile={q} the threshold should leave {q:.0%} of the validation errors "
            f"below it (np.quantile(val_errors, quantile) = {np.quantile(val, q):.5f}); "
            f"yours, {float(got):.5f}, leaves {below:.1%}." + hint,
        )
    passed(f"thresholds at quantiles {', '.join(map(str, quantiles))} of {n} validation errors")


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


@_graded
def check_precision_recall(fn: Callable, quantile: float = 0.95, seed: int = 0) -> None:
    """``fn(val_errors, test_errors, test_is_anomaly, quantile)`` -> ``(precision, recall)`` of
    flagging test errors above the validation quantile."""
    val, test, is_anomaly = anomaly_test_data(seed)
    kept = (val.copy(), test.copy(), is_anomaly.copy())

    def scores(threshold, flag_above=True):
        flagged = test > threshold if flag_above else test < threshold
        tp = np.sum(flagged & is_anomaly)
        return tp / max(flagged.sum(), 1), tp / is_anomaly.sum()

    threshold = float(np.quantile(val, quantile))
    expected = scores(threshold)
    result = fn(val, test, is_anomaly, quantile)
    expect(all(np.array_equal(a, b) for a, b in zip((val, test, is_anomaly), kept, strict=True)),
           "your function changed its inputs.")
    expect(isinstance(result, tuple) and len(result) == 2 and all(map(_is_number, result)),
           f"return a tuple of two numbers (precision, recall), not {result!r}.")
    got = tuple(float(r) for r in result)
    if not np.allclose(got, expected):
        hints = [
            (scores(float(np.quantile(test, quantile))),
             " You chose the threshold on the test errors: it must come from the validation "
             "errors (normal images only); the test set only measures."),
            (expected[::-1], " Precision is tp / (tp + fp), recall is tp / (tp + fn)."),
            (scores(threshold, flag_above=False),
             " Flag the images whose error is ABOVE the threshold."),
        ]
        hint = next((h for value, h in hints if np.allclose(got, value)), "")
        raise AssertionError(
            f"with the threshold at the {quantile} quantile of the validation errors "
            f"({threshold:.4f}), flagging test errors above it gives precision {expected[0]:.3f} "
            f"and recall {expected[1]:.3f}; you returned {got[0]:.3f} and {got[1]:.3f}." + hint
        )
    passed(f"precision {expected[0]:.3f} and recall {expected[1]:.3f} at quantile {quantile}")
