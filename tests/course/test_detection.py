"""The threshold explorer of lecture 11: the slider moves L and the counts follow."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from course import anomaly, detection  # noqa: E402


@pytest.fixture
def errors():
    rng = np.random.default_rng(0)
    val = rng.lognormal(-4, 0.3, 500)
    test = np.concatenate([rng.lognormal(-4, 0.3, 300), rng.lognormal(-3, 0.4, 200)])
    return val, test, np.r_[np.zeros(300), np.ones(200)]


def test_threshold_slider_moves_line_and_confusion_matrix(errors):
    val, test, is_anomaly = errors
    w = detection.threshold_explorer(val, test, is_anomaly, quantile=0.6)
    assert w.figure not in [plt.figure(n) for n in plt.get_fignums()]  # not shown twice inline
    hist, matrix = w.figure.axes
    line_before = hist.lines[0].get_xdata()[0]
    counts_before = np.asarray(matrix.images[0].get_array()).copy()
    assert line_before == pytest.approx(anomaly.threshold_from_validation(val, 0.6))
    expected = anomaly.detect(test, is_anomaly, line_before).confusion_matrix()
    np.testing.assert_array_equal(counts_before, expected)

    w.sliders["quantile"].value = 0.99
    hist, matrix = w.figure.axes  # redrawn, not stacked
    line_after = hist.lines[0].get_xdata()[0]
    counts_after = np.asarray(matrix.images[0].get_array())
    assert line_after > line_before
    assert counts_after[0, 1] < counts_before[0, 1]  # fewer false alarms
    assert counts_after.sum() == len(test)
    texts = sorted(int(t.get_text().replace(",", "")) for t in matrix.texts)
    assert texts == sorted(counts_after.ravel().tolist())
    plt.close("all")


def test_threshold_never_depends_on_the_test_set(errors):
    val, test, is_anomaly = errors
    a = detection.threshold_explorer(val, test, is_anomaly, quantile=0.9)
    b = detection.threshold_explorer(val, test * 10, is_anomaly, quantile=0.9)
    assert a.figure.axes[0].lines[0].get_xdata()[0] == b.figure.axes[0].lines[0].get_xdata()[0]
    plt.close("all")


def test_static_plots(errors):
    val, test, is_anomaly = errors
    fig, (left, right) = plt.subplots(1, 2)
    detection.error_histogram(left, test, is_anomaly, 0.03, labels=("shoe", "other"))
    assert sorted(left.get_legend_handles_labels()[1]) == ["L = 0.0300", "other", "shoe"]
    d = anomaly.detect(test, is_anomaly, 0.03)
    detection.confusion_matrix_plot(right, d)
    assert right.get_title().startswith(f"precision {d.precision:.2f}")
    plt.close(fig)
