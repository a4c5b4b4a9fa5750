"""Looking at codes: the conv code's feature maps (lecture 08) and the 2-D latent space of
lecture 09 (scatter of codes, decoding any point, walks, the slider explorer).

``latent_explorer`` returns a :class:`~course.widgets.SliderFigure` with sliders ``z1`` and
``z2``: its left panel is the scatter of the codes with a marker at ``(z1, z2)``, its right
panel the image the decoder makes from that point.
"""

from __future__ import annotations

from collections.abc import Sequence

import keras
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from .widgets import SliderFigure, slider

MARKER = "z"  # label of the marker's Line2D in the explorer's scatter


def decode(decoder: keras.Model, z: np.ndarray, image_shape: tuple[int, int] = (28, 28)) -> np.ndarray:
    """Images decoded from codes ``z`` (shape (n, d) or (d,)), as (n, H, W) arrays."""
    z = np.atleast_2d(np.asarray(z, dtype=np.float32))
    out = keras.ops.convert_to_numpy(decoder(z, training=False))
    return out.reshape(len(z), *image_shape)


def interpolate(z_a: np.ndarray, z_b: np.ndarray, steps: int) -> np.ndarray:
    """``steps`` points on the straight line from ``z_a`` to ``z_b``, both ends included."""
    if steps < 2:
        raise ValueError("a walk needs at least 2 steps (its two ends)")
    t = np.linspace(0.0, 1.0, steps)[:, None]
    z_a, z_b = np.asarray(z_a, dtype=np.float64), np.asarray(z_b, dtype=np.float64)
    return (1 - t) * z_a + t * z_b


def class_centroids(codes: np.ndarray, labels: np.ndarray, n_classes: int) -> np.ndarray:
    """Mean code of each class: shape (n_classes, d)."""
    return np.stack([codes[labels == k].mean(axis=0) for k in range(n_classes)])


