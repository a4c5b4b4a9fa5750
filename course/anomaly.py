"""Anomaly detection by reconstruction error: a threshold L chosen on validation data.

An image whose reconstruction error exceeds L is flagged as an anomaly. L is a
quantile of the errors of *normal validation* images, never of the test set.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def threshold_from_validation(val_errors: np.ndarray, quantile: float = 0.99) -> float:
    """L such that a fraction ``quantile`` of normal validation images lie below it."""
    if not 0.0 < quantile < 1.0:
        raise ValueError(f"quantile must be between 0 and 1, got {quantile}")
    return float(np.quantile(val_errors, quantile))


@dataclass(frozen=True)
class Detection:
    """Counts of a detector on images labelled normal (0) or anomalous (1)."""

    tp: int
    fp: int
    tn: int
    fn: int

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 0.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 0.0

    @property
    def false_positive_rate(self) -> float:
        return self.fp / (self.fp + self.tn) if self.fp + self.tn else 0.0

    def confusion_matrix(self) -> np.ndarray:
        """[[tn, fp], [fn, tp]]: rows are the truth (normal, anomaly), columns the verdict."""
        return np.array([[self.tn, self.fp], [self.fn, self.tp]])


def detect(errors: np.ndarray, is_anomaly: np.ndarray, threshold: float) -> Detection:
    """Flag ``errors > threshold`` and count the outcomes against ``is_anomaly``."""
    flagged = np.asarray(errors) > threshold
    truth = np.asarray(is_anomaly).astype(bool)
    return Detection(
        tp=int(np.sum(flagged & truth)), fp=int(np.sum(flagged & ~truth)),
        tn=int(np.sum(~flagged & ~truth)), fn=int(np.sum(~flagged & truth)),
    )


def roc_curve(errors: np.ndarray, is_anomaly: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """False-positive rates, true-positive rates over all thresholds, and the area under them."""
    from sklearn.metrics import roc_auc_score
    from sklearn.metrics import roc_curve as sk_roc

    fpr, tpr, _ = sk_roc(is_anomaly, errors)
    return fpr, tpr, float(roc_auc_score(is_anomaly, errors))
