"""A window's model outputs by version: predictions, scores and labels, as arrays.

The signals that look at what the model said (prediction_drift, performance,
estimated_performance) and at the truth (target_drift) read these; feature signals read
monitor/detection/window_data.py. Labels are joined by event id (``labels.event_id``,
arriving any time later), so a label not in yet is a missing one, never a wrong one.

Classes are compared as text: a label ``1``, a prediction ``1`` and the score key ``"1"``
are one class (events carry JSON scalars; scores are a map of class name: score).
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np
import numpy.typing as npt
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from monitor.db.models import Label, Prediction
from monitor.detection.spec import MonitorSpec
from monitor.detection.window_data import MAX_REFERENCE_ROWS, Segment, in_segment

Floats = npt.NDArray[np.float64]
Objects = npt.NDArray[np.object_]


def class_key(value: Any) -> str | None:
    """A class as text, the way score maps name it: ``1`` and ``1.0`` are ``"1"``,
    ``True`` is ``"true"`` (as in JSON); None (and NaN) is no class."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if math.isnan(value):
            return None
        if value.is_integer():
            return str(int(value))
    return str(value)


def _number(value: Any) -> float:
    if value is None or isinstance(value, bool) or not isinstance(value, int | float):
        return math.nan
    return float(value)


@dataclass
class Outputs:
    """One version's rows: its prediction, its scores (class: score, or None) and its
    label (None until one arrives), in one order."""

    predictions: list[Any] = field(default_factory=list)
    scores: list[dict[str, Any] | None] = field(default_factory=list)
    labels: list[Any] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.predictions)

    @property
    def labelled(self) -> npt.NDArray[np.bool_]:
        return np.array([v is not None for v in self.labels], dtype=bool)

    @property
    def n_labelled(self) -> int:
        return int(self.labelled.sum())

    def prediction_column(self, *, classification: bool) -> Floats | Objects:
        """Predictions as class names (None: missing) or as numbers (NaN: missing)."""
        if classification:
            return np.array([class_key(v) for v in self.predictions], dtype=object)
        return np.array([_number(v) for v in self.predictions], dtype=float)

    def label_column(self, *, classification: bool) -> Floats | Objects:
        """Labels as class names or numbers; None / NaN where none arrived yet."""
        if classification:
            return np.array([class_key(v) for v in self.labels], dtype=object)
        return np.array([_number(v) for v in self.labels], dtype=float)

    def score_classes(self) -> set[str]:
        return {str(k) for s in self.scores if s for k in s}

    def score_matrix(self, classes: list[str]) -> Floats:
        """(rows, classes) scores in ``classes`` order; NaN where a row has none."""
        out = np.full((len(self), len(classes)), np.nan)
        for i, s in enumerate(self.scores):
            if s:
                named = {str(k): v for k, v in s.items()}
                for j, c in enumerate(classes):
                    out[i, j] = _number(named.get(c))
        return out


def class_order(name: str) -> tuple[int, float, str]:
    """Numbers first, in numeric order ("2" before "10"), then text."""
    try:
        number = float(name)
    except ValueError:
        return (1, 0.0, name)
    return (0, number, name) if math.isfinite(number) else (1, 0.0, name)


def classes_of(*sides: Outputs) -> list[str]:
    """The classes seen on any side (labels, predictions, score keys) in class_order;
    the last one is the positive class of a binary task (as in detectors.performance)."""
    names: set[str] = set()
    for side in sides:
        names |= side.score_classes()
        names |= {k for k in map(class_key, side.predictions) if k is not None}
        names |= {k for k in map(class_key, side.labels) if k is not None}
    return sorted(names, key=class_order)


def load_outputs(
    session: Session,
    model_id: str,
    *,
    lo: datetime,
    hi: datetime,
    limit: int | None = None,
    segment: Segment | None = None,
) -> dict[str, Outputs]:
    """The model's predictions in ``[lo, hi)`` (of ``segment``) with their labels, by
    version; with ``limit``, at most that many rows per version, a fixed pseudo-random
    subset (by a hash of the event id, as window_data.load_windows)."""
    query = (
        select(
            Prediction.model_version,
            Prediction.prediction,
            Prediction.scores,
            Label.label,
        )
        .outerjoin(
            Label,
            (Label.event_id == Prediction.event_id) & (Label.model_id == Prediction.model_id),
        )
        .where(Prediction.model_id == model_id, Prediction.ts >= lo, Prediction.ts < hi)
    )
    if segment is not None:
        query = query.where(in_segment(segment))
    if limit is not None:
        ranked = query.add_columns(
            func.row_number()
            .over(partition_by=Prediction.model_version, order_by=func.md5(Prediction.event_id))
            .label("rank")
        ).subquery()
        query = select(
            ranked.c.model_version, ranked.c.prediction, ranked.c.scores, ranked.c.label
        ).where(ranked.c.rank <= limit)
    out: dict[str, Outputs] = defaultdict(Outputs)
    for version, prediction, scores, label in session.execute(query):
        o = out[version]
        o.predictions.append(prediction)
        o.scores.append(scores)
        o.labels.append(label)
    return dict(out)


def reference_outputs(
    session: Session, spec: MonitorSpec, *, lo: datetime, segment: Segment | None = None
) -> tuple[dict[str, Outputs], str]:
    """The outputs of a production reference (the window before, or the fixed range, at
    most MAX_REFERENCE_ROWS rows per version) of ``segment``, by version, and how to name
    it."""
    if spec.reference == "previous_window":
        start, end = lo - spec.window_size, lo
        rows = load_outputs(session, spec.model_id, lo=start, hi=end, segment=segment)
        return rows, "previous window"
    if spec.reference_window is None:
        raise ValueError(f"reference {spec.reference!r} has no predictions or labels")
    start, end = spec.reference_window.start, spec.reference_window.end
    rows = load_outputs(
        session, spec.model_id, lo=start, hi=end, limit=MAX_REFERENCE_ROWS, segment=segment
    )
    return rows, f"reference window [{start.isoformat()}, {end.isoformat()})"
