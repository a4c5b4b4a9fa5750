"""What the model checks of labs 02, 03 and 05 share: three models that use the same layers.

The models are judged as read back from their files (safe mode), so sharing is judged by
what it does: ``ask`` gives the autoencoder new random weights before it is saved, and the
encoder and decoder share its layers exactly when they hold those same weights.
"""

from __future__ import annotations

import numpy as np

from .answers import expect, short_type, type_name


def shuffle_weights(models, seed: int):
    """Give the autoencoder (the third model) new random weights, in the student's kernel."""
    import keras

    if not (isinstance(models, tuple) and len(models) == 3 and isinstance(models[2], keras.Model)):
        return models
    rng = np.random.default_rng(seed + 7919)
    for weight in models[2].weights:
        shape = tuple(weight.shape)
        fan_in = int(np.prod(shape[:-1])) if len(shape) > 1 else 0
        scale = 1 / np.sqrt(fan_in) if fan_in else 0.05
        weight.assign(rng.normal(0.0, scale, shape).astype(weight.dtype))
    return models


def shape_of(tensor) -> tuple:
    return tuple(tensor.shape)


def flat_layers(model) -> list:
    """The model's layers in order, nested models expanded."""
    import keras

    out = []
    for layer in model.layers:
        out.extend(flat_layers(layer) if isinstance(layer, keras.Model) else [layer])
    return out


def activation(layer) -> str:
    fn = getattr(layer, "activation", None)
    return getattr(fn, "__name__", str(fn))


def three_models(
    result, input_dim: int, code_shape: tuple, name: str, input_shape: tuple | None = None
) -> tuple:
    """The (encoder, decoder, autoencoder) tuple: types, shapes, shared layers."""
    import keras

    input_shape = input_shape or (input_dim,)
    expect(
        isinstance(result, tuple) and len(result) == 3,
        f"{name} must return a tuple (encoder, decoder, autoencoder); it returned {short_type(result)}.",
    )
    encoder, decoder, autoencoder = result
    for part, model in (("encoder", encoder), ("decoder", decoder), ("autoencoder", autoencoder)):
        expect(isinstance(model, keras.Model), f"{part} must be a keras.Model, got {type_name(model)}.")
    shapes = {
        "encoder": (encoder, input_shape, code_shape),
        "decoder": (decoder, code_shape, input_shape),
        "autoencoder": (autoencoder, input_shape, input_shape),
    }

    def what(shape: tuple) -> str:
        return f"vectors of {shape[0]} values" if len(shape) == 1 else "x".join(map(str, shape))

    for part, (model, n_in, n_out) in shapes.items():
        expect(
            len(model.inputs) == 1 and shape_of(model.inputs[0]) == (None, *n_in),
            f"{part} should take {what(n_in)}, shape {(None, *n_in)}; "
            f"its input shape is {shape_of(model.inputs[0])}.",
        )
        expect(
            len(model.outputs) == 1 and shape_of(model.outputs[0]) == (None, *n_out),
            f"{part} should output {what(n_out)}, shape {(None, *n_out)}; "
            f"its output shape is {shape_of(model.outputs[0])}.",
        )
    shared = [np.asarray(w) for w in autoencoder.get_weights()]
    own = [np.asarray(w) for w in encoder.get_weights() + decoder.get_weights()]
    expect(
        len(own) == len(shared)
        and all(any(w.shape == s.shape and np.array_equal(w, s) for s in shared) for w in own),
        "encoder and decoder must reuse the autoencoder's layers (the same layer objects), "
        "not copies: then training the autoencoder trains them too.",
    )
    return encoder, decoder, autoencoder


# autoencoder(x) against decoder(encoder(x)), both computed by the judge on one device: equal to
# the bit when both run the same kernels; 1e-3 also covers one path in TF32 and the other in
# float32 (measured up to 2.2e-4 on these checks' models, course/checks/TOLERANCES.md).
COMPOSITION_ATOL = 1e-3


def composition(encoder, decoder, autoencoder, x) -> None:
    both = np.asarray(autoencoder(x))
    chained = np.asarray(decoder(encoder(x)))
    expect(
        np.allclose(both, chained, rtol=0, atol=COMPOSITION_ATOL),
        "autoencoder(x) should equal decoder(encoder(x)); build the autoencoder from "
        "the encoder and decoder.",
    )


def dense_stack(model, part: str, widths: list[int], activations: list[str]) -> None:
    from keras import layers

    dense = [layer for layer in flat_layers(model) if isinstance(layer, layers.Dense)]
    got = [layer.units for layer in dense]
    expect(
        got == widths,
        f"the {part}'s Dense layers should have {', '.join(map(str, widths))} units, in this "
        f"order; yours have {', '.join(map(str, got)) or 'none'}.",
    )
    for layer, want in zip(dense, activations, strict=True):
        should = "have no activation (linear)" if want == "linear" else f"use activation='{want}'"
        expect(
            activation(layer) == want,
            f"the {part}'s Dense layer with {layer.units} units should {should}; "
            f"yours uses '{activation(layer)}'.",
        )


def dense_chain_params(sizes: list[int]) -> int:
    """Weights and biases of Dense layers sizes[0] -> sizes[1] -> ... (reference answer)."""
    return sum(a * b + b for a, b in zip(sizes[:-1], sizes[1:], strict=True))
