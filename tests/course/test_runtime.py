"""Budgets, seeding and the banner."""

from __future__ import annotations

import numpy as np
import pytest

import course
from course import runtime


@pytest.fixture
def clean_env(monkeypatch):
    for var in ("CI", "NBGRADER_EXECUTION", "COURSE_BUDGET"):
        monkeypatch.delenv(var, raising=False)
    return monkeypatch


@pytest.mark.parametrize("var,value", [("CI", "true"), ("NBGRADER_EXECUTION", "autograde"),
                                       ("NBGRADER_EXECUTION", "validate")])
def test_ci_and_grading_get_the_small_budget(clean_env, var, value):
    clean_env.setenv(var, value)
    assert runtime.budget().scale == "ci"


def test_student_without_gpu_gets_the_cpu_budget(clean_env):
    assert not runtime.gpu_available()  # this machine has no GPU
    assert runtime.budget().scale == "cpu"
    clean_env.setenv("CI", "false")
    assert runtime.budget().scale == "cpu"


def test_override_and_bad_override(clean_env):
    clean_env.setenv("COURSE_BUDGET", "gpu")
    assert runtime.budget().epochs == runtime.BUDGETS["gpu"].epochs
    clean_env.setenv("COURSE_BUDGET", "huge")
    with pytest.raises(ValueError, match="ci, cpu, gpu"):
        runtime.budget()


def test_budgets_grow_with_scale():
    ci, cpu, gpu = (runtime.BUDGETS[s] for s in runtime.SCALES)
    assert ci.n_train < cpu.n_train <= gpu.n_train
    assert ci.epochs < cpu.epochs < gpu.epochs
    assert cpu.n_train + cpu.n_val <= 60_000  # validation comes out of the training set


def test_seed_everything_makes_numpy_and_keras_repeat():
    import keras

    def draw():
        runtime.seed_everything(7)
        return np.random.rand(3), np.asarray(keras.random.uniform((3,)))

    (a1, k1), (a2, k2) = draw(), draw()
    np.testing.assert_array_equal(a1, a2)
    np.testing.assert_array_equal(k1, k2)


def test_setup_prints_the_banner(clean_env, capsys):
    clean_env.setenv("CI", "1")
    b = course.setup()
    out = capsys.readouterr().out
    assert b.scale == "ci"
    for piece in ("device : CPU", "tensorflow", "keras", "budget : ci: train 2,000",
                  "data   : Fashion-MNIST from"):
        assert piece in out
