"""High-dimensional geometry of lecture 02: the ball in the cube, distances, crowding.

* :func:`ball_fraction_exact` and :func:`ball_fraction_monte_carlo` -- the share of the
  cube ``[-1, 1]^d`` that lies inside the unit ball;
* :func:`distance_contrast` -- how far apart the farthest and the nearest pairs are;
* :func:`regular_simplex`, :func:`distance_ratios`, :func:`same_nearest_neighbour` --
  equidistant points, and what a projection does to distances and neighbours;
* :func:`components_for_variance` -- how many PCA components keep a share of the variance.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.spatial.distance import pdist, squareform


def ball_fraction_exact(d: int) -> float:
    """Volume of the unit d-ball over that of the cube [-1, 1]^d: pi^(d/2) / Gamma(d/2 + 1) / 2^d."""
    if d < 1:
        raise ValueError(f"d must be a positive integer, got {d}")
    return math.exp(d / 2 * math.log(math.pi) - math.lgamma(d / 2 + 1) - d * math.log(2))


def ball_fraction_monte_carlo(
    d: int, n: int, rng: np.random.Generator, chunk: int = 100_000
) -> tuple[float, float, int]:
    """Draw ``n`` points uniformly in [-1, 1]^d; return (fraction inside the unit ball,
    its standard error, the number of hits)."""
    if d < 1 or n < 1:
        raise ValueError("d and n must be positive")
    hits = 0
    for start in range(0, n, chunk):
        points = rng.uniform(-1.0, 1.0, size=(min(chunk, n - start), d))
        hits += int(np.count_nonzero((points**2).sum(axis=1) <= 1.0))
    p = hits / n
    return p, math.sqrt(p * (1 - p) / n), hits


def distance_contrast(points: np.ndarray) -> float:
    """(max - min) / min of all pairwise Euclidean distances between the rows of ``points``."""
    distances = pdist(np.asarray(points, dtype=np.float64))
    return float((distances.max() - distances.min()) / distances.min())


def regular_simplex(k: int) -> np.ndarray:
    """k + 1 equidistant points (all pairwise distances sqrt(2)): the unit vectors of R^(k+1).

    They span a k-dimensional affine subspace, so k is their intrinsic dimension.
    """
    if k < 1:
        raise ValueError(f"k must be positive, got {k}")
    return np.eye(k + 1)


def distance_ratios(high: np.ndarray, low: np.ndarray) -> np.ndarray:
    """For every pair of rows, distance after a projection (``low``) over distance before (``high``)."""
    if len(high) != len(low):
        raise ValueError(f"{len(high)} points before but {len(low)} after")
    return pdist(np.asarray(low, dtype=np.float64)) / pdist(np.asarray(high, dtype=np.float64))


def same_nearest_neighbour(high: np.ndarray, low: np.ndarray) -> float:
    """Share of rows whose nearest other row is the same before (``high``) and after (``low``)."""
    if len(high) != len(low):
        raise ValueError(f"{len(high)} points before but {len(low)} after")
    nearest = []
    for points in (high, low):
        distances = squareform(pdist(np.asarray(points, dtype=np.float64)))
        np.fill_diagonal(distances, np.inf)
        nearest.append(distances.argmin(axis=1))
    return float(np.mean(nearest[0] == nearest[1]))


def components_for_variance(eigenvalues: np.ndarray, fraction: float) -> int:
    """Smallest k whose top-k eigenvalues (sorted largest first) hold ``fraction`` of their sum."""
    if not 0 < fraction <= 1:
        raise ValueError(f"fraction must be in (0, 1], got {fraction}")
    cumulative = np.cumsum(eigenvalues) / np.sum(eigenvalues)
    return int(min(np.searchsorted(cumulative, fraction - 1e-12) + 1, len(eigenvalues)))
