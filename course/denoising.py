"""Denoising autoencoders at work: a noise-level explorer, and colour patches for colorization.

* :func:`noise_level_explorer` -- a slider that re-noises test images at the chosen
  standard deviation and shows noisy over denoised images with their PSNR.
* :func:`colour_image`, :func:`patches`, :func:`colourise` -- scikit-image's bundled
  colour photographs, cut into small patches for (grey, colour) training pairs, and a
  whole held-out photograph coloured patch by patch.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from matplotlib.figure import Figure

from . import corruptions, metrics, widgets

Denoise = Callable[[np.ndarray], np.ndarray]

# scikit-image's colour photographs that ship inside the package (no download).
# ``cat`` is the same photograph as ``chelsea``: never use both.
BUNDLED_COLOUR_IMAGES = (
    "astronaut", "chelsea", "coffee", "rocket", "immunohistochemistry", "hubble_deep_field",
)


def noise_level_explorer(
    denoise: Denoise, clean: np.ndarray, std: float = 0.5, max_std: float = 1.0, seed: int = 0
) -> widgets.SliderFigure:
    """A slider for the noise's standard deviation; the figure shows ``clean`` images
    noised at that level (top) and ``denoise``'s output (bottom), with their PSNR."""

    def draw(fig: Figure, std: float) -> None:
        noisy = corruptions.gaussian_noise(clean, std=std, seed=seed)
        restored = np.asarray(denoise(noisy)).reshape(clean.shape)
        rows = (("noisy", noisy, metrics.psnr(clean, noisy)),
                ("denoised", restored, metrics.psnr(clean, restored)))
        axes = fig.subplots(2, len(clean), squeeze=False)
        for r, (label, images, _) in enumerate(rows):
            for i, image in enumerate(images):
                axes[r, i].imshow(np.squeeze(image), cmap="gray", vmin=0, vmax=1)
                axes[r, i].set_xticks([])
                axes[r, i].set_yticks([])
            axes[r, 0].set_ylabel(label)
        fig.suptitle(f"noise std {std:.2f}: noisy {rows[0][2]:.1f} dB, "
                     f"denoised {rows[1][2]:.1f} dB (PSNR)")

    sliders = {"std": widgets.slider("noise std", 0.0, max_std, std, step=0.05)}
    explorer = widgets.SliderFigure(draw, sliders, figsize=(1.3 * len(clean), 3.0))
    return explorer


def colour_image(name: str, downscale: int = 2) -> np.ndarray:
    """One of scikit-image's bundled photographs as float32 RGB in [0, 1], shrunk by
    averaging ``downscale`` x ``downscale`` blocks (more scene per patch)."""
    import skimage.data

    if name not in BUNDLED_COLOUR_IMAGES:
        raise ValueError(f"{name!r} is not one of {', '.join(BUNDLED_COLOUR_IMAGES)}")
    image = getattr(skimage.data, name)()[..., :3].astype(np.float32) / 255.0
    h, w = (s - s % downscale for s in image.shape[:2])
    blocks = image[:h, :w].reshape(h // downscale, downscale, w // downscale, downscale, 3)
    return blocks.mean(axis=(1, 3))


def patches(image: np.ndarray, size: int = 32, stride: int | None = None) -> np.ndarray:
    """All ``size`` x ``size`` patches of an (H, W, C) image, ``stride`` pixels apart
    (default: ``size``, tiles that do not overlap), in row-major order."""
    stride = stride or size
    h, w = image.shape[:2]
    return np.stack([image[top : top + size, left : left + size]
                     for top in range(0, h - size + 1, stride)
                     for left in range(0, w - size + 1, stride)])


def colourise(predict: Denoise, image: np.ndarray, size: int = 32) -> tuple[np.ndarray, np.ndarray]:
    """Colour a photograph from its grey version, tile by tile.

    Returns ``(grey, coloured)``: the photograph cropped to whole tiles, as grey
    (H, W, 1) and as ``predict``'s RGB output stitched back together (H, W, 3).
    """
    rows, cols = image.shape[0] // size, image.shape[1] // size
    crop = image[: rows * size, : cols * size]
    grey = corruptions.to_grayscale(crop[None])[0]
    tiles = np.asarray(predict(patches(grey, size)))
    coloured = tiles.reshape(rows, cols, size, size, 3).transpose(0, 2, 1, 3, 4)
    return grey, coloured.reshape(rows * size, cols * size, 3)


def keep_luminance(rgb: np.ndarray, grey: np.ndarray) -> np.ndarray:
    """Shift each pixel of ``rgb`` so that its luminance equals the known ``grey`` input:
    the network then only contributes the colour."""
    shift = grey - corruptions.to_grayscale(rgb)
    return np.clip(rgb + shift, 0.0, 1.0).astype(np.float32)


def colour_error(x: np.ndarray, x_hat: np.ndarray) -> float:
    """Mean squared error of the colour alone: each image minus its own grey version.

    A grey image replicated to three channels has no colour, so its colour error is
    the original's whole colour energy.
    """
    def chroma(rgb: np.ndarray) -> np.ndarray:
        rgb = np.asarray(rgb, dtype=np.float32)
        return rgb - corruptions.to_grayscale(rgb)

    return float(np.mean((chroma(x) - chroma(x_hat)) ** 2))

