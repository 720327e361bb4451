"""Multivariate drift: all columns of a window at once, with the columns that drive it.

- :func:`mmd_drift`: maximum mean discrepancy (Gaussian kernel, permutation p-value) on a
  bounded subsample;
- :func:`classifier_drift`: cross-validated ROC AUC of a gradient-boosting classifier
  telling current rows from reference rows;
- :func:`reconstruction_drift` / :func:`fit_reconstruction`: PCA reconstruction error
  against the reference's range (sees a correlation break that no single column shows).

All three encode the columns with one encoder fitted on the reference
(:func:`fit_encoder`) and report contributions per original column, largest first.
"""

from __future__ import annotations

from detectors.multivariate.classifier import classifier_drift
from detectors.multivariate.encoding import Encoder, fit_encoder
from detectors.multivariate.mmd import mmd_drift
from detectors.multivariate.pca import Reconstruction, fit_reconstruction, reconstruction_drift
from detectors.multivariate.types import (
    ClassifierDrift,
    Contribution,
    MMDDrift,
    ReconstructionDrift,
)

__all__ = [
    "ClassifierDrift",
    "Contribution",
    "Encoder",
    "MMDDrift",
    "Reconstruction",
    "ReconstructionDrift",
    "classifier_drift",
    "fit_encoder",
    "fit_reconstruction",
    "mmd_drift",
    "reconstruction_drift",
]
