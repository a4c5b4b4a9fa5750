"""The lecture's autoencoders, built with Keras 3.

Each builder returns ``(encoder, decoder, autoencoder)``: three models that share
the same layers, so training the autoencoder trains the encoder and decoder too.
"""

from __future__ import annotations

import keras
from keras import layers


def dense_autoencoder(
    input_dim: int = 784, code_size: int = 32, l1: float = 0.0
) -> tuple[keras.Model, keras.Model, keras.Model]:
    """The slides' first autoencoder: input -> Dense(code, relu) -> Dense(input, sigmoid).

    ``l1 > 0`` adds the sparse autoencoder's penalty ``l1 * sum|z|`` on the code.
    """
    regularizer = keras.regularizers.L1(l1) if l1 > 0 else None
    to_code = layers.Dense(code_size, activation="relu", activity_regularizer=regularizer,
                           name="encode")
    to_image = layers.Dense(input_dim, activation="sigmoid", name="decode")

    x = keras.Input(shape=(input_dim,), name="image")
    encoder = keras.Model(x, to_code(x), name="encoder")
    z = keras.Input(shape=(code_size,), name="code")
    decoder = keras.Model(z, to_image(z), name="decoder")
    autoencoder = keras.Model(x, decoder(encoder(x)), name="autoencoder")
    return encoder, decoder, autoencoder


def compile_for_images(model: keras.Model, learning_rate: float = 1e-3) -> keras.Model:
    """Adam and per-pixel binary cross-entropy (pixels are in [0, 1]), MSE reported too."""
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate),
        loss="binary_crossentropy",
        metrics=["mse"],
    )
    return model
