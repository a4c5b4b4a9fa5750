"""Ways to damage images, for denoising, watermark removal, inpainting and colorization.

Every function returns a new array (the clean images are never modified), keeps
values in [0, 1], and takes a ``seed`` so the damage is the same on every run.
"""

from __future__ import annotations

import numpy as np


def gaussian_noise(images: np.ndarray, std: float = 0.5, seed: int = 0) -> np.ndarray:
    """x~ = clip(x + eps, 0, 1) with eps ~ N(0, std^2), the slides' x~ = x + eps."""
    rng = np.random.default_rng(seed)
    noisy = images + std * rng.standard_normal(images.shape).astype(np.float32)
    return np.clip(noisy, 0.0, 1.0).astype(np.float32)


def watermark_pattern(shape: tuple[int, int], text_rows: int = 3) -> np.ndarray:
    """A fixed diagonal-stripes-and-bars mark in [0, 1] of ``shape`` (H, W)."""
    h, w = shape
    yy, xx = np.mgrid[0:h, 0:w]
    stripes = ((xx + yy) % 7 == 0).astype(np.float32)
    bars = np.zeros(shape, np.float32)
    for r in range(text_rows):
        top = h // 4 + r * (h // (2 * text_rows))
        bars[top : top + 1, w // 5 : w - w // 5] = 1.0
    return np.maximum(stripes, bars)


def add_watermark(images: np.ndarray, opacity: float = 0.5, seed: int = 0) -> np.ndarray:
    """Blend the same mark into every image at a random offset (structured noise)."""
    rng = np.random.default_rng(seed)
    h, w = images.shape[1:3]
    mark = watermark_pattern((h, w))
    out = images.astype(np.float32).copy()
    for i in range(len(out)):
        shifted = np.roll(mark, shift=(rng.integers(-3, 4), rng.integers(-3, 4)), axis=(0, 1))
        m = shifted if out.ndim == 3 else shifted[..., None]
        out[i] = (1 - opacity * m) * out[i] + opacity * m
    return np.clip(out, 0.0, 1.0)


def mask_patches(
    images: np.ndarray, size: int = 8, fill: float = 0.0, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Blank one random ``size`` x ``size`` square per image (for inpainting).

    Returns the masked images and a boolean mask, True where pixels were removed.
    """
    rng = np.random.default_rng(seed)
    h, w = images.shape[1:3]
    out = images.astype(np.float32).copy()
    mask = np.zeros(images.shape[:3], dtype=bool)
    for i in range(len(out)):
        top, left = rng.integers(0, h - size + 1), rng.integers(0, w - size + 1)
        mask[i, top : top + size, left : left + size] = True
    out[mask] = fill
    return out, mask


def to_grayscale(images: np.ndarray) -> np.ndarray:
    """(N, H, W, 3) colour -> (N, H, W, 1) luminance (ITU-R BT.601 weights)."""
    weights = np.array([0.299, 0.587, 0.114], dtype=np.float32)
    return (images[..., :3] @ weights)[..., None].astype(np.float32)
