"""Lab 03 · deep and convolutional autoencoders, parameter counts, training."""

from __future__ import annotations

import numpy as np

from .answers import as_float, attempt, check, expect, is_number, passed
from .models import (
    activation,
    composition,
    dense_chain_params,
    dense_stack,
    flat_layers,
    shape_of,
    shuffle_weights,
    three_models,
)
from .training import history_facts, judge_history, predict, spy_on_fit, trained_model


def conv_params(kernel_size: int, in_channels: int, out_channels: int) -> int:
    """Weights and biases of a Conv2D layer with square kernels (reference answer)."""
    return kernel_size * kernel_size * in_channels * out_channels + out_channels


def slides_conv_params(channels: int = 1) -> int:
    """Parameters of the slides' convolutional autoencoder for ``channels``-channel images."""
    steps = [(channels, 16), (16, 8), (8, 8), (8, 8), (8, 8), (8, 16), (16, channels)]
    return sum(conv_params(3, a, b) for a, b in steps)


# --------------------------------------------------------------------------- exercise 1


def judge_deep_autoencoder(data: dict, input_dim, hidden, code_size, seed) -> None:
    hidden = tuple(hidden)
    encoder, decoder, autoencoder = three_models(
        data["models"], input_dim, (code_size,), "build_deep_autoencoder"
    )
    dense_stack(encoder, "encoder", [*hidden, code_size], ["relu"] * (len(hidden) + 1))
    dense_stack(decoder, "decoder", [*reversed(hidden), input_dim], ["relu"] * len(hidden) + ["sigmoid"])
    sizes = [input_dim, *hidden, code_size, *reversed(hidden), input_dim]
    expect(
        autoencoder.count_params() == dense_chain_params(sizes),
        f"a {'-'.join(map(str, sizes))} autoencoder has {dense_chain_params(sizes):,} weights "
        f"and biases; yours has {autoencoder.count_params():,}.",
    )
    x = np.random.default_rng(seed).uniform(0, 1, size=(8, input_dim)).astype("float32")
    composition(encoder, decoder, autoencoder, x)
    passed(f"deep autoencoder {'-'.join(map(str, sizes))}")


@check(judge_deep_autoencoder)
def check_deep_autoencoder(
    build, input_dim: int = 784, hidden: tuple[int, ...] = (128, 64), code_size: int = 32, seed: int = 0
) -> dict:
    """``build(input_dim, hidden, code_size)``: the slides' 784-128-64-32-64-128-784 stack."""
    return {"models": shuffle_weights(build(input_dim, tuple(hidden), code_size), seed)}


# --------------------------------------------------------------------------- exercise 2


