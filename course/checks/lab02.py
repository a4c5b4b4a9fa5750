"""Lab 02 · dense and sparse autoencoders."""

from __future__ import annotations

import numpy as np

from .answers import as_array, as_float, attempt, check, close, expect, is_number, passed, type_name
from .models import composition, shuffle_weights, three_models


def dense_pair(result, input_dim: int, code_size: int, name: str, seed: int) -> tuple:
    """The checks of exercise 1, shared by exercise 4: shapes, sharing, ReLU code, sigmoid output."""
    encoder, decoder, autoencoder = three_models(result, input_dim, (code_size,), name)
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
    composition(encoder, decoder, autoencoder, x)
    return encoder, decoder, autoencoder


# --------------------------------------------------------------------------- exercise 1


def judge_dense_autoencoder(data: dict, input_dim, code_size, seed) -> None:
    dense_pair(data["models"], input_dim, code_size, "build_dense_autoencoder", seed)
    passed(f"{input_dim}-{code_size}-{input_dim} autoencoder with shared layers")


@check(judge_dense_autoencoder)
def check_dense_autoencoder(build, input_dim: int = 784, code_size: int = 32, seed: int = 0) -> dict:
    """``build(input_dim, code_size)`` must return ``(encoder, decoder, autoencoder)``
    sharing layers: Dense(code, relu) then Dense(input, sigmoid)."""
    return {"models": shuffle_weights(build(input_dim, code_size), seed)}


# --------------------------------------------------------------------------- exercise 2


