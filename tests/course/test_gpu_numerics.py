"""GPU numerics: the labs' checks give the same verdicts when the student's kernel computes
on a GPU (course/checks/TOLERANCES.md says why each tolerance is safe).

No GPU is needed. What a GPU changes is imitated here, in three ways:

* the floats the student's device computes for the judge are perturbed by a relative
  error of ``REL`` = 2e-3, four times TF32's unit roundoff 2^-11 (seeded signs, every
  value moved by exactly ``REL``); inputs a check asserts were left unchanged are not
  touched;
* TF32 itself: Keras' matmul and convolution get their float32 inputs rounded to 10
  mantissa bits (what TensorFlow's default ``enable_tensor_float_32_execution`` does on
  Ampere and newer GPUs), in the student's kernel only (graded on a CPU) or in both ask and
  judge (a self-check in a Colab GPU kernel);
* training: the network's weights are jittered by ``REL`` before training (a run that
  departs from the CPU's after its first rounding difference, as non-deterministic cuDNN
  and TF32 make it) and again after it.

Each time the labs' reference solutions must still pass and the seeded wrong answers
(tests/course/wrong_answers.py) must still fail, with the same message.
"""

from __future__ import annotations

import ast
import contextlib
import io
import tempfile
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf
from keras.src.backend.tensorflow import nn as tf_nn
from keras.src.backend.tensorflow import numpy as tf_numpy

from course import checks, models
from course.checks import answers, lab05
from tests.course.test_checks import MESSAGES, TRAINING, lab_cells, solved
from tests.course.wrong_answers import WRONG_ANSWERS

REL = 2e-3  # relative error of a perturbed value: 4 x 2^-11, TF32's unit roundoff
TF32_UNIT = 2.0**-11

# the answer's values that the student's device computes (a GPU's numbers), per test cell
GPU_COMPUTED = {
    ("lab05_latent_and_anomaly", "ex2_test"): ("walk",),  # decoder.predict of the walk
    ("lab05_latent_and_anomaly", "ex3_test"): ("scores",),  # autoencoder.predict, then the MSE
}
KERAS_LABS = ("lab02_dense_autoencoder", "lab03_deep_and_conv", "lab05_latent_and_anomaly")


# --------------------------------------------------------------------------------------
# helpers: a test cell's calls, asking and judging apart, perturbing, TF32
# --------------------------------------------------------------------------------------


def calls(source: str) -> list[tuple[str, list[str], dict]]:
    """(check name, student function names, parameters) of each check a test cell calls,
    hidden tests included, in order."""
    found = [
        node
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr.startswith("check_")
    ]
    return [
        (
            node.func.attr,
            [arg.id for arg in node.args],
            {k.arg: ast.literal_eval(k.value) for k in node.keywords},
        )
        for node in sorted(found, key=lambda n: (n.lineno, n.col_offset))
    ]


def cell(lab: str, test: str) -> str:
    return lab_cells(lab)[2][test]


def namespace(lab: str, wrong_code: str | None = None) -> dict:
    names = dict(solved(lab))
    if wrong_code is not None:
        exec(wrong_code, names)
    return names


class Asked:
    """What ``ask`` wrote into an answer folder; each :meth:`answer` reads it back afresh, as
    the grader does (a judge calls the models it reads, which changes their ``losses``)."""

    def __init__(self, name: str, functions: list, params: dict, device=contextlib.nullcontext):
        check = checks.CHECKS[name]
        with device(), answers.quiet_stderr(), contextlib.redirect_stdout(io.StringIO()):
            try:
                data, raised = check.ask(*functions, **check.params(params)), None
            except Exception as err:  # noqa: BLE001 - the student's exception is the answer
                data, raised = {}, err
        self._folder = tempfile.TemporaryDirectory(prefix="gpu-numerics-")
        answers.write_answer(Path(self._folder.name), data, raised)

    def answer(self) -> answers.Answer:
        return answers.read_answer(Path(self._folder.name))


def ask(name: str, functions: list, params: dict, device=contextlib.nullcontext) -> Asked:
    """``ask`` in the 'student's kernel' (under ``device``), its answer kept in a folder."""
    return Asked(name, functions, params, device)


def verdict(name: str, answer, params: dict, device=contextlib.nullcontext) -> str | None:
    """None if the judge (under ``device``) passes the answer, else its message."""
    check = checks.CHECKS[name]
    if isinstance(answer, Asked):
        answer = answer.answer()
    try:
        with device(), answers.quiet_stderr(), contextlib.redirect_stdout(io.StringIO()):
            check.judge_answer(answer, check.params(params))
    except (AssertionError, answers.StudentError) as err:
        return str(err) or type(err).__name__
    return None