def judge_conv_autoencoder(data: dict, image_shape, seed) -> None:
    import keras
    from keras import layers

    image_shape = tuple(image_shape)
    result = data["models"]
    expect(
        isinstance(result, tuple) and len(result) == 3,
        "build_conv_autoencoder must return a tuple (encoder, decoder, autoencoder).",
    )
    encoder, decoder, autoencoder = result
    for part, model in (("encoder", encoder), ("autoencoder", autoencoder)):
        expect(isinstance(model, keras.Model), f"{part} must be a keras.Model.")
    code = shape_of(encoder.outputs[0])
    expect(
        code == (None, 4, 4, 8),
        f"the code should be 4x4x8 = 128 values, shape (None, 4, 4, 8), as on the slides; "
        f"your encoder outputs {code}. Three Conv2D + MaxPooling2D(2, padding='same') steps "
        "take 28 -> 14 -> 7 -> 4; the last Conv2D has 8 filters.",
    )
    out = shape_of(autoencoder.outputs[0])
    hint = ""
    if len(out) == 4 and out[1:3] != image_shape[:2]:
        hint = (
            " The decoder's third Conv2D (16 filters) must use padding='valid' to take 16x16 "
            "to 14x14; then UpSampling2D makes 28x28."
        )
    elif len(out) == 4 and out[-1] != image_shape[-1]:
        hint = f" The last Conv2D needs one filter per image channel: image_shape[-1] = {image_shape[-1]}."
    expect(
        out == (None, *image_shape),
        f"the autoencoder should output images of shape {(None, *image_shape)}; yours outputs {out}." + hint,
    )
    encoder, decoder, autoencoder = three_models(
        result, 0, (4, 4, 8), "build_conv_autoencoder", input_shape=image_shape
    )
    kinds = {"encoder": (layers.Conv2D, layers.MaxPooling2D), "decoder": (layers.Conv2D, layers.UpSampling2D)}
    counts = {"encoder": (3, 3), "decoder": (4, 3)}
    for part, model in (("encoder", encoder), ("decoder", decoder)):
        found = [layer for layer in flat_layers(model) if isinstance(layer, kinds[part])]
        n_conv = sum(isinstance(layer, layers.Conv2D) for layer in found)
        n_other = len(found) - n_conv
        want_conv, want_other = counts[part]
        expect(
            (n_conv, n_other) == (want_conv, want_other),
            f"the {part} should have {want_conv} Conv2D and {want_other} "
            f"{kinds[part][1].__name__} layers, as on the slides; yours has {n_conv} and {n_other}.",
        )
    convs = [layer for layer in flat_layers(autoencoder) if isinstance(layer, layers.Conv2D)]
    valid = [layer for layer in convs if layer.padding == "valid"]
    expect(len(valid) == 1, f"exactly one Conv2D should use padding='valid'; yours has {len(valid)}.")
    wanted = ["relu"] * (len(convs) - 1) + ["sigmoid"]
    got = [activation(layer) for layer in convs]
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
    composition(encoder, decoder, autoencoder, x)
    passed(f"convolutional autoencoder {image_shape} -> 4x4x8 -> {image_shape}")


@check(judge_conv_autoencoder)
def check_conv_autoencoder(build, image_shape: tuple[int, int, int] = (28, 28, 1), seed: int = 0) -> dict:
    """``build(image_shape)``: the slides' convolutional autoencoder with a 4x4x8 code."""
    return {"models": shuffle_weights(build(tuple(image_shape)), seed)}


# --------------------------------------------------------------------------- exercise 3


def keras_counts(chains, convs) -> tuple[list[int], list[int]]:
    """What the installed Keras counts for each Dense chain and each Conv2D layer."""
    import keras
    from keras import layers

    dense = []
    for sizes in chains:
        x = keras.Input(shape=(sizes[0],))
        h = x
        for units in sizes[1:]:
            h = layers.Dense(units)(h)
        dense.append(keras.Model(x, h).count_params())
    conv = []
    for kernel, c_in, c_out in convs:
        layer = layers.Conv2D(c_out, kernel)
        layer.build((None, 2 * kernel, 2 * kernel, c_in))
        conv.append(layer.count_params())
    return dense, conv


def judge_param_counts(data: dict, chains, convs) -> None:
    dense, conv = keras_counts(chains, convs)
    for sizes, keras_count, got in zip(chains, dense, data["dense"], strict=True):
        shown = repr(got) if is_number(got) or got is None else type(got).__name__
        expect(
            is_number(got) and as_float(got) == keras_count,
            f"Dense layers {'-'.join(map(str, sizes))} have {keras_count:,} parameters (each "
            f"layer a -> b has a*b weights and b biases); you returned {shown}.",
        )
    for (kernel, c_in, c_out), keras_count, got in zip(convs, conv, data["conv"], strict=True):
        shown = repr(got) if is_number(got) or got is None else type(got).__name__
        expect(
            is_number(got) and as_float(got) == keras_count,
            f"a Conv2D with {c_out} filters of {kernel}x{kernel} over {c_in} input channels has "
            f"{keras_count:,} parameters (each filter has {kernel}*{kernel}*{c_in} weights and "
            f"one bias); you returned {shown}.",
        )
    passed("parameter counts of Dense and Conv2D layers")


