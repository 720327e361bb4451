"""Pure drift statistics: arrays in, frozen dataclasses out. No I/O."""

from __future__ import annotations

from detectors import stattests as _stattests  # noqa: F401  (registers the built-in tests)
from detectors.calibrate import calibrate_min_effect
from detectors.registry import UnknownStatTestError, available, stattest
from detectors.sketch_drift import detect_drift_sketches
from detectors.types import ColumnData, ColumnDrift, DriftResult, MissingRate, StatResult
from detectors.univariate import detect_drift

__all__ = [
    "ColumnData",
    "ColumnDrift",
    "DriftResult",
    "MissingRate",
    "StatResult",
    "UnknownStatTestError",
    "available",
    "calibrate_min_effect",
    "detect_drift",
    "detect_drift_sketches",
    "stattest",
]
