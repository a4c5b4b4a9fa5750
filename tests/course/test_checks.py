"""The labs' self-checks pass right answers and reject plausible wrong ones
with a message that names the mistake: the checks directly, and every lab's test cells
(visible and hidden) run in this process on its solution and its seeded wrong answers
(tests/wrong_answers.py), without nbgrader."""

from __future__ import annotations

import contextlib
import io
import json
from functools import cache

import keras
import numpy as np
import pytest
from keras import layers

from course import checks, metrics, models, runtime
from tests.conftest import COURSE_ROOT, lab_names
from tests.course.wrong_answers import WRONG_ANSWERS, wrong_answers
from tests.submissions import grade_id, solution_sources


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


# --------------------------------------------------------------------------------------
# Every lab's test cells (visible and hidden) against its solution and its seeded wrong
# answers, run in this process without nbgrader; each failure must name the mistake.
# --------------------------------------------------------------------------------------

TRAINING = ("check_training(", "check_denoiser_training(")  # seconds each: left to nbgrader tests

# what each wrong answer's failure must say (a fragment of the student's message)
MESSAGES = {
    "unseeded": "same seed",
    "gaussian_points": "drawn uniformly in the cube",
    "count_not_fraction": "not a count",
    "slides_half_power": "(1/2)^d is the slides' rough rate",
    "ball_volume_only": "over the cube's volume 2^d",
    "gamma_off_by_one": "Gamma(d/2 + 1)",
    "not_centred": "covariance of the centred data",
    "ascending_order": "ascending order",
    "eigenvectors_as_rows": "eigenvectors as columns",
    "encode_without_mean": "Subtract the mean first",
    "decode_without_mean": "Add the mean back",
    "column_vector_formula": "one row of k=3 code values per example",
    "ratio_to_the_rest": "over the sum of all",
    "only_the_kth": "over the sum of all",
    "smallest_k": "over the sum of all",
    "fit_on_test": "Fit PCA on x_train only",
    "error_on_train": "Measure the error on x_test",
    "sum_per_image": "mean, not a sum per image",
    "unshared_decoder": "reuse the autoencoder's layers",
    "linear_code": "ReLU",
    "relu_output": "sigmoid",
    "one_number": "one per image",
    "absolute_error": "square",
    "flat_images_only": "one per image",
    "upside_down": "compression factor of 24.5",
    "integer_division": "compression factor of 24.5",
    "hard_coded_784": "compression factor of 8",
    "kernel_regularizer": "kernel_regularizer",
    "penalty_on_output": "You penalised the decoder's output",
    "l2_penalty": "That is an L2 penalty",
    "exact_zeros_only": "not only exact zeros",
    "active_fraction": "share of active values",
    "decoder_not_mirrored": "in this order",
    "sigmoid_everywhere": "should use activation='relu'",
    "ignores_hidden": "40, 20, 10, 3 units",
    "all_same_padding": "padding='valid'",
    "one_channel_output": "one filter per image channel",
    "dense_without_biases": "a*b weights and b biases",
    "conv_ignores_in_channels": "3*3*16 weights and one bias",
    "conv_kernel_not_squared": "3*3*1 weights and one bias",
    "not_clipped": "clip",
    "modifies_input": "changed the clean images",
    "added_not_blended": "Blend, do not add",
    "no_channel_axis": "mark[..., None]",
    "same_square_for_all": "same place",
    "square_may_leave_image": "fully inside the image",
    "plain_autoencoder": "you trained on clean inputs",
    "input_and_target_swapped": "you trained on clean inputs",
    "relu_code": "no activation (linear)",
    "mixes_images": "walk in the code plane",
    "end_excluded": "include both ends",
    "returns_codes": "return images, not codes",
    "per_pixel_not_per_image": "one score per image",
    "sum_not_mean": "not a sum",
    "percentile_with_a_fraction": "np.percentile takes percent",
    "maximum": "leaves 100.0%",
    "mean_plus_3_std": "of the validation errors below it",
    "threshold_on_test_set": "You chose the threshold on the test errors",
    "precision_recall_swapped": "Precision is tp / (tp + fp)",
    "flags_below_threshold": "ABOVE the threshold",
}


