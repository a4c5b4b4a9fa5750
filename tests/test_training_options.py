"""course.training: the compile options are accepted, and change the speed, not the results."""

from __future__ import annotations

import contextlib
import inspect
import io

import keras
import numpy as np
import pytest

from course import models, runtime, training

EPOCHS, BATCH = 3, 128  # 2,000 images at batch 128 (the CI budget): 16 batches, fewer than 32
NEW_KERAS = training.keras_version() >= training.FIRST_RIGHT_KERAS
CPU, CI = runtime.budget("cpu"), runtime.budget("ci")
FAST = {"steps_per_execution": 32} if NEW_KERAS else {}


@pytest.fixture(autouse=True)
def switch_on(monkeypatch):
    monkeypatch.delenv(training.SWITCH, raising=False)


def images(n: int, seed: int = 0) -> np.ndarray:
    """n images in [0, 1] that lie near an 8-dimensional subspace: something to learn."""
    rng = np.random.default_rng(seed)
    basis = rng.uniform(0, 1, (8, 784)).astype("float32")
    return np.clip(rng.uniform(0, 1, (n, 8)).astype("float32") @ basis / 4, 0, 1)


def fit(build, options: dict, shape=(784,), verbose: int = 0):
    keras.utils.set_random_seed(0)
    model = build()
    model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["mse"], **options)
    x = images(2_500).reshape(-1, *shape)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        history = model.fit(x[:2_000], x[:2_000], epochs=EPOCHS, batch_size=BATCH, shuffle=True,
                            validation_data=(x[2_000:], x[2_000:]), verbose=verbose).history
    return model, history, x[2_000:], out.getvalue()


def dense():
    return models.dense_autoencoder(784, 32)[2]


def conv():
    return models.conv_autoencoder()[2]


def test_options_are_compile_arguments_of_this_keras():
    options = training.training_options(CPU)
    assert set(options) <= set(inspect.signature(keras.Model.compile).parameters)
    assert options == FAST
    dense().compile(optimizer="adam", loss="mse", **options)


def test_an_epoch_shorter_than_one_call_keeps_the_defaults():
    assert training.batches_per_epoch(CI) == 16 and training.batches_per_epoch(CPU) == 196
    assert training.training_options(CI) == {}
    assert training.training_options() == {}  # the tests run at the ci budget
    at_32 = runtime.Budget("x", n_train=32 * 128, n_val=1, n_test=1, epochs=1, batch_size=128)
    at_31 = runtime.Budget("x", n_train=31 * 128, n_val=1, n_test=1, epochs=1, batch_size=128)
    assert training.training_options(at_32) == FAST and training.training_options(at_31) == {}


def test_switch_and_old_keras_give_the_defaults(monkeypatch):
    monkeypatch.setenv(training.SWITCH, "0")
    assert training.training_options(CPU) == {}
    monkeypatch.setenv(training.SWITCH, "1")
    monkeypatch.setattr(training, "keras_version", lambda: (3, 6))
    assert training.training_options(CPU) == {}


def test_compile_for_images_uses_them(monkeypatch):
    assert models.compile_for_images(dense()).steps_per_execution == 1  # ci: 16 batches an epoch
    monkeypatch.setenv("COURSE_BUDGET", "cpu")
    assert models.compile_for_images(dense()).steps_per_execution == (32 if NEW_KERAS else 1)


@pytest.mark.parametrize("build,shape", [(dense, (784,)), (conv, (28, 28, 1))], ids=["dense", "conv"])
def test_same_history_as_the_default_with_few_batches(build, shape):
    default, base, x_val, _ = fit(build, {}, shape)
    _, again, _, _ = fit(build, {}, shape)
    spread = max(abs(a - b) for key in base for a, b in zip(base[key], again[key], strict=True))
    tolerance = max(10 * spread, 1e-5)  # the rule of benchmarks/throughput.py
    fast, history, _, _ = fit(build, training.training_options(CPU), shape)  # 32 per call here too
    assert history.keys() == base.keys() == {"loss", "mse", "val_loss", "val_mse"}
    for key in base:
        assert len(history[key]) == EPOCHS
        np.testing.assert_allclose(history[key], base[key], atol=tolerance, rtol=0, err_msg=key)
    np.testing.assert_allclose(fast.evaluate(x_val, x_val, verbose=0),
                               default.evaluate(x_val, x_val, verbose=0), atol=tolerance, rtol=0)
    np.testing.assert_allclose(fast.predict(x_val, verbose=0), default.predict(x_val, verbose=0),
                               atol=1e-6, rtol=0)


def test_verbose_2_prints_one_line_per_epoch():
    *_, printed = fit(dense, training.training_options(CPU), verbose=2)
    lines = [line for line in printed.splitlines() if "loss:" in line]
    assert len(lines) == EPOCHS
    assert all(line.startswith("16/16 ") and "val_loss:" in line for line in lines), printed


@pytest.mark.skipif(NEW_KERAS, reason="the reason for the version gate: Keras before 3.7 only")
def test_keras_before_3_7_gets_steps_per_execution_wrong():
    _, base, _, _ = fit(dense, {})
    try:
        _, history, _, _ = fit(dense, {"steps_per_execution": 32})
    except Exception:  # 3.3-3.4: TypeError at the end of the first epoch
        return
    assert history != base  # 3.0: wrong validation losses; 3.5: missing keys
