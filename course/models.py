"""The lecture's autoencoders, built with Keras 3.

Each builder returns ``(encoder, decoder, autoencoder)``: three models that share
the same layers, so training the autoencoder trains the encoder and decoder too.
"""

from __future__ import annotations

import keras
from keras import layers

from .training import training_options


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
    return _three_models((input_dim,), (code_size,), [to_code], [to_image])


def compile_for_images(model: keras.Model, learning_rate: float = 1e-3) -> keras.Model:
    """Adam and per-pixel binary cross-entropy (pixels are in [0, 1]), MSE reported too.

    With :func:`course.training.training_options`: faster on this machine, same losses.
    """
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate),
        loss="binary_crossentropy",
        metrics=["mse"],
        **training_options(),
    )
    return model


def deep_autoencoder(
    input_dim: int = 784, hidden: tuple[int, ...] = (128, 64), code_size: int = 32
) -> tuple[keras.Model, keras.Model, keras.Model]:
    """The slides' deep autoencoder 784-128-64-32-64-128-784 (ReLU inside, sigmoid out)."""
    down = [layers.Dense(n, activation="relu", name=f"encode_{n}") for n in hidden]
    to_code = layers.Dense(code_size, activation="relu", name="code")
    up = [layers.Dense(n, activation="relu", name=f"decode_{n}") for n in reversed(hidden)]
    to_image = layers.Dense(input_dim, activation="sigmoid", name="decode")
    return _three_models((input_dim,), (code_size,), [*down, to_code], [*up, to_image])


def latent_2d_autoencoder(
    input_dim: int = 784, hidden: tuple[int, ...] = (256, 64)
) -> tuple[keras.Model, keras.Model, keras.Model]:
    """A deep dense autoencoder with a 2-D linear code, for plotting the latent space."""
    down = [layers.Dense(n, activation="relu") for n in hidden]
    to_code = layers.Dense(2, name="code")  # linear: the plane is not cut at zero
    up = [layers.Dense(n, activation="relu") for n in reversed(hidden)]
    to_image = layers.Dense(input_dim, activation="sigmoid")
    return _three_models((input_dim,), (2,), [*down, to_code], [*up, to_image])


def conv_autoencoder(
    image_shape: tuple[int, int, int] = (28, 28, 1)
) -> tuple[keras.Model, keras.Model, keras.Model]:
    """The slides' convolutional autoencoder: 28x28x1 -> 4x4x8 code (128 values) -> 28x28x1.

    Encoder: Conv2D(16)-pool, Conv2D(8)-pool, Conv2D(8)-pool; decoder mirrors it with
    UpSampling2D, and one 'valid' convolution takes 16x16 back to 14x14.
    """
    channels = image_shape[-1]
    down = [
        layers.Conv2D(16, 3, activation="relu", padding="same"),
        layers.MaxPooling2D(2, padding="same"),
        layers.Conv2D(8, 3, activation="relu", padding="same"),
        layers.MaxPooling2D(2, padding="same"),
        layers.Conv2D(8, 3, activation="relu", padding="same"),
        layers.MaxPooling2D(2, padding="same", name="code"),
    ]
    up = [
        layers.Conv2D(8, 3, activation="relu", padding="same"),
        layers.UpSampling2D(2),
        layers.Conv2D(8, 3, activation="relu", padding="same"),
        layers.UpSampling2D(2),
        layers.Conv2D(16, 3, activation="relu"),  # 'valid': 16x16 -> 14x14
        layers.UpSampling2D(2),
        layers.Conv2D(channels, 3, activation="sigmoid", padding="same"),
    ]
    code_shape = (-(-image_shape[0] // 8), -(-image_shape[1] // 8), 8)
    return _three_models(image_shape, code_shape, down, up)


def conv_denoiser(
    image_shape: tuple[int, int, int] = (28, 28, 1), filters: int = 32, out_channels: int | None = None
) -> keras.Model:
    """The slides' denoising network: two Conv2D(32)-pool steps to 7x7x32 and back.

    ``out_channels`` differs from the input's for colorization (1 grey in, 3 colour out).
    """
    out_channels = out_channels or image_shape[-1]
    x = keras.Input(shape=image_shape)
    h = layers.Conv2D(filters, 3, activation="relu", padding="same")(x)
    h = layers.MaxPooling2D(2, padding="same")(h)
    h = layers.Conv2D(filters, 3, activation="relu", padding="same")(h)
    h = layers.MaxPooling2D(2, padding="same")(h)
    h = layers.Conv2D(filters, 3, activation="relu", padding="same")(h)
    h = layers.UpSampling2D(2)(h)
    h = layers.Conv2D(filters, 3, activation="relu", padding="same")(h)
    h = layers.UpSampling2D(2)(h)
    y = layers.Conv2D(out_channels, 3, activation="sigmoid", padding="same")(h)
    return keras.Model(x, y, name="denoiser")


def _three_models(
    input_shape: tuple[int, ...], code_shape: tuple[int, ...],
    encoder_layers: list[layers.Layer], decoder_layers: list[layers.Layer],
) -> tuple[keras.Model, keras.Model, keras.Model]:
    """Encoder, decoder and autoencoder that share ``encoder_layers`` and ``decoder_layers``."""
    x = keras.Input(shape=input_shape, name="image")
    h = x
    for layer in encoder_layers:
        h = layer(h)
    encoder = keras.Model(x, h, name="encoder")
    z = keras.Input(shape=code_shape, name="code")
    h = z
    for layer in decoder_layers:
        h = layer(h)
    decoder = keras.Model(z, h, name="decoder")
    autoencoder = keras.Model(x, decoder(encoder(x)), name="autoencoder")
    return encoder, decoder, autoencoder