@check(judge_param_counts, functions=2)
def check_param_counts(
    dense_fn,
    conv_fn,
    chains: tuple[tuple[int, ...], ...] = ((784, 32, 784), (784, 128, 64, 32, 64, 128, 784)),
    convs: tuple[tuple[int, int, int], ...] = ((3, 1, 16), (3, 16, 8)),
) -> dict:
    """``dense_fn(sizes)`` and ``conv_fn(kernel_size, in_channels, out_channels)`` count
    weights and biases as Keras does."""
    dense = [
        dense_fn(list(sizes)) if i == 0 else attempt(dense_fn, list(sizes)) for i, sizes in enumerate(chains)
    ]
    return {"dense": dense, "conv": [attempt(conv_fn, *conv) for conv in convs]}


# --------------------------------------------------------------------------- exercise 4


def judge_training(data: dict, seed, max_ratio) -> None:
    from .. import data as datasets
    from .. import models, runtime

    budget = runtime.budget("ci")
    expect(data["fit_calls"] > 0, "train_autoencoder should call autoencoder.fit.")
    judge_history(data["history"], budget.epochs, need_val=True)
    model = trained_model(data, models.deep_autoencoder(784)[2], "autoencoder")
    x_train = datasets.flatten(datasets.load_fashion_mnist(budget).x_train)
    x_test = datasets.flatten(datasets.held_out_test(budget.n_test)[0])
    mse = float(np.mean((x_test - predict(model, x_test)) ** 2))
    baseline = float(np.mean((x_test - x_train.mean(axis=0)) ** 2))
    print(
        f"test MSE {mse:.4f} on {len(x_test)} held-out images; predicting the mean image: "
        f"{baseline:.4f}; required below {max_ratio} x {baseline:.4f} = {max_ratio * baseline:.4f}"
    )
    expect(
        mse < max_ratio * baseline,
        f"after {budget.epochs} epochs on {len(x_train):,} images the deep autoencoder's test MSE "
        f"is {mse:.4f}, not below {max_ratio * baseline:.4f} ({max_ratio} x the error of always "
        "predicting the mean image). Compile with optimizer='adam' (Keras' adadelta barely "
        "moves in this budget) and loss='binary_crossentropy' or 'mse', and train for `epochs`.",
    )
    passed(f"training: test MSE {mse:.4f} < {max_ratio * baseline:.4f}")


@check(judge_training)
def check_training(train_fn, seed: int = 0, max_ratio: float = 0.7) -> dict:
    """``train_fn(autoencoder, x_train, x_val, epochs, batch_size)`` compiles and trains; the
    slides' deep autoencoder must then reach a test MSE below ``max_ratio`` times that of
    always predicting the mean training image, at the grading budget (``ci``) everywhere.
    The test images are held out: the graded kernel never has them."""
    import keras

    from .. import data as datasets
    from .. import models, runtime

    budget = runtime.budget("ci")  # the grading budget wherever it runs: calibrated there
    print(f"grading budget {budget.describe()}")
    fashion = datasets.load_fashion_mnist(budget)
    x_train, x_val = datasets.flatten(fashion.x_train), datasets.flatten(fashion.x_val)
    keras.utils.set_random_seed(seed)
    _, _, autoencoder = models.deep_autoencoder(x_train.shape[1])

    def copies(x, y) -> None:
        expect(
            np.shape(x) == x_train.shape
            and np.shape(y) == x_train.shape
            and np.allclose(np.asarray(x), x_train)
            and np.allclose(np.asarray(y), x_train),
            "an autoencoder learns to copy: call fit(x_train, x_train, ...) (the input is the target).",
        )

    calls = spy_on_fit(autoencoder, copies)
    history = train_fn(autoencoder, x_train, x_val, budget.epochs, budget.batch_size)
    return {"model": autoencoder, "history": history_facts(history), "fit_calls": len(calls)}
