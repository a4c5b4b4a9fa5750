"""The noise-level explorer and the colour patches of lecture 10."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from course import corruptions, denoising  # noqa: E402


def blur(images):
    """A stand-in denoiser: the mean of each pixel's 3x3 neighbourhood."""
    padded = np.pad(images, ((0, 0), (1, 1), (1, 1), (0, 0)), mode="edge")
    h, w = images.shape[1:3]
    return np.mean([padded[:, i : i + h, j : j + w] for i in range(3) for j in range(3)], axis=0)


def test_noise_slider_renoises_and_redraws():
    clean = np.zeros((4, 28, 28, 1), np.float32)
    clean[:, 8:20, 8:20] = 0.8
    w = denoising.noise_level_explorer(blur, clean, std=0.1)
    assert w.figure not in [plt.figure(n) for n in plt.get_fignums()]  # not shown twice inline
    axes = w.figure.axes
    assert len(axes) == 8 and axes[0].get_ylabel() == "noisy" and axes[4].get_ylabel() == "denoised"
    before = np.asarray(axes[0].images[0].get_array()).copy()
    title_before = w.figure._suptitle.get_text()
    w.sliders["std"].value = 0.8
    axes = w.figure.axes
    assert len(axes) == 8  # redrawn, not stacked
    after = np.asarray(axes[0].images[0].get_array())
    assert np.abs(after - clean[0, ..., 0]).mean() > np.abs(before - clean[0, ..., 0]).mean()
    title_after = w.figure._suptitle.get_text()
    assert title_before.startswith("noise std 0.10") and title_after.startswith("noise std 0.80")

    def db(title, label):
        return float(title.split(f"{label} ")[1].split(" dB")[0])

    assert db(title_after, "noisy") < db(title_before, "noisy")
    assert db(title_after, "denoised") > db(title_after, "noisy")  # the blur helps at 0.8
    plt.close("all")


def test_bundled_colour_image_is_offline_rgb():
    image = denoising.colour_image("chelsea", downscale=2)
    assert image.shape == (150, 225, 3) and image.dtype == np.float32
    assert 0 <= image.min() and image.max() <= 1
    with pytest.raises(ValueError):
        denoising.colour_image("cat")  # the same photograph as chelsea: not allowed


def test_patches_tile_in_row_major_order():
    image = np.arange(8 * 12 * 3, dtype=np.float32).reshape(8, 12, 3)
    tiles = denoising.patches(image, size=4)
    assert tiles.shape == (6, 4, 4, 3)
    np.testing.assert_array_equal(tiles[1], image[:4, 4:8])
    assert denoising.patches(image, size=4, stride=2).shape == (3 * 5, 4, 4, 3)


def test_colourise_stitches_tiles_back():
    image = np.random.default_rng(0).uniform(size=(70, 100, 3)).astype(np.float32)
    grey, coloured = denoising.colourise(lambda g: np.repeat(g, 3, axis=-1), image, size=32)
    assert grey.shape == (64, 96, 1) and coloured.shape == (64, 96, 3)
    np.testing.assert_allclose(coloured, np.repeat(grey, 3, axis=-1))
    np.testing.assert_allclose(grey, corruptions.to_grayscale(image[:64, :96][None])[0])


def test_keep_luminance_and_colour_error():
    rng = np.random.default_rng(1)
    x = rng.uniform(0.2, 0.8, size=(16, 16, 3)).astype(np.float32)
    grey = corruptions.to_grayscale(x)
    guess = rng.uniform(0.2, 0.8, size=(16, 16, 3)).astype(np.float32)
    kept = denoising.keep_luminance(guess, grey)
    np.testing.assert_allclose(corruptions.to_grayscale(kept), grey, atol=0.05)
    assert denoising.colour_error(x, x) == 0
    baseline = denoising.colour_error(x, np.repeat(grey, 3, axis=-1))
    assert baseline == pytest.approx(np.mean((x - grey) ** 2), rel=1e-5)
