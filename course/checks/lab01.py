"""Lab 01 · the curse of dimensionality and PCA.

Each check is an ``ask`` (calls the student's function, returns what it gave) and a
``judge`` (decides from that alone); see :mod:`course.checks.answers`.
"""

from __future__ import annotations

import math

import numpy as np

from .answers import (
    as_array,
    as_float,
    attempt,
    check,
    close,
    expect,
    is_number,
    passed,
    short_type,
    type_name,
)


def ball_fraction(d: int) -> float:
    """Share of the cube [-1, 1]^d inside the unit ball: pi^(d/2) / Gamma(d/2 + 1) / 2^d."""
    return math.exp(d / 2 * math.log(math.pi) - math.lgamma(d / 2 + 1) - d * math.log(2))


def pca_test_data(n_samples: int, n_features: int, seed: int, offset: float = 5.0) -> np.ndarray:
    """Correlated data with distinct variances along a random basis, far from the origin."""
    rng = np.random.default_rng(seed)
    scales = np.geomspace(4.0, 0.3, n_features)
    basis, _ = np.linalg.qr(rng.normal(size=(n_features, n_features)))
    mean = offset + rng.uniform(-1, 1, n_features)
    return (rng.normal(size=(n_samples, n_features)) * scales) @ basis.T + mean


def reference_pca(x: np.ndarray, k: int, centred: bool = True):
    x = np.asarray(x, dtype=np.float64)
    mean = x.mean(axis=0)
    xc = x - mean if centred else x
    cov = xc.T @ xc / (len(x) - 1)
    values, vectors = np.linalg.eigh(cov)
    order = np.argsort(values)[::-1]
    return mean, vectors[:, order[:k]], values[order]


# --------------------------------------------------------------------------- exercise 1


def judge_fraction_in_ball_mc(data: dict, dims, n, seeds) -> None:
    for d, calls in zip(dims, data["calls"], strict=True):
        exact = ball_fraction(d)
        got, again, others = calls
        expect(is_number(got), f"return one number (the fraction of points inside), not {type_name(got)}.")
        got = as_float(got)
        expect(
            0.0 <= got <= 1.0,
            f"return the fraction of the {n:,} points that fall inside the ball (between 0 "
            f"and 1), not a count; you returned {got:g}.",
        )
        tolerance = 5 * math.sqrt(max(exact * (1 - exact), 0.0) / n) + 1e-3
        expect(
            abs(got - exact) <= tolerance,
            f"for d={d} about {exact:.3f} of points drawn uniformly in the cube [-1, 1]^{d} fall "
            f"inside the unit ball (|y| <= 1); with {n:,} points you got {got:.4f}. "
            "Draw each coordinate with rng.uniform(-1, 1) and measure each point's length.",
        )
        expect(
            as_float(again) == got,
            f"two calls with the same seed gave {got:.5f} and {as_float(again):.5f}: "
            "make the draw repeatable with rng = np.random.default_rng(seed).",
        )
        expect(
            exact > 1 - 1e-9 or {as_float(o) for o in others} != {got},
            "different seeds gave exactly the same fraction: your function ignores `seed`.",
        )
    passed(f"Monte Carlo fraction of the cube inside the ball for d = {', '.join(map(str, dims))}")


@check(judge_fraction_in_ball_mc)
def check_fraction_in_ball_mc(
    fn, dims: tuple[int, ...] = (2, 3), n: int = 20_000, seeds: tuple[int, ...] = (0, 1, 2)
) -> dict:
    """``fn(d, n, seed)``: the fraction of ``n`` uniform points of [-1, 1]^d inside the unit ball."""
    calls = []
    for i, d in enumerate(dims):
        first = fn(d, n, seeds[0]) if i == 0 else attempt(fn, d, n, seeds[0])
        calls.append((first, attempt(fn, d, n, seeds[0]), tuple(attempt(fn, d, n, s) for s in seeds[1:])))
    return {"calls": calls}


# --------------------------------------------------------------------------- exercise 2


def judge_fraction_in_ball_exact(data: dict, dims) -> None:
    for d, got in zip(dims, data["values"], strict=True):
        exact = ball_fraction(d)
        expect(is_number(got), f"return one number, not {type_name(got)}.")
        got = as_float(got)
        hint = (
            " (1/2)^d is the slides' rough rate of decay, not the exact value."
            if np.isclose(got, 0.5**d)
            else ""
        )
        expect(
            np.isclose(got, exact, rtol=1e-6, atol=0),
            f"for d={d} the unit ball fills {exact:.6g} of the cube [-1, 1]^{d}: its volume "
            f"pi^(d/2) / Gamma(d/2 + 1) over the cube's volume 2^d. You returned {got:.6g}." + hint,
        )
    passed(f"exact fraction for d = {', '.join(map(str, dims))}")


