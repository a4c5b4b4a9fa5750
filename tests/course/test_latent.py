"""The latent-space helpers of lecture 09: walks, empty points, the scatter and the explorer."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from course import latent, models  # noqa: E402

CLASSES = tuple("abc")


@pytest.fixture(scope="module")
def decoder():
    """A small untrained decoder 2 -> 16 -> 784 whose output depends on the code."""
    models.keras.utils.set_random_seed(0)
    _, dec, _ = models.latent_2d_autoencoder(784, hidden=(16,))
    return dec


@pytest.fixture
def codes():
    rng = np.random.default_rng(0)
    centres = np.array([[-3.0, 0.0], [3.0, 0.0], [0.0, 4.0]])
    labels = np.repeat(np.arange(3), 50)
    return centres[labels] + rng.normal(0, 0.5, (150, 2)), labels


def test_interpolate_ends_and_steps():
    walk = latent.interpolate([0.0, 1.0], [4.0, -1.0], steps=5)
    assert walk.shape == (5, 2)
    np.testing.assert_allclose(walk[0], [0.0, 1.0])
    np.testing.assert_allclose(walk[-1], [4.0, -1.0])
    np.testing.assert_allclose(walk[2], [2.0, 0.0])  # the midpoint
    np.testing.assert_allclose(np.diff(walk, axis=0), np.full((4, 2), [1.0, -0.5]))  # even steps
    with pytest.raises(ValueError, match="at least 2"):
        latent.interpolate([0, 0], [1, 1], steps=1)


def test_decode_gives_images(decoder):
    images = latent.decode(decoder, [[0.0, 0.0], [5.0, -5.0]])
    assert images.shape == (2, 28, 28)
    assert images.min() >= 0 and images.max() <= 1
    assert not np.allclose(images[0], images[1])
    assert latent.decode(decoder, [1.0, 2.0]).shape == (1, 28, 28)  # one code


def test_centroids_and_emptiest_point(codes):
    z, labels = codes
    centroids = latent.class_centroids(z, labels, 3)
    np.testing.assert_allclose(centroids, [[-3, 0], [3, 0], [0, 4]], atol=0.3)
    hole = latent.emptiest_point(z, grid=40)
    nearest = np.sqrt(((z - hole) ** 2).sum(1)).min()
    assert nearest > 1.0  # far from every code: a hole between the three clusters
    low, high = np.quantile(z, [0.05, 0.95], axis=0)
    assert np.all(hole >= low - 1e-9) and np.all(hole <= high + 1e-9)


def test_scatter_has_one_colour_per_class(codes):
    z, labels = codes
    fig = latent.latent_scatter(z, labels, CLASSES)
    ax = fig.axes[0]
    assert len(ax.collections) == 3
    assert [len(c.get_offsets()) for c in ax.collections] == [50, 50, 50]
    assert [t.get_text() for t in ax.get_legend().get_texts()] == list(CLASSES)
    plt.close(fig)
    with pytest.raises(ValueError, match=r"\(n, 2\)"):
        latent.latent_scatter(np.zeros((5, 3)), labels[:5], CLASSES)


def test_explorer_slider_moves_marker_and_redecodes(decoder, codes):
    z, labels = codes
    explorer = latent.latent_explorer(decoder, z, labels, CLASSES, start=(0.0, 0.0))
    assert set(explorer.sliders) == {"z1", "z2"}
    position, image = latent.explorer_state(explorer)
    np.testing.assert_allclose(position, [0.0, 0.0])
    np.testing.assert_allclose(image, latent.decode(decoder, [0.0, 0.0])[0], atol=1e-6)

    explorer.sliders["z1"].value = 3.0
    moved, new_image = latent.explorer_state(explorer)
    np.testing.assert_allclose(moved, [3.0, 0.0], atol=explorer.sliders["z1"].step)
    assert np.abs(new_image - image).max() > 1e-4  # the decoded image changed
    np.testing.assert_allclose(new_image, latent.decode(decoder, moved)[0], atol=1e-6)

    explorer.sliders["z2"].value = -1.0
    assert latent.explorer_state(explorer)[0][1] == pytest.approx(-1.0, abs=explorer.sliders["z2"].step)
    # the sliders cover every code
    assert explorer.sliders["z1"].min <= z[:, 0].min() and explorer.sliders["z1"].max >= z[:, 0].max()
    assert explorer.sliders["z2"].min <= z[:, 1].min() and explorer.sliders["z2"].max >= z[:, 1].max()
    plt.close(explorer.figure)


def test_code_maps_show_every_channel_on_one_scale():
    rng = np.random.default_rng(0)
    images = rng.random((3, 28, 28, 1))
    codes = rng.random((3, 4, 4, 8)) * 5
    fig = latent.code_maps(images, codes, n=2)
    axes = np.array(fig.axes).reshape(2, 9)
    np.testing.assert_array_equal(axes[1, 0].images[0].get_array(), images[1, :, :, 0])
    np.testing.assert_array_equal(axes[1, 3].images[0].get_array(), codes[1, :, :, 2])
    assert {ax.images[0].get_clim() for ax in axes[:, 1:].flat} == {(0, codes[:2].max())}
    assert latent.code_maps(images.reshape(3, -1), codes, n=1).axes[0].images[0].get_array().shape == (28, 28)
    plt.close("all")
    with pytest.raises(ValueError, match="conv codes"):
        latent.code_maps(images, codes.reshape(3, -1))