def perturb(value, rng: np.random.Generator):
    """``value`` with every float in it times (1 +- REL), signs drawn from ``rng``."""
    if isinstance(value, (tuple, list)):
        return type(value)(perturb(v, rng) for v in value)
    if isinstance(value, float):
        return value * (1 + REL * rng.choice([-1.0, 1.0]))
    if isinstance(value, np.ndarray) and value.dtype.kind == "f":
        signs = rng.choice([-1.0, 1.0], size=value.shape)
        return (value.astype(np.float64) * (1 + REL * signs)).astype(value.dtype)
    return value


def perturbed(asked: Asked, keys: tuple[str, ...], seed: int) -> answers.Answer:
    """The answer with the values at ``keys`` perturbed (checked to have moved by REL)."""
    answer = asked.answer()
    rng = np.random.default_rng(seed)
    data = dict(answer.data)
    for key in keys:
        if key in data:
            data[key] = perturb(data[key], rng)
            before, after = answers.as_array(answer.data[key]), answers.as_array(data[key])
            if before is not None and after is not None and before.shape == after.shape:
                moved = np.abs(after - before)[before != 0] / np.abs(before[before != 0])
                assert moved.size and np.allclose(moved, REL, rtol=0.01), f"{key} was not perturbed"
    return answers.Answer(data, answer.raised)


def round_tf32(x):
    """float32 rounded to TF32's 10 mantissa bits (to nearest, ties to even); the gradient
    passes straight through."""
    x = tf.convert_to_tensor(x)
    if x.dtype != tf.float32:
        return x
    bits = tf.bitcast(x, tf.uint32)
    lsb = tf.bitwise.bitwise_and(tf.bitwise.right_shift(bits, 13), 1)
    bits = bits + tf.constant(0xFFF, tf.uint32) + lsb
    rounded = tf.bitwise.bitwise_and(bits, tf.constant(0xFFFFE000, tf.uint32))
    return x + tf.stop_gradient(tf.bitcast(rounded, tf.float32) - x)


@contextlib.contextmanager
def tf32():
    """Keras' matmul and convolutions as a TF32 tensor core does them (float32 accumulation)."""
    matmul, conv = tf_numpy.matmul, tf_nn.conv
    tf_numpy.matmul = lambda a, b: matmul(round_tf32(a), round_tf32(b))
    tf_nn.conv = lambda inputs, kernel, *args, **kwargs: conv(
        round_tf32(inputs), round_tf32(kernel), *args, **kwargs
    )
    try:
        yield
    finally:
        tf_numpy.matmul, tf_nn.conv = matmul, conv


def wrong_cases(labs, tests=None) -> list[tuple[str, str, str, str]]:
    return [
        (lab, gid.replace("_solution", "_test"), name, code)
        for lab in labs
        for gid, entries in WRONG_ANSWERS[lab].items()
        if (tests is None or (lab, gid.replace("_solution", "_test")) in tests)
        and not any(t in cell(lab, gid.replace("_solution", "_test")) for t in TRAINING)
        for name, code in entries
    ]


def fast_cells(labs) -> list[tuple[str, str]]:
    return [
        (lab, test)
        for lab in labs
        for test, source in lab_cells(lab)[2].items()
        if not any(t in source for t in TRAINING)
    ]


def ids(cases) -> list[str]:
    return ["-".join(str(part)[:5] if i == 0 else str(part) for i, part in enumerate(c[:3])) for c in cases]


# --------------------------------------------------------------------------------------
# the emulation does something
# --------------------------------------------------------------------------------------


def test_tf32_rounding_keeps_ten_mantissa_bits():
    x = np.float32([1.0, 1 + 2**-10, 1 + 2**-11, 1 + 3 * 2**-11, np.pi, -np.pi])
    got = np.asarray(round_tf32(x))
    assert list(got[:4]) == [1.0, 1 + 2**-10, 1.0, 1 + 2**-9]  # ties to even
    assert np.all(np.abs(got - x) <= TF32_UNIT * np.abs(x)) and got[4] != x[4]


def test_tf32_changes_what_the_checks_models_compute():
    """Dense and Conv2D layers both go through the emulation, and it is undone afterwards."""
    dense = lab05.small_autoencoder(784, 0)
    _, _, conv = models.conv_autoencoder((28, 28, 1))
    x = np.random.default_rng(0).uniform(size=(4, 784)).astype("float32")
    images = x.reshape(4, 28, 28, 1)
    plain = np.asarray(dense(x)), np.asarray(conv(images))
    with tf32():
        rounded = np.asarray(dense(x)), np.asarray(conv(images))
    for a, b in zip(plain, rounded, strict=True):
        assert 1e-6 < np.max(np.abs(a - b)) < 1e-2
    assert np.array_equal(np.asarray(dense(x)), plain[0])
    assert np.array_equal(np.asarray(conv(images)), plain[1])