def emptiest_point(codes: np.ndarray, grid: int = 60, quantile: float = 0.05) -> np.ndarray:
    """The point of a grid over the codes' central box that lies farthest from every code.

    The box spans the ``quantile`` to ``1 - quantile`` range of each axis, so the point is
    inside the cloud of codes, in a hole, rather than out in the empty margin.
    """
    low, high = np.quantile(codes, [quantile, 1 - quantile], axis=0)
    axes = [np.linspace(lo, hi, grid) for lo, hi in zip(low, high, strict=True)]
    points = np.stack(np.meshgrid(*axes), axis=-1).reshape(-1, codes.shape[1])
    nearest = np.full(len(points), np.inf)
    for chunk in np.array_split(codes, max(1, len(codes) // 2000)):
        d = ((points[:, None, :] - chunk[None, :, :]) ** 2).sum(-1).min(axis=1)
        nearest = np.minimum(nearest, d)
    return points[np.argmax(nearest)]


def code_maps(images: np.ndarray, codes: np.ndarray, n: int = 4) -> Figure:
    """Each of ``n`` images next to its conv code (h, w, c) drawn as ``c`` small maps.

    All maps share one grey scale (0 = black), so bright cells are large code values.
    """
    if codes.ndim != 4:
        raise ValueError(f"expected conv codes of shape (n, h, w, c), got {codes.shape}")
    n = min(n, len(images))
    channels = codes.shape[-1]
    top = float(codes[:n].max()) or 1.0
    fig, axes = plt.subplots(n, channels + 1, figsize=(1.1 * (channels + 1), 1.2 * n), squeeze=False)
    for i in range(n):
        image = np.asarray(images[i]).squeeze()
        if image.ndim == 1:  # a flat vector: a square image
            side = int(round(np.sqrt(image.size)))
            image = image.reshape(side, side)
        axes[i, 0].imshow(image, cmap="gray", vmin=0, vmax=1)
        for j in range(channels):
            axes[i, j + 1].imshow(codes[i, :, :, j], cmap="gray", vmin=0, vmax=top)
            if i == 0:
                axes[i, j + 1].set_title(f"ch {j}", fontsize=8)
    axes[0, 0].set_title("image", fontsize=8)
    for ax in axes.flat:
        ax.set_xticks([])
        ax.set_yticks([])
    fig.tight_layout()
    return fig


def draw_scatter(ax: Axes, codes: np.ndarray, labels: np.ndarray, class_names: Sequence[str],
                 legend: bool = True) -> None:
    """Codes as dots coloured by class (the labels only colour the plot)."""
    cmap = plt.get_cmap("tab10")
    for k, name in enumerate(class_names):
        pts = codes[labels == k]
        ax.scatter(pts[:, 0], pts[:, 1], s=3, alpha=0.5, color=cmap(k % 10), label=name)
    ax.set_xlabel("$z_1$")
    ax.set_ylabel("$z_2$")
    if legend:
        ax.legend(markerscale=4, fontsize=7, loc="best", framealpha=0.8)


def latent_scatter(codes: np.ndarray, labels: np.ndarray, class_names: Sequence[str],
                   title: str = "2-D codes, coloured by class") -> Figure:
    """The slides' picture: one dot per image at its code ``(z1, z2)``, colour = class."""
    if codes.ndim != 2 or codes.shape[1] != 2:
        raise ValueError(f"expected codes of shape (n, 2), got {codes.shape}")
    fig, ax = plt.subplots(figsize=(6, 5))
    draw_scatter(ax, codes, labels, class_names)
    ax.set_title(title)
    fig.tight_layout()
    return fig


def latent_explorer(decoder: keras.Model, codes: np.ndarray, labels: np.ndarray,
                    class_names: Sequence[str], image_shape: tuple[int, int] = (28, 28),
                    start: Sequence[float] | None = None, max_points: int = 3000) -> SliderFigure:
    """Sliders ``z1`` and ``z2`` that move a marker over the scatter and decode that point.

    The sliders span the codes' range with a 10% margin; ``start`` defaults to the codes' median.
    """
    keep = np.random.default_rng(0).permutation(len(codes))[:max_points]
    shown, shown_labels = codes[keep], labels[keep]
    low, high = codes.min(axis=0), codes.max(axis=0)
    margin = 0.1 * (high - low)
    low, high = low - margin, high + margin
    start = np.median(codes, axis=0) if start is None else np.asarray(start, dtype=float)
    step = float((high - low).max() / 200)
    sliders = {name: slider(name, float(low[i]), float(high[i]), float(start[i]), step=step)
               for i, name in enumerate(("z1", "z2"))}

    def draw(fig: Figure, z1: float, z2: float) -> None:
        ax_codes, ax_image = fig.subplots(1, 2, gridspec_kw={"width_ratios": [1.4, 1]})
        draw_scatter(ax_codes, shown, shown_labels, class_names, legend=False)
        ax_codes.plot([z1], [z2], marker="X", markersize=14, color="black",
                      markeredgecolor="white", linestyle="none", label=MARKER)
        ax_codes.set_xlim(low[0], high[0])
        ax_codes.set_ylim(low[1], high[1])
        ax_codes.set_title("codes (colour = class)")
        ax_image.imshow(decode(decoder, [z1, z2], image_shape)[0], cmap="gray", vmin=0, vmax=1)
        ax_image.set_title(f"decoder(({z1:.2f}, {z2:.2f}))")
        ax_image.axis("off")
        fig.tight_layout()

    return SliderFigure(draw, sliders, figsize=(8, 3.6))


def explorer_state(explorer: SliderFigure) -> tuple[np.ndarray, np.ndarray]:
    """The explorer's marker position and decoded image, as drawn now."""
    ax_codes, ax_image = explorer.figure.axes
    marker = next(line for line in ax_codes.lines if line.get_label() == MARKER)
    position = np.array([marker.get_xdata()[0], marker.get_ydata()[0]], dtype=float)
    return position, np.asarray(ax_image.images[0].get_array())
