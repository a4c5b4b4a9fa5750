"""Numbers the lectures compute: reconstruction error, PSNR, compression factor."""

from __future__ import annotations

import numpy as np


def compression_factor(input_dim: int, code_size: int) -> float:
    """How many input floats each code float stands for: 784 / 32 = 24.5."""
    if input_dim <= 0 or code_size <= 0:
        raise ValueError("input_dim and code_size must be positive")
    return input_dim / code_size


def reconstruction_errors(x: np.ndarray, x_hat: np.ndarray) -> np.ndarray:
    """Mean squared error of each image: one number per row, ``mean((x - x_hat)**2)``."""
    x = np.asarray(x, dtype=np.float64)
    x_hat = np.asarray(x_hat, dtype=np.float64)
    if x.shape != x_hat.shape:
        raise ValueError(f"x has shape {x.shape} but x_hat has shape {x_hat.shape}")
    return ((x - x_hat) ** 2).reshape(len(x), -1).mean(axis=1)


def binary_crossentropy(x: np.ndarray, x_hat: np.ndarray, eps: float = 1e-7) -> float:
    """Mean per-pixel binary cross-entropy, the loss Keras reports for these models."""
    x = np.asarray(x, dtype=np.float64)
    p = np.clip(np.asarray(x_hat, dtype=np.float64), eps, 1 - eps)
    return float(-(x * np.log(p) + (1 - x) * np.log(1 - p)).mean())


def psnr(x: np.ndarray, x_hat: np.ndarray, data_range: float = 1.0) -> float:
    """Peak signal-to-noise ratio in dB over all pixels: ``10 log10(range^2 / MSE)``."""
    mse = float(reconstruction_errors(x, x_hat).mean())
    return float("inf") if mse == 0 else 10.0 * np.log10(data_range**2 / mse)
