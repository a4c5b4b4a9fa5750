"""Figures for anomaly detection: error histograms with the threshold, the confusion
matrix, and a slider that moves the threshold.

The slider sets the *quantile* of the normal validation errors, and the threshold L is
that quantile (:func:`course.anomaly.threshold_from_validation`): the test set is only
looked at to count the outcomes, never to choose L.
"""

from __future__ import annotations

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from . import anomaly, widgets


def error_histogram(ax: Axes, errors: np.ndarray, is_anomaly: np.ndarray, threshold: float,
                    labels: tuple[str, str] = ("normal", "anomaly")) -> None:
    """Histograms of the errors of normal and anomalous images (log-spaced bins),
    with a vertical line at ``threshold``."""
    errors = np.asarray(errors)
    truth = np.asarray(is_anomaly).astype(bool)
    bins = np.geomspace(max(errors.min(), 1e-6), errors.max(), 50)
    ax.hist(errors[~truth], bins=bins, alpha=0.6, label=labels[0])
    ax.hist(errors[truth], bins=bins, alpha=0.6, label=labels[1])
    ax.axvline(threshold, color="k", ls="--", label=f"L = {threshold:.4f}")
    ax.set_xscale("log")
    ax.set_xlabel("reconstruction error (MSE)")
    ax.set_ylabel("images")
    ax.legend(fontsize=8)


def confusion_matrix_plot(ax: Axes, detection: anomaly.Detection,
                          labels: tuple[str, str] = ("normal", "anomaly")) -> None:
    """The 2x2 confusion matrix (rows: truth, columns: verdict) with its counts written in."""
    matrix = detection.confusion_matrix()
    ax.imshow(matrix, cmap="Blues", vmin=0, vmax=max(int(matrix.max()), 1))
    for (r, c), count in np.ndenumerate(matrix):
        colour = "white" if count > matrix.max() / 2 else "black"
        ax.text(c, r, f"{count:,}", ha="center", va="center", color=colour, fontsize=11)
    ax.set_xticks([0, 1], [f"called {labels[0]}", f"called {labels[1]}"])
    ax.set_yticks([0, 1], [f"is {labels[0]}", f"is {labels[1]}"])
    ax.set_title(f"precision {detection.precision:.2f}, recall {detection.recall:.2f}", fontsize=10)


def threshold_explorer(val_errors: np.ndarray, test_errors: np.ndarray, is_anomaly: np.ndarray,
                       quantile: float = 0.95,
                       labels: tuple[str, str] = ("normal", "anomaly")) -> widgets.SliderFigure:
    """A slider for the quantile of normal *validation* errors that sets L; the figure shows
    the test errors' histogram with L and the test confusion matrix at L."""

    def draw(fig: Figure, quantile: float) -> None:
        threshold = anomaly.threshold_from_validation(val_errors, quantile)
        detection = anomaly.detect(test_errors, is_anomaly, threshold)
        left, right = fig.subplots(1, 2, width_ratios=(1.6, 1))
        error_histogram(left, test_errors, is_anomaly, threshold, labels)
        left.set_title(f"test images; L = validation quantile {quantile:.3f}", fontsize=10)
        confusion_matrix_plot(right, detection, labels)
        fig.tight_layout()

    sliders = {"quantile": widgets.slider("quantile", 0.5, 0.999, quantile, step=0.001)}
    sliders["quantile"].readout_format = ".3f"
    explorer = widgets.SliderFigure(draw, sliders, figsize=(10, 3.6))
    return explorer