@cache
def lab_cells(lab: str) -> tuple[str, dict[str, str], dict[str, str]]:
    """The lab's setup cell, its solutions and its test cells (hidden tests included)."""
    path = COURSE_ROOT / "source" / lab / f"{lab}.ipynb"
    nb = json.loads(path.read_text())
    setup = next("".join(c["source"]) for c in nb["cells"] if grade_id(c) == "setup")
    tests = {grade_id(c): "".join(c["source"]) for c in nb["cells"]
             if c["metadata"].get("nbgrader", {}).get("grade")}
    return setup, solution_sources(path), tests


@cache
def solved(lab: str) -> dict:
    """The namespace of the lab's notebook with every solution cell run."""
    setup, solutions, _ = lab_cells(lab)
    namespace: dict = {}
    with contextlib.redirect_stdout(io.StringIO()):
        exec(setup, namespace)
        for source in solutions.values():
            exec(source, namespace)
    return namespace


def run_cell(source: str, namespace: dict) -> str:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(source, namespace)
    return out.getvalue()


def test_every_lab_has_wrong_answers_for_every_exercise():
    assert set(WRONG_ANSWERS) == set(lab_names())
    for lab in lab_names():
        _, solutions, tests = lab_cells(lab)
        assert set(WRONG_ANSWERS[lab]) == set(solutions), lab
        assert {gid.replace("_solution", "_test") for gid in solutions} == set(tests), lab
        for gid, answers in WRONG_ANSWERS[lab].items():
            assert len(answers) >= 3, f"{lab} {gid}: fewer than three wrong answers"
            assert "### BEGIN HIDDEN TESTS" in tests[gid.replace("_solution", "_test")]


FAST_CASES = [(lab, gid, name, code) for lab in sorted(WRONG_ANSWERS)
              for gid, name, code in wrong_answers(lab)
              if not any(t in lab_cells(lab)[2][gid.replace("_solution", "_test")] for t in TRAINING)]


@pytest.mark.parametrize("lab", sorted(WRONG_ANSWERS))
def test_solution_passes_every_fast_test_cell(lab):
    for gid, source in lab_cells(lab)[2].items():
        if not any(t in source for t in TRAINING):
            assert "OK: " in run_cell(source, dict(solved(lab))), gid


@pytest.mark.parametrize("lab,gid,name,code", FAST_CASES,
                         ids=[f"{lab[:5]}-{gid[:3]}-{name}" for lab, gid, name, _ in FAST_CASES])
def test_wrong_answer_fails_its_test_cell_and_says_why(lab, gid, name, code):
    namespace = dict(solved(lab))
    exec(code, namespace)
    with pytest.raises(AssertionError) as failure:
        run_cell(lab_cells(lab)[2][gid.replace("_solution", "_test")], namespace)
    assert MESSAGES[name] in str(failure.value), str(failure.value)


# --------------------------------------------------------------------------------------
# The training checks: failures that show before any training are tested here; the bar
# itself (an error or a PSNR gain at the grading budget) on a tiny budget and once at the
# real one.
# --------------------------------------------------------------------------------------

TINY = runtime.Budget("ci", n_train=256, n_val=64, n_test=64, epochs=2, batch_size=64)


@pytest.fixture
def tiny_budget(monkeypatch):
    monkeypatch.setattr(runtime, "budget", lambda scale=None: TINY)


def fit_with(loss="binary_crossentropy", optimizer="adam", xy=lambda a, b: (a, a), epochs=None,
             validation=True):
    """A training function: ``xy`` picks (input, target) from its two data arguments."""
    def train(model, first, second, epochs_given, batch_size):
        model.compile(optimizer=optimizer, loss=loss)
        x, y = xy(first, second)
        extra = {"validation_data": (second, second)} if validation else {}
        return model.fit(x, y, epochs=epochs or epochs_given, batch_size=batch_size, verbose=0,
                         **extra)
    return train


@pytest.mark.parametrize("train,message", [
    (fit_with(xy=lambda x, v: (x, np.zeros_like(x))), "the input is the target"),
    (lambda *args: None, "should call autoencoder.fit"),
    (fit_with(validation=False), "validation_data"),
    (fit_with(epochs=1), "yours trained 1"),
    (fit_with(optimizer="adadelta"), "not below"),
])
def test_training_check_names_the_mistake(tiny_budget, train, message):
    with pytest.raises(AssertionError, match=message):
        checks.check_training(train)


