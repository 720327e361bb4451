"""What the signals of one window read, loaded once per window and only when a signal
of the monitor asks for it: the features (window_data), the outputs and labels
(window_outputs), the references of both, and the baselines.

A signal is a function ``(inputs, version, run) -> alerts`` (monitor/detection/evaluate.py
dispatches them): it sets the run's status, ``error`` (naming model, version and what is
missing), counts and result rows, and returns what alerted, for the run's summary.

The inputs of a segment (``for_segment``) load the segment's rows only, of the window and
of a production reference alike; a baseline is the same for every segment (training data
has no segments), so its caches are shared with the whole traffic's inputs.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from monitor.db.models import DetectorRun, Label, Prediction
from monitor.detection.baseline import BaselineSketches, load_baseline_sketches, load_baselines
from monitor.detection.spec import MonitorSpec
from monitor.detection.window_data import (
    RangeCache,
    Segment,
    Window,
    in_segment,
    load_windows,
    segment_name,
    window_references,
)
from monitor.detection.window_outputs import Outputs, load_outputs, reference_outputs
from monitor.layout import Layout

CLASSIFICATION_TASKS = ("binary_classification", "multiclass_classification")


@dataclass
class SignalInputs:
    session: Session
    monitor: str
    spec: MonitorSpec
    lo: datetime
    hi: datetime
    task: str  # models.task_type
    # Events per version in the window (features pending included), and whether the
    # version's stored sketches of it are current (None: the window is not made of whole
    # hour buckets, so it has no sketches).
    versions: dict[str, tuple[int, bool | None]]
    layouts: dict[str, Layout]
    cache: RangeCache
    # The snapshot taken before the window's data was read (DetectorRun.data_snapshot).
    data_snapshot: str | None = None
    # None: all traffic; else the events whose segment map has key: value.
    segment: Segment | None = None
    _windows: dict[str, Window] | None = None
    _labelled: dict[str, int] | None = None
    _baselines: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    _baseline_sketches: dict[str, dict[str, BaselineSketches]] = field(default_factory=dict)
    _feature_references: tuple[dict[str, Window], str] | None = None
    _outputs: dict[str, Outputs] | None = None
    _reference_outputs: tuple[dict[str, Outputs], str] | None = None

    def for_segment(
        self, segment: Segment, versions: Mapping[str, tuple[int, bool | None]]
    ) -> SignalInputs:
        """The inputs of one segment of the same window: its rows, its versions (events,
        whether its sketches are current), the baselines shared."""
        return replace(
            self,
            segment=segment,
            versions=dict(versions),
            _windows=None,
            _labelled=None,
            _feature_references=None,
            _outputs=None,
            _reference_outputs=None,
        )

    @property
    def segment_name(self) -> str:
        """The runs' ``segment``: '' or ``key=value``."""
        return segment_name(self.segment)

    @property
    def classification(self) -> bool:
        return self.task in CLASSIFICATION_TASKS

    def where(self, version: str) -> str:
        """How an error names the run: the model, the version and the segment."""
        where = f"model={self.spec.model_id!r} model_version={version!r}"
        return where if self.segment is None else f"{where} segment={self.segment_name!r}"

    @property
    def windows(self) -> dict[str, Window]:
        """The window's rows by version, read on first use: a drift check from stored
        sketches never reads them."""
        if self._windows is None:
            self._windows = load_windows(
                self.session, self.spec.model_id, lo=self.lo, hi=self.hi, segment=self.segment
            )
        return self._windows

    def labelled(self, version: str) -> int:
        """The version's events in the window that have a label (the run's n_labelled)."""
        if self._labelled is None:
            query = (
                select(Prediction.model_version, func.count())
                .join(
                    Label,
                    (Label.event_id == Prediction.event_id)
                    & (Label.model_id == Prediction.model_id),
                )
                .where(
                    Prediction.model_id == self.spec.model_id,
                    Prediction.ts >= self.lo,
                    Prediction.ts < self.hi,
                )
                .group_by(Prediction.model_version)
            )
            if self.segment is not None:
                query = query.where(in_segment(self.segment))
            self._labelled = {v: int(n) for v, n in self.session.execute(query)}
        return self._labelled.get(version, 0)

    def baseline_sketches(self, name: str) -> dict[str, BaselineSketches]:
        """The baselines named ``name`` by version, as sketches (no row samples)."""
        if name not in self._baseline_sketches:
            self._baseline_sketches[name] = load_baseline_sketches(
                self.session, self.spec.model_id, name
            )
        return self._baseline_sketches[name]

    def baseline(self, name: str) -> dict[str, dict[str, Any]]:
        """The profiles of the model's baselines named ``name``, by version."""
        if name not in self._baselines:
            self._baselines[name] = load_baselines(self.session, self.spec.model_id, name)
        return self._baselines[name]

    def feature_references(self) -> tuple[dict[str, Window], str]:
        """A production reference's feature rows by version, and its name."""
        if self._feature_references is None:
            self._feature_references = window_references(
                self.session, self.spec, lo=self.lo, cache=self.cache, segment=self.segment
            )
        return self._feature_references

    def outputs(self) -> dict[str, Outputs]:
        """The window's predictions, scores and labels by version."""
        if self._outputs is None:
            self._outputs = load_outputs(
                self.session, self.spec.model_id, lo=self.lo, hi=self.hi, segment=self.segment
            )
        return self._outputs

    def reference_outputs(self) -> tuple[dict[str, Outputs], str]:
        """A production reference's predictions, scores and labels, and its name."""
        if self._reference_outputs is None:
            self._reference_outputs = reference_outputs(
                self.session, self.spec, lo=self.lo, segment=self.segment
            )
        return self._reference_outputs

    def reference_of(self, version: str, run: DetectorRun) -> Outputs | None:
        """The version's reference outputs, or None with the run marked: an error when a
        fixed range has none (it never will), else insufficient data."""
        rows, name = self.reference_outputs()
        ref = rows.get(version)
        if ref is None:
            run.n_reference = 0
            if self.spec.reference == "fixed_window":
                fail(run, f"{self.where(version)}: no events in the {name}")
            else:
                run.status = "insufficient_data"
        return ref


Signal = Callable[[SignalInputs, str, DetectorRun], tuple[str, ...]]


def fail(run: DetectorRun, message: str) -> tuple[str, ...]:
    run.status = "error"
    run.error = message
    return ()
