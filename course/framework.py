"""The autoencoder framework in numbers (lecture 04).

* :func:`principal_angles` -- how far apart two subspaces are (PCA's and a network's);
* :class:`TiedDense`       -- a dense encoder whose decoder is its own transpose;
* :func:`gradient_norms`, :func:`one_step` -- what backpropagation moves, part by part;
* :func:`copy_score`, :func:`capacity_probe` -- how close a model is to copying its input;
* :func:`activity_penalty_convention`, :func:`per_image_l1` -- how this Keras scales an
  ``activity_regularizer`` (summed over the batch up to 3.13, averaged since 3.14).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import keras
import numpy as np

Parts = Mapping[str, Sequence[Any]]  # a name -> the Keras variables of that part


def _orthonormal_basis(a: np.ndarray, rtol: float = 1e-10) -> np.ndarray:
    """Orthonormal columns spanning the column space of ``a`` (its numerical rank many)."""
    u, s, _ = np.linalg.svd(np.asarray(a, dtype=np.float64), full_matrices=False)
    if s.size == 0 or s[0] == 0:
        raise ValueError("the matrix spans no subspace (all its columns are zero)")
    return u[:, s > rtol * s[0]]


def principal_angles(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Principal angles in radians, smallest first, between the column spaces of ``a`` and ``b``.

    ``a`` is (n, p) and ``b`` is (n, q); min(rank a, rank b) angles come back. 0 means a
    direction both subspaces contain, pi/2 a direction of one orthogonal to all of the other.
    Angles below pi/4 come from sines, which keep their accuracy where cosines are near 1.
    """
    qa, qb = _orthonormal_basis(a), _orthonormal_basis(b)
    if qa.shape[0] != qb.shape[0]:
        raise ValueError(f"the subspaces live in different spaces: {qa.shape[0]} vs {qb.shape[0]} rows")
    if qa.shape[1] < qb.shape[1]:
        qa, qb = qb, qa  # qa is the larger subspace
    cosines = np.clip(np.linalg.svd(qa.T @ qb, compute_uv=False), 0.0, 1.0)  # descending
    sines = np.clip(np.linalg.svd(qb - qa @ (qa.T @ qb), compute_uv=False)[::-1], 0.0, 1.0)  # ascending
    angles = np.where(cosines**2 > 0.5, np.arcsin(sines), np.arccos(cosines))
    return np.sort(angles)