def test_training_check_passes_adam_at_the_grading_budget(capsys):
    checks.check_training(fit_with())
    assert "OK: training" in capsys.readouterr().out


NOISY_TO_CLEAN = lambda noisy, clean: (noisy, clean)  # noqa: E731


@pytest.mark.parametrize("xy,message", [
    (lambda noisy, clean: (clean, clean), "you trained on clean inputs"),
    (lambda noisy, clean: (noisy, noisy), "the target should be the clean images"),
    (lambda noisy, clean: (noisy[::-1], clean), "input should be the noisy images"),
])
def test_denoiser_check_names_the_mistake(tiny_budget, xy, message):
    with pytest.raises(AssertionError, match=message):
        checks.check_denoiser_training(fit_with(xy=xy, validation=False), model="dense")


def test_denoiser_check_requires_a_gain(tiny_budget):
    with pytest.raises(AssertionError, match="raised the test PSNR by"):
        checks.check_denoiser_training(fit_with(optimizer="adadelta", xy=NOISY_TO_CLEAN,
                                                validation=False), model="dense")


def test_denoiser_check_passes_at_the_grading_budget(capsys):
    checks.check_denoiser_training(fit_with(xy=NOISY_TO_CLEAN, validation=False), model="dense")
    assert "OK: denoiser (dense)" in capsys.readouterr().out


# --------------------------------------------------------------------------------------
# The new checks directly, on the course library's right answers.
# --------------------------------------------------------------------------------------


def test_library_answers_pass_the_lab_checks():
    from course import corruptions, pca

    def mc(d, n, seed):
        points = np.random.default_rng(seed).uniform(-1, 1, (n, d))
        return float(np.mean((points**2).sum(axis=1) <= 1))

    checks.check_fraction_in_ball_mc(mc)
    checks.check_fraction_in_ball_exact(checks.ball_fraction, dims=(1, 2, 3, 7, 20))
    assert checks.ball_fraction(2) == pytest.approx(np.pi / 4)
    assert checks.ball_fraction(10) == pytest.approx(0.00249, abs=1e-5)

    def fit(x, k):
        p = pca.fit_pca(x, k)
        return p.mean, p.V, p.eigenvalues

    checks.check_fit_pca(fit)
    checks.check_pca_encode_decode(lambda x, m, V: (x - m) @ V, lambda c, m, V: m + c @ V.T)
    checks.check_explained_variance_ratio(lambda e, k: e[:k].sum() / e.sum())
    checks.check_sparse_autoencoder(lambda i, c, l1: models.dense_autoencoder(i, c, l1=l1),
                                    input_dim=64, code_size=5, l1=0.01)
    checks.check_fraction_inactive(lambda z, tol: float(np.mean(np.abs(z) <= tol)))
    checks.check_deep_autoencoder(lambda i, h, c: models.deep_autoencoder(i, tuple(h), c))
    checks.check_conv_autoencoder(lambda shape: models.conv_autoencoder(shape))
    checks.check_param_counts(checks.dense_chain_params, checks.conv_params)
    checks.check_gaussian_noise(lambda x, std, seed: corruptions.gaussian_noise(x, std, seed))
    checks.check_latent_2d_autoencoder(lambda i, h: models.latent_2d_autoencoder(i, tuple(h)))
    checks.check_anomaly_scores(lambda ae, x: metrics.reconstruction_errors(x, ae.predict(x, verbose=0)))


def test_conv_parameter_count_is_the_slides_model():
    assert checks.slides_conv_params(1) == models.conv_autoencoder()[2].count_params() == 4385
    assert checks.dense_chain_params([784, 32, 784]) == 50_992


def test_threshold_check_accepts_any_quantile_method():
    for method in ("linear", "lower", "higher", "nearest"):
        checks.check_threshold_from_validation(lambda v, q, m=method: np.quantile(v, q, method=m))


def test_precision_recall_data_separate_validation_from_test():
    val, test, is_anomaly = checks.anomaly_test_data(0)
    normal_test = test[~is_anomaly]
    assert np.quantile(normal_test, 0.95) > 1.1 * np.quantile(val, 0.95)  # test-set threshold differs
    from course import anomaly

    def right(v, t, a, q):
        d = anomaly.detect(t, a, anomaly.threshold_from_validation(v, q))
        return d.precision, d.recall

    checks.check_precision_recall(right)
