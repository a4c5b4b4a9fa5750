"""Self-checks for the labs.

The visible tests a student runs and the instructor's hidden tests call the same
functions (hidden tests with other sizes and inputs), so both judge alike. Each
check raises ``AssertionError`` with a message in the student's terms, and prints
one line when everything holds.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np


def expect(condition: bool, message: str) -> None:
    """Fail with ``message`` (what is wrong and what to change) unless ``condition``."""
    if not condition:
        raise AssertionError(message)


def passed(what: str) -> None:
    print(f"OK: {what}")


def _shape(tensor) -> tuple:
    return tuple(tensor.shape)


def check_dense_autoencoder(
    build: Callable, input_dim: int = 784, code_size: int = 32, seed: int = 0
) -> None:
    """``build(input_dim, code_size)`` must return ``(encoder, decoder, autoencoder)``
    sharing layers: Dense(code, relu) then Dense(input, sigmoid)."""
    import keras

    result = build(input_dim, code_size)
    expect(
        isinstance(result, tuple) and len(result) == 3,
        "build_dense_autoencoder must return a tuple (encoder, decoder, autoencoder); "
        f"it returned {type(result).__name__}.",
    )
    encoder, decoder, autoencoder = result
    for name, model in (("encoder", encoder), ("decoder", decoder), ("autoencoder", autoencoder)):
        expect(isinstance(model, keras.Model), f"{name} must be a keras.Model, got {type(model)}.")
    shapes = {
        "encoder": (encoder, input_dim, code_size),
        "decoder": (decoder, code_size, input_dim),
        "autoencoder": (autoencoder, input_dim, input_dim),
    }
    for name, (model, n_in, n_out) in shapes.items():
        expect(
            _shape(model.inputs[0]) == (None, n_in),
            f"{name} should take vectors of {n_in} values, shape (None, {n_in}); "
            f"its input shape is {_shape(model.inputs[0])}.",
        )
        expect(
            _shape(model.outputs[0]) == (None, n_out),
            f"{name} should output vectors of {n_out} values, shape (None, {n_out}); "
            f"its output shape is {_shape(model.outputs[0])}.",
        )
    expected_params = 2 * input_dim * code_size + code_size + input_dim
    expect(
        autoencoder.count_params() == expected_params,
        f"a {input_dim}-{code_size}-{input_dim} dense autoencoder has {expected_params:,} "
        f"weights and biases; yours has {autoencoder.count_params():,}. Use exactly one Dense "
        "layer in the encoder and one in the decoder.",
    )
    shared = {id(w) for w in autoencoder.weights}
    own = [w for w in encoder.weights + decoder.weights]
    expect(
        len(own) == len(shared) and all(id(w) in shared for w in own),
        "encoder and decoder must reuse the autoencoder's layers (the same layer objects), "
        "not copies: then training the autoencoder trains them too.",
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
    both = np.asarray(autoencoder(x))
    chained = np.asarray(decoder(encoder(x)))
    expect(
        np.allclose(both, chained, atol=1e-5),
        "autoencoder(x) should equal decoder(encoder(x)); build the autoencoder from "
        "the encoder and decoder.",
    )
    passed(f"{input_dim}-{code_size}-{input_dim} autoencoder with shared layers")


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
