"""Restoring any sequential detector from its stored state."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from detectors.sequential.adwin import ADWIN
from detectors.sequential.base import SequentialDetector
from detectors.sequential.cusum import CUSUM
from detectors.sequential.page_hinkley import PageHinkley

DETECTORS: Mapping[str, type[SequentialDetector]] = {
    cls.KIND: cls for cls in (PageHinkley, CUSUM, ADWIN)
}


def load(state: Mapping[str, Any]) -> SequentialDetector:
    """The detector whose ``to_state()`` gave ``state``, chosen by its "kind" key; its
    "version" is checked by the detector. ValueError naming an unknown kind or a bad key."""
    if not isinstance(state, Mapping):
        raise ValueError(f"a detector state must be an object, got {state!r}")
    kind = state.get("kind")
    cls = DETECTORS.get(kind) if isinstance(kind, str) else None
    if cls is None:
        raise ValueError(
            f"state key 'kind' must name a sequential detector ({', '.join(DETECTORS)}), "
            f"got {kind!r}"
        )
    return cls.from_state(state)
