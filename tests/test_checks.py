"""The labs' self-checks pass right answers and reject plausible wrong ones
with a message that names the mistake."""

from __future__ import annotations

import keras
import numpy as np
import pytest
from keras import layers

from course import checks, metrics, models


def right(input_dim, code_size):
    return models.dense_autoencoder(input_dim, code_size)


def unshared(input_dim, code_size):
    """Decoder built from fresh layers: training the autoencoder leaves it untrained."""
    encoder, _, autoencoder = models.dense_autoencoder(input_dim, code_size)
    z = keras.Input(shape=(code_size,))
    decoder = keras.Model(z, layers.Dense(input_dim, activation="sigmoid")(z))
    return encoder, decoder, autoencoder


def linear_code(input_dim, code_size):
    x = keras.Input(shape=(input_dim,))
    to_code, to_image = layers.Dense(code_size), layers.Dense(input_dim, activation="sigmoid")
    z = keras.Input(shape=(code_size,))
    encoder, decoder = keras.Model(x, to_code(x)), keras.Model(z, to_image(z))
    return encoder, decoder, keras.Model(x, decoder(encoder(x)))


def relu_output(input_dim, code_size):
    x = keras.Input(shape=(input_dim,))
    to_code = layers.Dense(code_size, activation="relu")
    to_image = layers.Dense(input_dim, activation="relu")
    z = keras.Input(shape=(code_size,))
    encoder, decoder = keras.Model(x, to_code(x)), keras.Model(z, to_image(z))
    return encoder, decoder, keras.Model(x, decoder(encoder(x)))


def fixed_code_size(input_dim, code_size):
    return models.dense_autoencoder(input_dim, 32)


def list_not_tuple(input_dim, code_size):
    return list(models.dense_autoencoder(input_dim, code_size))


@pytest.mark.parametrize("build,message", [
    (unshared, "reuse the autoencoder's layers"),
    (linear_code, "ReLU"),
    (relu_output, "sigmoid"),
    (fixed_code_size, "output vectors of 5 values"),
    (list_not_tuple, "must return a tuple"),
])
def test_wrong_autoencoders_are_named(build, message):
    with pytest.raises(AssertionError, match=message):
        checks.check_dense_autoencoder(build, input_dim=64, code_size=5)


def test_right_autoencoder_passes(capsys):
    checks.check_dense_autoencoder(right, input_dim=64, code_size=5)
    assert "OK: 64-5-64" in capsys.readouterr().out


@pytest.mark.parametrize("fn,message", [
    (lambda x, xh: float(np.mean((x - xh) ** 2)), "one per image"),
    (lambda x, xh: np.abs(x - xh).reshape(len(x), -1).mean(axis=1), "mean of the squared"),
    (lambda x, xh: ((x - xh) ** 2).reshape(len(x), -1).sum(axis=1), "mean of the squared"),
    (lambda x, xh: ((x - xh) ** 2).mean(axis=-1), "one per image"),  # only flat images
])
def test_wrong_errors_are_named(fn, message):
    with pytest.raises(AssertionError, match=message):
        checks.check_reconstruction_errors(fn)


def test_right_errors_and_factor_pass():
    checks.check_reconstruction_errors(metrics.reconstruction_errors)
    checks.check_compression_factor(metrics.compression_factor,
                                    cases=((784, 32), (10, 4), (3072, 128)))


@pytest.mark.parametrize("fn", [lambda i, c: c / i, lambda i, c: i // c, lambda i, c: i - c])
def test_wrong_factor_is_rejected(fn):
    with pytest.raises(AssertionError, match="compression factor"):
        checks.check_compression_factor(fn, cases=((784, 32), (10, 4)))
