"""course.framework (lecture 04): subspace angles, the tied layer, gradients per part, the
capacity probe, and how the installed Keras scales an activity penalty."""

from __future__ import annotations

import math

import keras
import numpy as np
import pytest
from scipy.linalg import subspace_angles

from course import framework


@pytest.fixture
def rng():
    return np.random.default_rng(0)


def test_a_subspace_has_angle_zero_with_itself_and_with_any_other_basis_of_it(rng):
    a = rng.normal(size=(40, 5))
    np.testing.assert_allclose(framework.principal_angles(a, a), 0, atol=1e-7)
    other_basis = a @ rng.normal(size=(5, 5))
    np.testing.assert_allclose(framework.principal_angles(a, other_basis), 0, atol=1e-7)
    assert framework.principal_angles(a, a[:, :2]).shape == (2,)  # a subspace of it: 2 angles, both 0
    np.testing.assert_allclose(framework.principal_angles(a, a[:, :2]), 0, atol=1e-7)


@pytest.mark.parametrize("t", [1e-7, 1e-3, 0.3, math.pi / 4, 1.2, math.pi / 2])
def test_the_angle_between_two_lines_is_the_angle_between_them(t):
    e1, e2 = np.eye(3)[:, :1], np.eye(3)[:, 1:2]
    line = math.cos(t) * e1 + math.sin(t) * e2
    assert framework.principal_angles(e1, line) == pytest.approx([t], abs=1e-12)


def test_orthogonal_subspaces_and_agreement_with_scipy(rng):
    e = np.eye(6)
    np.testing.assert_allclose(framework.principal_angles(e[:, :2], e[:, 2:4]), [math.pi / 2] * 2)
    a, b = rng.normal(size=(30, 4)), rng.normal(size=(30, 3))
    np.testing.assert_allclose(framework.principal_angles(a, b), np.sort(subspace_angles(a, b)), atol=1e-10)
    assert np.all(np.diff(framework.principal_angles(a, b)) >= 0)  # smallest first


def test_principal_angles_refuse_what_is_not_two_subspaces_of_one_space(rng):
    with pytest.raises(ValueError, match="different spaces"):
        framework.principal_angles(rng.normal(size=(5, 2)), rng.normal(size=(6, 2)))
    with pytest.raises(ValueError, match="no subspace"):
        framework.principal_angles(np.zeros((5, 2)), rng.normal(size=(5, 2)))
    # a repeated column adds no direction: the rank, not the column count, sets the number of angles
    a = rng.normal(size=(8, 2))
    assert framework.principal_angles(np.c_[a, a[:, :1]], rng.normal(size=(8, 3))).shape == (2,)


def tied_autoencoder(units=8, input_dim=20):
    tied = framework.TiedDense(units, input_dim, activation="relu", decode_activation="sigmoid", name="tied")
    x = keras.Input(shape=(input_dim,))
    return tied, keras.Model(x, tied(tied(x), decode=True))