@check(judge_fraction_in_ball_exact)
def check_fraction_in_ball_exact(fn, dims: tuple[int, ...] = (2, 3)) -> dict:
    """``fn(d)``: the exact share of the cube [-1, 1]^d inside the unit ball."""
    return {"values": [fn(d) if i == 0 else attempt(fn, d) for i, d in enumerate(dims)]}


# --------------------------------------------------------------------------- exercise 3


def judge_fit_pca(data: dict, n_samples, n_features, k, seed) -> None:
    x = pca_test_data(n_samples, n_features, seed)
    result = data["result"]
    expect(
        isinstance(result, tuple) and len(result) == 3,
        f"fit_pca must return a tuple (mean, V, eigenvalues); it returned {short_type(result)}.",
    )
    expect(
        close(data["x_after"], x, rtol=0, atol=0), "fit_pca changed its input x: centre a copy (x - mean)."
    )
    arrays = [as_array(r) for r in result]
    expect(all(a is not None for a in arrays), "mean, V and eigenvalues should be NumPy arrays of numbers.")
    mean, V, values = arrays
    ref_mean, ref_V, ref_values = reference_pca(x, k)
    expect(
        mean.shape == (n_features,) and close(mean, ref_mean),
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
        close(values, ref_values, rtol=1e-6) or close(values, biased, rtol=1e-6),
        "the eigenvalues should be those of the covariance of the centred data; yours are "
        f"{np.round(values[:3], 3)}..., expected {np.round(ref_values[:3], 3)}...",
    )
    alignment = np.abs(np.sum(V * ref_V, axis=0))  # each column may have either sign
    if not np.allclose(alignment, 1, atol=1e-5):
        _, uncentred_V, _ = reference_pca(x, k, centred=False)
        hint = (
            " They are the eigenvectors of x^T x: subtract the mean before the covariance."
            if np.allclose(np.abs(np.sum(V * uncentred_V, axis=0)), 1, atol=1e-5)
            else ""
        )
        raise AssertionError(
            f"V's columns should be the covariance's eigenvectors with the {k} largest "
            "eigenvalues, in that order (each may have either sign)." + hint
        )
    passed(f"PCA of {n_samples} points in {n_features} dimensions, top {k} components")


@check(judge_fit_pca)
def check_fit_pca(fn, n_samples: int = 200, n_features: int = 6, k: int = 3, seed: int = 0) -> dict:
    """``fn(x, k)`` -> ``(mean, V, eigenvalues)``: the slides' PCA, top-``k`` eigenvectors as columns."""
    x = pca_test_data(n_samples, n_features, seed)
    return {"result": fn(x, k), "x_after": x}


# --------------------------------------------------------------------------- exercise 4


def judge_pca_encode_decode(data: dict, n_samples, n_features, k, seed) -> None:
    from ..pca import fit_pca

    x = pca_test_data(n_samples, n_features, seed)
    fitted = fit_pca(x, k)
    mean, V = fitted.mean, fitted.V
    expect(
        all(close(a, b, rtol=0, atol=0) for a, b in zip(data["inputs_after"], (x, mean, V), strict=True)),
        "encode changed its inputs: compute (x - mean) as a new array.",
    )
    c = as_array(data["code"])
    expect(
        c is not None and c.shape == (n_samples, k),
        f"encode should give one row of k={k} code values per example, shape ({n_samples}, {k}); "
        f"yours has shape {None if c is None else c.shape}. With examples as rows, c = (x - mean) @ V.",
    )
    if not close(c, (x - mean) @ V):
        hint = " Subtract the mean first." if close(c, x @ V) else ""
        raise AssertionError(
            "encode should compute the code c = V^T (x - mean) of each row, i.e. (x - mean) @ V." + hint
        )
    codes = (x - mean) @ V
    x_hat = as_array(data["decoded"])
    expect(
        x_hat is not None and x_hat.shape == (n_samples, n_features),
        f"decode should give one row of {n_features} values per code, shape ({n_samples}, "
        f"{n_features}); yours has shape {None if x_hat is None else x_hat.shape}. With codes as rows, "
        "mean + c @ V.T.",
    )
    if not close(x_hat, mean + codes @ V.T):
        hint = " Add the mean back." if close(x_hat, codes @ V.T) else ""
        raise AssertionError(
            "decode should compute x_hat = mean + V c for each code, i.e. mean + c @ V.T." + hint
        )
    expect(
        close(data["round_trip"], x, rtol=1e-6, atol=1e-8),
        "with all components kept, decode(encode(x)) should give x back exactly.",
    )
    passed(f"encode and decode with k={k} of {n_features} components")


