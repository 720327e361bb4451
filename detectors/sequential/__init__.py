"""Sequential drift detectors for metric streams (one value per window: an error rate, a
missing rate, a mean): Page-Hinkley, CUSUM and ADWIN, each fed one value at a time, each
with a JSON state that a restarted worker loads to continue exactly where it stopped."""

from __future__ import annotations

from detectors.sequential.adwin import ADWIN
from detectors.sequential.base import JSON, Detection, SequentialDetector
from detectors.sequential.cusum import CUSUM
from detectors.sequential.page_hinkley import PageHinkley
from detectors.sequential.state import DETECTORS, load

__all__ = [
    "ADWIN",
    "CUSUM",
    "DETECTORS",
    "JSON",
    "Detection",
    "PageHinkley",
    "SequentialDetector",
    "load",
]