def _error_data(n: int, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    rng = np.random.default_rng(seed)
    pairs = [
        (rng.uniform(size=s).astype("float32"), rng.uniform(size=s).astype("float32"))
        for s in ((n, 784), (n, 28, 28))
    ]
    same = rng.uniform(size=(3, 10))
    return [*pairs, (same, same)]


def judge_reconstruction_errors(data: dict, n, seed) -> None:
    *pairs, _ = _error_data(n, seed)
    for (x, x_hat), got in zip(pairs, data["errors"][:2], strict=True):
        expected = ((x.astype(np.float64) - x_hat) ** 2).reshape(n, -1).mean(axis=1)
        got = as_array(got)
        shape = None if got is None else got.shape
        expect(
            shape == (n,),
            f"for {n} images of shape {x.shape[1:]} return {n} errors, one per image "
            f"(shape ({n},)); you returned shape {shape}. Average over the pixel axes only.",
        )
        expect(
            np.allclose(got, expected, rtol=1e-4, atol=1e-7),
            "each error should be the mean of the squared pixel differences, "
            f"mean((x - x_hat)**2); for the first image expected {expected[0]:.5f}, "
            f"got {got[0]:.5f}.",
        )
    perfect = as_array(data["errors"][2])
    expect(perfect is not None and np.allclose(perfect, 0), "an image reconstructed perfectly has error 0.")
    passed("per-image reconstruction errors")


@check(judge_reconstruction_errors)
def check_reconstruction_errors(errors_fn, n: int = 7, seed: int = 1) -> dict:
    """``errors_fn(x, x_hat)`` must return each image's mean squared error."""
    return {
        "errors": [
            errors_fn(x, x_hat) if i == 0 else attempt(errors_fn, x, x_hat)
            for i, (x, x_hat) in enumerate(_error_data(n, seed))
        ]
    }


# --------------------------------------------------------------------------- exercise 3


def judge_compression_factor(data: dict, cases) -> None:
    for (input_dim, code_size), got in zip(cases, data["factors"], strict=True):
        shown = repr(got) if is_number(got) or got is None else type_name(got)
        expect(
            is_number(got) and np.isclose(as_float(got), input_dim / code_size),
            f"{input_dim} inputs squeezed into {code_size} code values is a compression "
            f"factor of {input_dim / code_size:g}; you returned {shown}.",
        )
    passed("compression factor")


@check(judge_compression_factor)
def check_compression_factor(factor_fn, cases: tuple[tuple[int, int], ...] = ((784, 32), (784, 2))) -> dict:
    """``factor_fn(input_dim, code_size)`` must be input_dim / code_size."""
    return {
        "factors": [factor_fn(*case) if i == 0 else attempt(factor_fn, *case) for i, case in enumerate(cases)]
    }


# --------------------------------------------------------------------------- exercise 4


def penalty(model) -> float:
    """What a model adds to its loss (``model.losses``), as one number."""
    return float(sum(float(np.asarray(loss)) for loss in model.losses))


def reference_penalty(
    input_dim: int,
    code_size: int,
    weights: list,
    x: np.ndarray,
    where: str = "code",
    kind: str = "l1",
    l1: float = 1.0,
) -> float:
    """What the installed Keras adds for the right model (or a named wrong one) with ``weights``."""
    import keras
    from keras import layers

    regularizer = keras.regularizers.L1(l1) if kind == "l1" else keras.regularizers.L2(l1)
    inputs = keras.Input(shape=(input_dim,))
    code = layers.Dense(
        code_size, activation="relu", activity_regularizer=regularizer if where == "code" else None
    )(inputs)
    out = layers.Dense(
        input_dim, activation="sigmoid", activity_regularizer=regularizer if where == "output" else None
    )(code)
    model = keras.Model(inputs, out)
    model.set_weights(weights)
    model(x)
    return penalty(model)


def judge_sparse_autoencoder(data: dict, input_dim, code_size, l1, seed) -> None:
    import keras

    models = data["models"]
    fresh = (
        penalty(models[2])
        if isinstance(models, tuple) and len(models) == 3 and isinstance(models[2], keras.Model)
        else 0.0
    )  # before anything calls it: only weight penalties
    encoder, decoder, autoencoder = dense_pair(models, input_dim, code_size, "build_sparse_autoencoder", seed)
    expect(
        fresh == 0,
        "your model has a penalty before it has seen any image: that is a penalty on the "
        "weights (kernel_regularizer). The sparse autoencoder penalises the code itself: "
        "pass activity_regularizer=keras.regularizers.L1(l1) to the code's Dense layer.",
    )
    # inputs large enough that codes are far from 1, where sum|z| and sum z^2 would agree
    x = np.random.default_rng(seed + 1).uniform(0, 8, size=(8, input_dim)).astype("float32")
    autoencoder(x)
    got = penalty(autoencoder)
    weights = autoencoder.get_weights()
    expected = reference_penalty(input_dim, code_size, weights, x, l1=l1)
    z = np.asarray(encoder(x), dtype=np.float64)
    per_batch = (
        "averaged over"
        if np.isclose(expected, l1 * np.abs(z).sum(axis=1).mean(), rtol=1e-3)
        else "summed over"
    )
    expect(
        got > 0,
        "calling your autoencoder adds no penalty: pass "
        "activity_regularizer=keras.regularizers.L1(l1) to the code's Dense layer.",
    )
    if not np.isclose(got, expected, rtol=1e-3):
        hints = [
            (
                reference_penalty(input_dim, code_size, weights, x, where="output", l1=l1),
                " You penalised the decoder's output; put the regularizer on the code layer.",
            ),
            (
                reference_penalty(input_dim, code_size, weights, x, kind="l2", l1=l1),
                " That is an L2 penalty; use L1 (sum of |z|).",
            ),
        ]
        hint = next((h for value, h in hints if np.isclose(got, value, rtol=1e-3)), "")
        raise AssertionError(
            f"with l1={l1:g} the penalty should be l1 * sum|z| of each image's code, "
            f"{per_batch} the batch (as Keras {keras.__version__} adds it): {expected:.4g} for this "
            f"batch; yours is {got:.4g}." + hint
        )
    passed(f"{input_dim}-{code_size}-{input_dim} sparse autoencoder, L1 penalty {l1:g} on the code")


@check(judge_sparse_autoencoder)
def check_sparse_autoencoder(
    build, input_dim: int = 784, code_size: int = 32, l1: float = 1e-4, seed: int = 0
) -> dict:
    """``build(input_dim, code_size, l1)``: the dense autoencoder plus the penalty
    ``l1 * sum|z|`` on each image's code (an activity regularizer on the code layer)."""
    return {"models": shuffle_weights(build(input_dim, code_size, l1), seed)}


# --------------------------------------------------------------------------- exercise 5


def sparse_codes(shape: tuple[int, int], tol: float, seed: int) -> np.ndarray:
    """Codes with exact zeros, values just inside ``tol``, active values and a few negatives."""
    rng = np.random.default_rng(seed)
    z = rng.choice([0.0, 1.0], size=shape, p=[0.5, 0.5]) * rng.uniform(2 * tol, 5 * tol, shape)
    small = rng.uniform(size=shape) < 0.25
    z[small] = rng.uniform(-0.9 * tol, 0.9 * tol, size=int(small.sum()))  # near zero, not zero
    z[rng.uniform(size=shape) < 0.1] *= -1  # a few negative values (a linear code has them)
    return z


def judge_fraction_inactive(data: dict, shape, tol, seed) -> None:
    z = sparse_codes(tuple(shape), tol, seed)
    got = data["fraction"]
    expected = float(np.mean(np.abs(z) <= tol))
    expect(close(data["z_after"], z, rtol=0, atol=0), "your function changed the codes it measured.")
    expect(
        is_number(got),
        f"return one number for the whole array, not {type_name(got)} "
        f"{np.shape(got) if isinstance(got, (list, tuple, np.ndarray)) else ()}.",
    )
    got = as_float(got)
    expect(
        0 <= got <= 1,
        f"return a fraction between 0 and 1 (share of the {z.size} values), not a count; "
        f"you returned {got:g}.",
    )
    hints = [
        (float(np.mean(z == 0)), " Count values close to zero (|z| <= tol), not only exact zeros."),
        (1 - expected, " That is the share of active values; count the inactive ones."),
        (float(np.mean(z <= tol)), " Use the absolute value: codes can be negative."),
    ]
    hint = next((h for value, h in hints if np.isclose(got, value)), "")
    expect(
        np.isclose(got, expected),
        f"{expected:.4f} of these code values have |z| <= {tol:g}; you returned {got:.4f}." + hint,
    )
    passed(f"fraction of inactive code values (|z| <= {tol:g})")


@check(judge_fraction_inactive)
def check_fraction_inactive(fn, shape: tuple[int, int] = (20, 32), tol: float = 0.1, seed: int = 0) -> dict:
    """``fn(z, tol)``: the fraction of code values with ``|z| <= tol`` (one number)."""
    z = sparse_codes(tuple(shape), tol, seed)
    return {"fraction": fn(z, tol), "z_after": z}
