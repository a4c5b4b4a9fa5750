"""Models, corruptions, anomaly detection and slider figures of the course library."""

from __future__ import annotations

import numpy as np
import pytest

from course import anomaly, corruptions, framework, models, widgets


@pytest.mark.parametrize("build,code_shape,params", [
    (models.dense_autoencoder, (None, 32), 50_992),
    (models.deep_autoencoder, (None, 32), 222_384),
    (models.conv_autoencoder, (None, 4, 4, 8), 4_385),
    (models.latent_2d_autoencoder, (None, 2), None),
])
def test_builders_share_layers_and_have_the_slides_shapes(build, code_shape, params):
    encoder, decoder, autoencoder = build()
    assert encoder.output_shape == code_shape
    assert autoencoder.output_shape == autoencoder.input_shape
    assert {id(w) for w in autoencoder.weights} == {id(w) for w in encoder.weights + decoder.weights}
    if params:
        assert autoencoder.count_params() == params


def test_sparse_penalty_is_on_the_code():
    encoder, _, autoencoder = models.dense_autoencoder(64, 8, l1=1e-3)
    x = np.random.default_rng(0).uniform(size=(4, 64)).astype("float32")
    autoencoder(x)
    penalty = float(sum(autoencoder.losses))
    batch_sum = 1e-3 * np.abs(np.asarray(encoder(x))).sum()
    # Keras 3.14+ divides an activity penalty by the batch size, earlier 3.x sum it (keras#22018)
    divisor = len(x) if framework.activity_penalty_convention() == "mean" else 1
    assert penalty == pytest.approx(batch_sum / divisor, rel=1e-4)


def test_denoiser_maps_grey_to_colour():
    assert models.conv_denoiser((32, 32, 1), out_channels=3).output_shape == (None, 32, 32, 3)


@pytest.fixture
def clean():
    return np.random.default_rng(0).uniform(size=(6, 28, 28)).astype(np.float32)


def test_corruptions_are_seeded_clipped_and_leave_the_input_alone(clean):
    original = clean.copy()
    for damage in (lambda x: corruptions.gaussian_noise(x, 0.5, seed=1),
                   lambda x: corruptions.add_watermark(x, seed=1),
                   lambda x: corruptions.mask_patches(x, seed=1)[0]):
        a, b = damage(clean), damage(clean)
        np.testing.assert_array_equal(a, b)
        assert a.min() >= 0 and a.max() <= 1 and a.dtype == np.float32
        assert not np.array_equal(a, clean)
    np.testing.assert_array_equal(clean, original)
    _, mask = corruptions.mask_patches(clean, size=8)
    assert (mask.sum(axis=(1, 2)) == 64).all()


def test_grayscale_weights():
    rgb = np.zeros((1, 2, 2, 3), np.float32)
    rgb[..., 1] = 1.0
    assert corruptions.to_grayscale(rgb).shape == (1, 2, 2, 1)
    assert corruptions.to_grayscale(rgb)[0, 0, 0, 0] == pytest.approx(0.587)


def test_anomaly_threshold_and_counts():
    val = np.arange(100, dtype=float)
    assert anomaly.threshold_from_validation(val, 0.9) == pytest.approx(89.1)
    with pytest.raises(ValueError):
        anomaly.threshold_from_validation(val, 1.5)
    d = anomaly.detect(np.array([1, 5, 2, 6, 7]), np.array([0, 0, 1, 1, 1]), threshold=4)
    assert (d.tp, d.fp, d.tn, d.fn) == (2, 1, 1, 1)
    assert d.precision == pytest.approx(2 / 3) and d.recall == pytest.approx(2 / 3)
    np.testing.assert_array_equal(d.confusion_matrix(), [[1, 1], [1, 2]])
    _, _, auc = anomaly.roc_curve(np.array([1, 2, 3, 4]), np.array([0, 0, 1, 1]))
    assert auc == 1.0


def test_slider_figure_redraws_when_a_slider_moves():
    def draw(fig, level):
        fig.add_subplot().imshow(np.full((3, 3), level), vmin=0, vmax=1)

    w = widgets.SliderFigure(draw, {"level": widgets.slider("level", 0, 1, 0.25)})
    before = np.asarray(w.figure.axes[0].images[0].get_array()).copy()
    w.sliders["level"].value = 0.75
    after = np.asarray(w.figure.axes[0].images[0].get_array())
    assert before[0, 0] == 0.25 and after[0, 0] == 0.75
    assert len(w.figure.axes) == 1  # redrawn, not stacked