@check(judge_pca_encode_decode, functions=2)
def check_pca_encode_decode(
    encode, decode, n_samples: int = 50, n_features: int = 6, k: int = 3, seed: int = 0
) -> dict:
    """``encode(x, mean, V)`` = (x - mean) V and ``decode(c, mean, V)`` = mean + c V^T, row-wise."""
    from ..pca import fit_pca

    x = pca_test_data(n_samples, n_features, seed)
    fitted = fit_pca(x, k)
    mean, V = fitted.mean.copy(), fitted.V.copy()
    code = encode(x, mean, V)
    inputs_after = (x.copy(), mean.copy(), V.copy())
    decoded = attempt(decode, (x - fitted.mean) @ fitted.V, fitted.mean.copy(), fitted.V.copy())
    full = fit_pca(x, n_features)
    round_trip = attempt(lambda: decode(encode(x, full.mean, full.V), full.mean, full.V))
    return {"code": code, "inputs_after": inputs_after, "decoded": decoded, "round_trip": round_trip}


# --------------------------------------------------------------------------- exercise 5


def judge_explained_variance_ratio(data: dict, eigenvalues) -> None:
    values = np.asarray(eigenvalues, dtype=np.float64)
    for k, got in zip(range(1, len(values) + 1), data["ratios"], strict=True):
        expected = values[:k].sum() / values.sum()
        expect(is_number(got), f"return one number for each k, not {type_name(got)}.")
        expect(
            np.isclose(as_float(got), expected, rtol=1e-9),
            f"with eigenvalues {[float(v) for v in values]} (largest first), the top {k} explain "
            f"{expected:.4f} of the variance: sum of the first {k} over the sum of all. "
            f"You returned {as_float(got):.4f}.",
        )
    passed(f"explained variance ratio for k = 1..{len(values)}")


@check(judge_explained_variance_ratio)
def check_explained_variance_ratio(
    fn, eigenvalues: tuple[float, ...] = (4.0, 2.0, 1.0, 0.5, 0.3, 0.2)
) -> dict:
    """``fn(eigenvalues, k)``: the share of the total variance in the top ``k`` (largest first)."""
    values = np.asarray(eigenvalues, dtype=np.float64)
    return {
        "ratios": [
            fn(values.copy(), k) if k == 1 else attempt(fn, values.copy(), k)
            for k in range(1, len(values) + 1)
        ]
    }


# --------------------------------------------------------------------------- exercise 6


def _pca_errors(ks, fit_on, measure_on, per_image_sum=False) -> np.ndarray:
    from ..pca import fit_pca

    out = []
    for k in ks:
        p = fit_pca(fit_on, k)
        sq = (measure_on - p.decode(p.encode(measure_on))) ** 2
        out.append(sq.sum(axis=1).mean() if per_image_sum else sq.mean())
    return np.array(out)


def _pca_error_data(n_train, n_test, n_features, seed):
    x_train = pca_test_data(n_train, n_features, seed)
    x_test = pca_test_data(n_test, n_features, seed + 1000, offset=6.0)  # another distribution
    return x_train, x_test


def judge_pca_error_by_k(data: dict, ks, n_train, n_test, n_features, seed) -> None:
    x_train, x_test = _pca_error_data(n_train, n_test, n_features, seed)
    got = as_array(data["errors"])
    shape = None if got is None else got.shape
    expect(
        shape == (len(ks),),
        f"return one error per k, shape ({len(ks)},) for ks={list(ks)}; yours has shape {shape}.",
    )
    expected = _pca_errors(ks, x_train, x_test)
    if not close(got, expected, rtol=1e-6):
        hints = [
            (_pca_errors(ks, x_test, x_test), " Fit PCA on x_train only: the test set is for measuring."),
            (_pca_errors(ks, x_train, x_train), " Measure the error on x_test, not on the training data."),
            (_pca_errors(ks, x_train, x_test, True), " Average over pixels too (mean, not a sum per image)."),
        ]
        hint = next((h for e, h in hints if close(got, e, rtol=1e-6)), "")
        raise AssertionError(
            "for each k fit PCA with k components on x_train, reconstruct x_test "
            "(decode(encode(x_test))) and return the mean squared error over all test values; "
            f"expected {np.round(expected, 4)}, got {np.round(got, 4)}." + hint
        )
    passed(f"test reconstruction error for k in {list(ks)}")


@check(judge_pca_error_by_k)
def check_pca_error_by_k(
    fn,
    ks: tuple[int, ...] = (1, 2, 4, 6),
    n_train: int = 120,
    n_test: int = 40,
    n_features: int = 6,
    seed: int = 0,
) -> dict:
    """``fn(x_train, x_test, ks)``: for each k, the test images' mean squared error after PCA
    fitted on ``x_train`` with k components."""
    x_train, x_test = _pca_error_data(n_train, n_test, n_features, seed)
    return {"errors": fn(x_train.copy(), x_test.copy(), list(ks))}
