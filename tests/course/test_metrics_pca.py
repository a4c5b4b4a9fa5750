"""Numbers the lectures rely on: metrics and PCA against scikit-learn."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.decomposition import PCA as SkPCA

from course import data, metrics
from course.pca import fit_pca


def test_compression_factor_of_the_slides():
    assert metrics.compression_factor(784, 32) == 24.5
    with pytest.raises(ValueError):
        metrics.compression_factor(784, 0)


def test_reconstruction_errors_per_image():
    x = np.zeros((2, 28, 28))
    x_hat = np.zeros((2, 28, 28))
    x_hat[1] = 0.5
    np.testing.assert_allclose(metrics.reconstruction_errors(x, x_hat), [0.0, 0.25])
    with pytest.raises(ValueError, match="shape"):
        metrics.reconstruction_errors(x, x_hat[:, :10])


def test_psnr_and_bce():
    x = np.full((4, 10), 0.5)
    assert metrics.psnr(x, x + 0.1) == pytest.approx(20.0)  # MSE 0.01 -> 20 dB
    assert metrics.psnr(x, x) == float("inf")
    assert metrics.binary_crossentropy(x, x) == pytest.approx(np.log(2))


def test_pca_matches_scikit_learn_on_digits():
    x = data.flatten(data.load_digits().x_train).astype(np.float64)
    ours = fit_pca(x, k=10)
    theirs = SkPCA(n_components=10, svd_solver="full").fit(x)
    np.testing.assert_allclose(ours.V.T @ ours.V, np.eye(10), atol=1e-10)
    # same subspace: reconstructions agree to numerical precision
    np.testing.assert_allclose(ours.decode(ours.encode(x)),
                               theirs.inverse_transform(theirs.transform(x)), atol=1e-8)
    assert ours.explained_variance_ratio() == pytest.approx(
        theirs.explained_variance_ratio_.sum(), rel=1e-9)
    # reconstruction error falls as k grows
    errs = [metrics.reconstruction_errors(x, fit_pca(x, k).decode(fit_pca(x, k).encode(x))).mean()
            for k in (2, 8, 32)]
    assert errs[0] > errs[1] > errs[2]
