"""Model performance on labelled rows: classification and regression metrics, each with a
confidence interval and the number of labelled rows it rests on."""

from __future__ import annotations

from detectors.performance.classification import classification_performance
from detectors.performance.regression import regression_performance
from detectors.performance.types import ConfusionMatrix, MetricValue, PerformanceResult

__all__ = [
    "ConfusionMatrix",
    "MetricValue",
    "PerformanceResult",
    "classification_performance",
    "regression_performance",
]
