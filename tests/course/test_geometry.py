"""Lecture 02's geometry: the ball in the cube, distance contrast, simplex, PCA variance."""

from __future__ import annotations

import math

import numpy as np
import pytest

from course import geometry


def test_exact_ball_fraction_of_the_slides():
    assert geometry.ball_fraction_exact(1) == pytest.approx(1.0)
    assert geometry.ball_fraction_exact(2) == pytest.approx(math.pi / 4)
    assert geometry.ball_fraction_exact(3) == pytest.approx(math.pi / 6)
    assert geometry.ball_fraction_exact(10) == pytest.approx(math.pi**5 / 120 / 1024)
    assert geometry.ball_fraction_exact(10) == pytest.approx(0.00249, abs=1e-5)
    with pytest.raises(ValueError):
        geometry.ball_fraction_exact(0)


@pytest.mark.parametrize("d", [2, 3, 5, 8])
def test_monte_carlo_within_three_standard_errors(d):
    p, se, hits = geometry.ball_fraction_monte_carlo(d, 50_000, np.random.default_rng(d), chunk=7_000)
    assert hits == round(p * 50_000)
    assert 0 < se < 0.01
    assert abs(p - geometry.ball_fraction_exact(d)) < 3 * se


def test_monte_carlo_is_seeded():
    first = geometry.ball_fraction_monte_carlo(4, 1_000, np.random.default_rng(0))
    assert first == geometry.ball_fraction_monte_carlo(4, 1_000, np.random.default_rng(0))


def test_distance_contrast():
    square = np.array([[0, 0], [1, 0], [0, 1], [1, 1]])
    assert geometry.distance_contrast(square) == pytest.approx(math.sqrt(2) - 1)
    rng = np.random.default_rng(0)
    low, high = (geometry.distance_contrast(rng.uniform(size=(100, d))) for d in (2, 500))
    assert low > 10 * high  # distances concentrate as d grows


def test_simplex_is_equidistant_and_projection_ratios():
    points = geometry.regular_simplex(10)
    assert points.shape == (11, 11)
    assert geometry.distance_contrast(points) == pytest.approx(0.0, abs=1e-12)
    np.testing.assert_allclose(geometry.distance_ratios(points, points), 1.0)
    halved = geometry.distance_ratios(points, points / 2)
    np.testing.assert_allclose(halved, 0.5)
    with pytest.raises(ValueError):
        geometry.distance_ratios(points, points[:3])


def test_same_nearest_neighbour():
    line = np.array([[0.0, 0.0], [1.0, 0.0], [3.0, 0.0], [7.0, 0.0]])
    assert geometry.same_nearest_neighbour(line, line[:, :1]) == 1.0
    # keeping only y brings point 3 next to point 0, whose neighbour was point 1
    moved = np.array([[0.0, 0.0], [1.0, 5.0], [3.0, 9.0], [7.0, 0.1]])
    assert geometry.same_nearest_neighbour(moved, moved[:, 1:]) == 0.75
    with pytest.raises(ValueError):
        geometry.same_nearest_neighbour(line, line[:2])


def test_components_for_variance():
    eigenvalues = np.array([5.0, 3.0, 1.0, 1.0])
    assert geometry.components_for_variance(eigenvalues, 0.5) == 1
    assert geometry.components_for_variance(eigenvalues, 0.8) == 2
    assert geometry.components_for_variance(eigenvalues, 0.81) == 3
    assert geometry.components_for_variance(eigenvalues, 1.0) == 4
    with pytest.raises(ValueError):
        geometry.components_for_variance(eigenvalues, 0.0)