# --------------------------------------------------------------------------------------
# 1. the student's GPU numbers, perturbed by REL, judged as the grader does
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("lab,test", sorted(GPU_COMPUTED))
def test_right_answer_passes_with_its_gpu_floats_perturbed(lab, test):
    names = namespace(lab)
    for i, (name, functions, params) in enumerate(calls(cell(lab, test))):
        answer = ask(name, [names[f] for f in functions], params)
        assert verdict(name, answer, params) is None, (name, params)
        message = verdict(name, perturbed(answer, GPU_COMPUTED[(lab, test)], seed=i), params)
        assert message is None, f"{name}{params} with a {REL:g} relative error: {message}"


WRONG_PERTURBED = wrong_cases(KERAS_LABS, set(GPU_COMPUTED))


@pytest.mark.parametrize("lab,test,name,code", WRONG_PERTURBED, ids=ids(WRONG_PERTURBED))
def test_wrong_answer_keeps_its_verdict_with_its_gpu_floats_perturbed(lab, test, name, code):
    names = namespace(lab, code)
    first_failure = None
    for i, (check, functions, params) in enumerate(calls(cell(lab, test))):
        answer = ask(check, [names[f] for f in functions], params)
        plain = verdict(check, answer, params)
        shaken = verdict(check, perturbed(answer, GPU_COMPUTED[(lab, test)], seed=i), params)
        assert (plain is None) == (shaken is None), (check, params, plain, shaken)
        first_failure = first_failure or shaken
    assert first_failure is not None, f"{name} passes every call of {test}"
    assert MESSAGES[name] in first_failure, first_failure


# --------------------------------------------------------------------------------------
# 2. TF32 itself: asked on a GPU and judged on the grader's CPU, or both on the GPU
# --------------------------------------------------------------------------------------

KERAS_CELLS = fast_cells(KERAS_LABS)


@pytest.mark.parametrize("lab,test", KERAS_CELLS)
def test_right_answer_passes_asked_in_tf32(lab, test):
    names = namespace(lab)
    for name, functions, params in calls(cell(lab, test)):
        fns = [names[f] for f in functions]
        asked_on_gpu = ask(name, fns, params, device=tf32)
        assert verdict(name, asked_on_gpu, params) is None, (name, params, "judged on a CPU")
        assert verdict(name, asked_on_gpu, params, device=tf32) is None, (name, params, "judged in TF32")


WRONG_TF32 = wrong_cases(KERAS_LABS)


@pytest.mark.parametrize("lab,test,name,code", WRONG_TF32, ids=ids(WRONG_TF32))
def test_wrong_answer_keeps_its_verdict_asked_in_tf32(lab, test, name, code):
    names = namespace(lab, code)
    failures = {"cpu": None, "tf32 graded on cpu": None, "tf32 self-check": None}
    for check, functions, params in calls(cell(lab, test)):
        fns = [names[f] for f in functions]
        on_gpu = ask(check, fns, params, device=tf32)
        got = {
            "cpu": verdict(check, ask(check, fns, params), params),
            "tf32 graded on cpu": verdict(check, on_gpu, params),
            "tf32 self-check": verdict(check, on_gpu, params, device=tf32),
        }
        assert len({v is None for v in got.values()}) == 1, (check, params, got)
        for where, message in got.items():
            failures[where] = failures[where] or message
    for where, message in failures.items():
        assert message is not None and MESSAGES[name] in message, (where, message)


# --------------------------------------------------------------------------------------
# 3. training on a GPU: another trajectory, then the weights perturbed again
# --------------------------------------------------------------------------------------

TRAINING_CELLS = [
    ("lab03_deep_and_conv", "ex4_test", "train_autoencoder"),
    ("lab04_denoising", "ex4_test", "train_denoiser"),
]


def jittered_start(train):
    """``train`` from weights each moved by REL: a run that departs from the CPU's at once."""

    def train_from_elsewhere(model, *args):
        rng = np.random.default_rng(99)
        model.set_weights([perturb(np.asarray(w), rng) for w in model.get_weights()])
        return train(model, *args)

    return train_from_elsewhere


def perturbed_model(asked: Asked, seed: int) -> answers.Answer:
    answer = asked.answer()
    model = answer.data["model"]
    rng = np.random.default_rng(seed)
    model.set_weights([perturb(np.asarray(w), rng) for w in model.get_weights()])
    return answer


@pytest.mark.parametrize("lab,test,fn", TRAINING_CELLS)
def test_training_checks_keep_their_verdicts_for_a_gpu_run(lab, test, fn):
    wrong = dict(WRONG_ANSWERS[lab][test.replace("_test", "_solution")])["adadelta_as_on_slides"]
    for i, (name, functions, params) in enumerate(calls(cell(lab, test))):
        assert functions == [fn]
        right = ask(name, [jittered_start(namespace(lab)[fn])], params)
        message = verdict(name, perturbed_model(right, seed=i), params)
        assert message is None, (name, params, message)
        if i == 0:  # one wrong run per lab: each costs a training
            bad = ask(name, [jittered_start(namespace(lab, wrong)[fn])], params)
            message = verdict(name, perturbed_model(bad, seed=i), params)
            assert message is not None and "Compile with" in message, message
