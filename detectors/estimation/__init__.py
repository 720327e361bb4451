"""Label-free performance estimation of binary classifiers: confidence-based performance
estimation (CBPE), fitted on a labelled reference, applied to unlabelled windows."""

from __future__ import annotations

from detectors.estimation.cbpe import CBPE
from detectors.estimation.metrics import METRICS, ExpectedConfusion, PerformanceMetrics
from detectors.estimation.result import EstimationResult, MetricEstimate

__all__ = [
    "CBPE",
    "METRICS",
    "EstimationResult",
    "ExpectedConfusion",
    "MetricEstimate",
    "PerformanceMetrics",
]
