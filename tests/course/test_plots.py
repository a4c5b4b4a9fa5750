"""Figures are saved to PNG and checked for what they contain."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.image as mpimg  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from course import data, plots  # noqa: E402
from course.runtime import BUDGETS  # noqa: E402


@pytest.fixture(scope="module")
def images():
    return data.load_fashion_mnist(BUDGETS["ci"]).x_test[:12]


def saved(fig, tmp_path, name):
    path = tmp_path / f"{name}.png"
    fig.savefig(path)
    pixels = mpimg.imread(path)
    plt.close(fig)
    return pixels


def test_reconstruction_rows(images, tmp_path):
    fig = plots.show_reconstructions(images, 1 - images, n=10)
    axes = fig.get_axes()
    assert len(axes) == 20
    assert all(len(ax.images) == 1 for ax in axes)
    # top row shows the originals, bottom row the reconstructions, in order
    np.testing.assert_array_equal(axes[0].images[0].get_array(), images[0])
    np.testing.assert_array_equal(axes[10].images[0].get_array(), 1 - images[0])
    assert axes[0].get_ylabel() == "original" and axes[10].get_ylabel() == "decoded"
    pixels = saved(fig, tmp_path, "reconstructions")
    assert pixels.shape[1] > 2 * pixels.shape[0]  # a wide strip, as on the slides
    assert pixels[..., :3].std() > 0.1  # not blank


def test_flat_vectors_are_shown_as_square_images(images):
    fig = plots.show_reconstructions(data.flatten(images), data.flatten(images), n=3)
    assert fig.get_axes()[0].images[0].get_array().shape == (28, 28)
    with pytest.raises(ValueError, match="cannot show"):
        plots.show_reconstructions(np.zeros((2, 10)), np.zeros((2, 10)))
    plt.close("all")


def test_image_grid(images, tmp_path):
    fig = plots.image_grid(images, ncols=5, titles=[str(i) for i in range(12)])
    axes = fig.get_axes()
    assert len(axes) == 15  # 3 rows of 5
    assert sum(len(ax.images) for ax in axes) == 12
    assert axes[11].get_title() == "11" and not axes[12].images
    assert saved(fig, tmp_path, "grid")[..., :3].std() > 0.1


def test_training_curves(tmp_path):
    history = {"loss": [0.5, 0.3, 0.2], "val_loss": [0.55, 0.35, 0.3], "mse": [0.1, 0.05, 0.04]}
    fig = plots.training_curves(history)
    axes = fig.get_axes()
    assert len(axes) == 2  # loss and mse, each with its validation curve if any
    assert [len(ax.lines) for ax in axes] == [2, 1]
    np.testing.assert_array_equal(axes[0].lines[1].get_ydata(), history["val_loss"])
    assert axes[0].get_xlabel() == "epoch" and axes[0].get_ylabel() == "loss"
    assert saved(fig, tmp_path, "curves")[..., :3].std() > 0.05
