"""Self-checks for the labs, one module per lab (``course.checks.lab01`` ... ``lab05``).

A lab's test cell calls ``checks.check_...(your_function, ...)``: it prints ``OK: ...`` when
your answer is right, or raises ``AssertionError`` with what is wrong and what to change.
Your grade uses the same checks, with other sizes and inputs (the hidden tests).

Each check calls only your function under test; whatever else it needs (a fitted PCA, a
model to train, noisy data) comes from the course library, so a mistake in one exercise
never costs points in another. How a check is built (ask, then judge) is in
:mod:`course.checks.answers`.
"""

from __future__ import annotations

from .answers import Check, expect, passed, quiet_stderr
from .lab01 import (
    ball_fraction,
    check_explained_variance_ratio,
    check_fit_pca,
    check_fraction_in_ball_exact,
    check_fraction_in_ball_mc,
    check_pca_encode_decode,
    check_pca_error_by_k,
    pca_test_data,
)
from .lab02 import (
    check_compression_factor,
    check_dense_autoencoder,
    check_fraction_inactive,
    check_reconstruction_errors,
    check_sparse_autoencoder,
)
from .lab03 import (
    check_conv_autoencoder,
    check_deep_autoencoder,
    check_param_counts,
    check_training,
    conv_params,
    slides_conv_params,
)
from .lab04 import check_denoiser_training, check_gaussian_noise, check_mask_patches, check_watermark
from .lab05 import (
    anomaly_test_data,
    check_anomaly_scores,
    check_latent_2d_autoencoder,
    check_latent_walk,
    check_precision_recall,
    check_threshold_from_validation,
)
from .models import dense_chain_params

CHECKS: dict[str, Check] = {
    c.name: c
    for c in (
        check_fraction_in_ball_mc,
        check_fraction_in_ball_exact,
        check_fit_pca,
        check_pca_encode_decode,
        check_explained_variance_ratio,
        check_pca_error_by_k,
        check_dense_autoencoder,
        check_reconstruction_errors,
        check_compression_factor,
        check_sparse_autoencoder,
        check_fraction_inactive,
        check_deep_autoencoder,
        check_conv_autoencoder,
        check_param_counts,
        check_training,
        check_gaussian_noise,
        check_watermark,
        check_mask_patches,
        check_denoiser_training,
        check_latent_2d_autoencoder,
        check_latent_walk,
        check_anomaly_scores,
        check_threshold_from_validation,
        check_precision_recall,
    )
}

__all__ = [
    "CHECKS",
    "Check",
    "anomaly_test_data",
    "ball_fraction",
    "conv_params",
    "dense_chain_params",
    "expect",
    "passed",
    "pca_test_data",
    "quiet_stderr",
    "slides_conv_params",
    *CHECKS,
]
