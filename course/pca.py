"""PCA as a linear encoder, exactly as on the slides.

From the covariance S (n x n) of the data keep the k eigenvectors with the
largest eigenvalues as the columns of V (n x k). Then the code of x is
``c = V^T (x - mean)`` and its decoding is ``x_hat = mean + V c``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class PCA:
    mean: np.ndarray  # (n,)
    V: np.ndarray  # (n, k), orthonormal columns
    eigenvalues: np.ndarray  # (n,), all of them, largest first

    @property
    def k(self) -> int:
        return self.V.shape[1]

    def encode(self, x: np.ndarray) -> np.ndarray:
        """c = V^T (x - mean), one row per example."""
        return (x - self.mean) @ self.V

    def decode(self, c: np.ndarray) -> np.ndarray:
        """x_hat = mean + V c."""
        return self.mean + c @ self.V.T

    def explained_variance_ratio(self) -> float:
        return float(self.eigenvalues[: self.k].sum() / self.eigenvalues.sum())


def fit_pca(x: np.ndarray, k: int) -> PCA:
    """Fit PCA on rows of ``x`` (N, n) with the covariance's top-``k`` eigenvectors."""
    x = np.asarray(x, dtype=np.float64)
    if not 1 <= k <= x.shape[1]:
        raise ValueError(f"k must be between 1 and {x.shape[1]}, got {k}")
    mean = x.mean(axis=0)
    cov = np.cov(x - mean, rowvar=False)
    eigenvalues, eigenvectors = np.linalg.eigh(cov)  # ascending order
    order = np.argsort(eigenvalues)[::-1]
    return PCA(mean, eigenvectors[:, order[:k]], np.clip(eigenvalues[order], 0, None))