def test_tied_layer_has_one_matrix_half_the_entries_and_computes_both_directions(rng):
    keras.utils.set_random_seed(0)
    tied, model = tied_autoencoder()
    untied = keras.Sequential([keras.Input(shape=(20,)), keras.layers.Dense(8), keras.layers.Dense(20)])
    matrices = [w for w in model.weights if len(w.shape) == 2]
    untied_matrices = [w for w in untied.weights if len(w.shape) == 2]
    assert len(matrices) == 1 and len(untied_matrices) == 2
    assert sum(int(np.prod(w.shape)) for w in untied_matrices) == 2 * int(np.prod(matrices[0].shape))
    assert model.count_params() == 20 * 8 + 8 + 20 and untied.count_params() == 2 * 20 * 8 + 8 + 20

    x = rng.uniform(size=(5, 20)).astype("float32")
    w, b, c = (np.asarray(keras.ops.convert_to_numpy(v), np.float64)
               for v in (tied.kernel, tied.bias, tied.decode_bias))
    z = np.maximum(x @ w + b, 0)
    expected = 1 / (1 + np.exp(-(z @ w.T + c)))
    np.testing.assert_allclose(np.asarray(model(x)), expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(np.asarray(tied(x)), z, rtol=1e-5, atol=1e-6)


def test_tied_layer_survives_save_and_load_still_tied(tmp_path, rng):
    tied, model = tied_autoencoder()
    x = rng.uniform(size=(4, 20)).astype("float32")
    path = str(tmp_path / "tied.keras")
    model.save(path)
    loaded = keras.models.load_model(path)
    np.testing.assert_allclose(np.asarray(loaded(x)), np.asarray(model(x)), rtol=1e-6, atol=1e-7)
    layer = next(layer for layer in loaded.layers if isinstance(layer, framework.TiedDense))
    assert [tuple(w.shape) for w in loaded.weights if len(w.shape) == 2] == [(20, 8)]
    layer.kernel.assign(np.zeros((20, 8), "float32"))  # one matrix: zeroing it changes both directions
    only_bias = 1 / (1 + np.exp(-np.asarray(layer.decode_bias)))
    np.testing.assert_allclose(np.asarray(loaded(x)), np.broadcast_to(only_bias, x.shape), rtol=1e-6)
    again = framework.TiedDense.from_config(tied.get_config())
    assert (again.units, again.input_dim) == (8, 20)


def test_gradient_norms_match_a_hand_computation_and_are_zero_where_the_loss_does_not_reach(rng):
    first = keras.layers.Dense(1, use_bias=False)
    second = keras.layers.Dense(1, use_bias=False)
    x = rng.normal(size=(6, 3)).astype("float32")
    first.build((None, 3))
    second.build((None, 1))

    def loss():  # depends on the first layer only: d/dw sum(x w) = sum of x over the batch
        return keras.ops.sum(first(x))

    parts = {"first": first.trainable_weights, "second": second.trainable_weights}
    norms = framework.gradient_norms(loss, parts)
    assert norms["first"] == pytest.approx(float(np.linalg.norm(x.sum(axis=0))), rel=1e-5)
    assert norms["second"] == 0.0


def test_one_step_moves_only_what_the_loss_depends_on(rng):
    first, second = keras.layers.Dense(2), keras.layers.Dense(2)
    first.build((None, 3))
    second.build((None, 3))
    x = rng.normal(size=(4, 3)).astype("float32")
    before = np.asarray(keras.ops.convert_to_numpy(first.kernel)).copy()
    moved = framework.one_step(lambda: keras.ops.sum(first(x)),
                               {"first": first.trainable_weights, "second": second.trainable_weights},
                               keras.optimizers.SGD(0.5))
    assert moved["second"] == {"max_change": 0.0, "moved": 0.0}
    assert moved["first"]["moved"] == 1.0
    step = np.abs(np.asarray(keras.ops.convert_to_numpy(first.kernel)) - before)
    np.testing.assert_allclose(step, 0.5 * np.abs(np.repeat(x.sum(axis=0)[:, None], 2, axis=1)), rtol=1e-5)
    bias_step = 0.5 * len(x)  # d/db of the sum over the batch is the batch size
    assert moved["first"]["max_change"] == pytest.approx(max(step.max(), bias_step), rel=1e-5)


def test_tied_kernel_is_moved_by_a_penalty_on_the_code_alone(rng):
    tied, _ = tied_autoencoder()
    x = rng.uniform(size=(5, 20)).astype("float32")
    norms = framework.gradient_norms(lambda: keras.ops.sum(keras.ops.abs(tied(x))),
                                     {"W": [tied.kernel], "decoder bias": [tied.decode_bias]})
    assert norms["W"] > 0 and norms["decoder bias"] == 0.0


def test_copy_score_is_one_for_a_copy_zero_for_the_mean_and_negative_for_worse(rng):
    x = rng.uniform(size=(10, 16))
    assert framework.copy_score(x, x) == pytest.approx(1.0)
    assert framework.copy_score(x, np.broadcast_to(x.mean(axis=0), x.shape)) == pytest.approx(0.0, abs=1e-12)
    assert framework.copy_score(x, 1 - x) < 0
    with pytest.raises(ValueError):
        framework.copy_score(np.ones((3, 4)), np.ones((3, 4)))
    probe = framework.capacity_probe(lambda v: v, {"a": x, "images": x.reshape(10, 4, 4)})
    assert probe == {"a": (0.0, pytest.approx(1.0)), "images": (0.0, pytest.approx(1.0))}


def test_activity_penalty_convention_agrees_with_a_direct_computation(rng):
    """Whatever this Keras does, the answer must be what a layer's added loss shows."""
    x = rng.normal(size=(5, 4)).astype("float32")
    model = keras.Sequential([keras.Input(shape=(4,)),
                              keras.layers.Dense(3, activation="relu",
                                                 activity_regularizer=keras.regularizers.L1(0.5))])
    z = np.asarray(model(x), np.float64)
    added = float(sum(float(keras.ops.convert_to_numpy(t)) for t in model.losses))
    total = 0.5 * np.abs(z).sum()
    assert total > 0
    answer = framework.activity_penalty_convention()
    assert answer in {"sum", "mean"}
    assert added == pytest.approx(total if answer == "sum" else total / len(x), rel=1e-5)


@pytest.mark.parametrize("batch_size", [1, 8])
def test_per_image_l1_gives_the_slides_per_image_penalty(batch_size, rng):
    lam = 1e-2
    x = rng.normal(size=(batch_size, 4)).astype("float32")
    layer = keras.layers.Dense(3, activity_regularizer=keras.regularizers.L1(
        framework.per_image_l1(lam, batch_size)))
    model = keras.Sequential([keras.Input(shape=(4,)), layer])
    z = np.asarray(model(x), np.float64)
    added = float(sum(float(keras.ops.convert_to_numpy(t)) for t in model.losses))
    assert added == pytest.approx(lam * np.abs(z).sum(axis=1).mean(), rel=1e-5)
    assert framework.per_image_l1(lam, 8, "sum") == pytest.approx(lam / 8)
    assert framework.per_image_l1(lam, 8, "mean") == lam
    with pytest.raises(ValueError):
        framework.per_image_l1(lam, 8, "median")
    with pytest.raises(ValueError):
        framework.per_image_l1(lam, 0)
