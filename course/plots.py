"""Figures in the slides' style: originals over reconstructions, grids, curves."""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure


def _as_image(v: np.ndarray, shape: tuple[int, int] | None) -> np.ndarray:
    v = np.asarray(v)
    if v.ndim == 1:
        side = int(round(np.sqrt(v.size)))
        shape = shape or (side, side)
        if shape[0] * shape[1] != v.size:
            raise ValueError(f"cannot show a vector of {v.size} values as a {shape} image")
        return v.reshape(shape)
    return v.squeeze(-1) if v.ndim == 3 and v.shape[-1] == 1 else v


def show_reconstructions(
    originals: np.ndarray,
    reconstructions: np.ndarray,
    n: int = 10,
    shape: tuple[int, int] | None = None,
    title: str = "top: original, bottom: reconstruction",
) -> Figure:
    """Two rows as in the slides: ``n`` originals above their reconstructions."""
    n = min(n, len(originals))
    fig, axes = plt.subplots(2, n, figsize=(1.2 * n, 2.6), squeeze=False)
    for i in range(n):
        for row, images in enumerate((originals, reconstructions)):
            ax = axes[row, i]
            ax.imshow(_as_image(images[i], shape), cmap="gray", vmin=0, vmax=1)
            ax.set_xticks([])
            ax.set_yticks([])
    axes[0, 0].set_ylabel("original")
    axes[1, 0].set_ylabel("decoded")
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def image_grid(
    images: np.ndarray,
    ncols: int = 8,
    titles: Sequence[str] | None = None,
    shape: tuple[int, int] | None = None,
    cmap: str = "gray",
) -> Figure:
    """Images in a grid, ``ncols`` per row, with optional titles."""
    n = len(images)
    nrows = int(np.ceil(n / ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(1.3 * ncols, 1.4 * nrows), squeeze=False)
    for i, ax in enumerate(axes.flat):
        ax.axis("off")
        if i < n:
            image = _as_image(images[i], shape)
            ax.imshow(image, cmap=None if image.ndim == 3 else cmap)
            if titles is not None:
                ax.set_title(titles[i], fontsize=8)
    fig.tight_layout()
    return fig


def training_curves(history: dict[str, list[float]], title: str = "training") -> Figure:
    """Loss (and any metric) per epoch, training next to validation.

    ``history`` is ``model.fit(...).history``.
    """
    metrics = [k for k in history if not k.startswith("val_")]
    fig, axes = plt.subplots(1, len(metrics), figsize=(4.2 * len(metrics), 3), squeeze=False)
    for ax, name in zip(axes[0], metrics, strict=True):
        epochs = np.arange(1, len(history[name]) + 1)
        ax.plot(epochs, history[name], "o-", label="train")
        if f"val_{name}" in history:
            ax.plot(epochs, history[f"val_{name}"], "s--", label="validation")
        ax.set_xlabel("epoch")
        ax.set_ylabel(name)
        ax.legend()
    fig.suptitle(title)
    fig.tight_layout()
    return fig