@keras.saving.register_keras_serializable(package="course")
class TiedDense(keras.layers.Layer):
    """A dense encoder and its tied decoder in one layer, sharing one weight matrix W.

    Called on an image it encodes, ``z = activation(x W + b)``; called with ``decode=True`` on
    a code it decodes, ``x_hat = decode_activation(z W^T + c)``. Only W (input_dim x units)
    and the two biases are weights, so the pair has half the matrix entries of an untied
    encoder and decoder. Both directions live in one layer so that the tie survives
    ``model.save`` and ``keras.models.load_model``.
    """

    def __init__(self, units: int, input_dim: int, activation: Any = None,
                 decode_activation: Any = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.units, self.input_dim = int(units), int(input_dim)
        self.activation = keras.activations.get(activation)
        self.decode_activation = keras.activations.get(decode_activation)

    def build(self, input_shape: Any = None) -> None:
        self.kernel = self.add_weight(shape=(self.input_dim, self.units), initializer="glorot_uniform",
                                      name="kernel")
        self.bias = self.add_weight(shape=(self.units,), initializer="zeros", name="bias")
        self.decode_bias = self.add_weight(shape=(self.input_dim,), initializer="zeros", name="decode_bias")
        self.built = True

    def call(self, inputs: Any, decode: bool = False) -> Any:
        if decode:
            h = keras.ops.matmul(inputs, keras.ops.transpose(self.kernel)) + self.decode_bias
            return self.decode_activation(h)
        return self.activation(keras.ops.matmul(inputs, self.kernel) + self.bias)

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update(units=self.units, input_dim=self.input_dim,
                      activation=keras.activations.serialize(self.activation),
                      decode_activation=keras.activations.serialize(self.decode_activation))
        return config


def _gradients(loss: Callable[[], Any], parts: Parts) -> tuple[list[Any], list[Any]]:
    import tensorflow as tf  # the course's backend; GradientTape is TensorFlow's

    variables = [v for group in parts.values() for v in group]
    with tf.GradientTape() as tape:
        value = loss()
    grads = tape.gradient(value, variables)
    # a variable the loss does not depend on has gradient None: it is exactly zero
    return variables, [keras.ops.zeros(v.shape, dtype=v.dtype) if g is None else g
                       for g, v in zip(grads, variables, strict=True)]


def _split(values: Sequence[Any], parts: Parts) -> dict[str, list[Any]]:
    out, start = {}, 0
    for name, group in parts.items():
        out[name] = list(values[start : start + len(group)])
        start += len(group)
    return out


def gradient_norms(loss: Callable[[], Any], parts: Parts) -> dict[str, float]:
    """Euclidean norm of d loss / d weights for each named part, from one ``tf.GradientTape``.

    ``loss`` computes a scalar from the model (it runs inside the tape); a part the loss
    does not depend on gets exactly 0.
    """
    _, grads = _gradients(loss, parts)
    return {name: float(np.sqrt(sum(float(np.sum(np.square(np.asarray(g)))) for g in group)))
            for name, group in _split(grads, parts).items()}


def one_step(loss: Callable[[], Any], parts: Parts,
             optimizer: keras.optimizers.Optimizer) -> dict[str, dict[str, float]]:
    """Apply one ``optimizer`` step to ``loss``; per part, the largest |change| of a weight
    (``max_change``) and the share of its weights that moved at all (``moved``)."""
    variables, grads = _gradients(loss, parts)
    before = [np.array(keras.ops.convert_to_numpy(v)) for v in variables]
    optimizer.apply_gradients(list(zip(grads, variables, strict=True)))
    deltas = [np.abs(keras.ops.convert_to_numpy(v) - b) for v, b in zip(variables, before, strict=True)]
    result = {}
    for name, group in _split(deltas, parts).items():
        flat = np.concatenate([d.ravel() for d in group]) if group else np.zeros(0)
        result[name] = {"max_change": float(flat.max(initial=0.0)),
                        "moved": float(np.mean(flat > 0)) if flat.size else 0.0}
    return result


def copy_score(x: np.ndarray, x_hat: np.ndarray) -> float:
    """1 - ||x - x_hat||^2 / ||x - mean image||^2 over a set of images (an R^2).

    1 for an exact copy of every input, 0 for answering the set's mean image whatever the
    input, negative for worse than that.
    """
    x = np.asarray(x, dtype=np.float64).reshape(len(x), -1)
    x_hat = np.asarray(x_hat, dtype=np.float64).reshape(len(x), -1)
    spread = float(np.sum((x - x.mean(axis=0)) ** 2))
    if spread == 0:
        raise ValueError("all the images are the same: there is nothing to copy")
    return 1.0 - float(np.sum((x - x_hat) ** 2)) / spread


def capacity_probe(reconstruct: Callable[[np.ndarray], np.ndarray],
                   inputs: Mapping[str, np.ndarray]) -> dict[str, tuple[float, float]]:
    """For each named set of inputs, (MSE, :func:`copy_score`) of ``reconstruct``'s outputs.

    Sets far from the training data (noise, another data set) tell a model that learned the
    data's structure (a low copy score there) from one that learned to copy anything (near 1).
    """
    out = {}
    for name, x in inputs.items():
        x_hat = np.asarray(reconstruct(x))
        mse = float(np.mean((np.asarray(x, np.float64) - x_hat.reshape(np.shape(x))) ** 2))
        out[name] = (mse, copy_score(x, x_hat))
    return out


def activity_penalty_convention() -> str:
    """How this Keras adds an ``activity_regularizer`` to the loss: ``"mean"`` or ``"sum"``.

    ``"sum"``: the penalty of the whole batch (Keras 3 up to 3.13); ``"mean"``: that sum
    divided by the batch size, a per-image penalty (Keras 3.14 on, keras-team/keras#22018).
    Measured, not looked up: a layer with ``L1(1.0)`` is called on a known batch and the loss
    it adds is compared with the sum and the mean of ``|z|`` over the batch.
    """
    batch = np.arange(1.0, 13.0, dtype="float32").reshape(4, 3)  # 4 images of 3 values
    inputs = keras.Input(shape=(3,))
    layer = keras.layers.Dense(2, use_bias=False, kernel_initializer="ones",
                               activity_regularizer=keras.regularizers.L1(1.0))
    model = keras.Model(inputs, layer(inputs))
    z = np.asarray(keras.ops.convert_to_numpy(model(batch)), dtype=np.float64)
    added = float(sum(float(keras.ops.convert_to_numpy(term)) for term in model.losses))
    total = float(np.abs(z).sum())
    for name, expected in (("sum", total), ("mean", total / len(batch))):
        if np.isclose(added, expected, rtol=1e-5):
            return name
    raise RuntimeError(f"Keras {keras.__version__} added {added} for a batch whose |z| sums to {total}: "
                       "neither the sum nor the mean over the batch")


def per_image_l1(lam: float, batch_size: int, convention: str | None = None) -> float:
    """The coefficient to give ``keras.regularizers.L1`` so that the loss gains the slides'
    ``lam * ||z||_1`` per image (its mean over the batch) under this Keras' ``convention``.

    ``"mean"``: ``lam`` itself; ``"sum"``: ``lam / batch_size`` (exact for full batches).
    """
    convention = convention or activity_penalty_convention()
    if convention not in ("mean", "sum"):
        raise ValueError(f"convention must be 'mean' or 'sum', got {convention!r}")
    if batch_size <= 0:
        raise ValueError("batch_size must be positive")
    return float(lam) if convention == "mean" else float(lam) / batch_size
