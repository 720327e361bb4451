"""Monitor specification (stored as JSON in ``monitors.spec``).

A spec is the resolved form of one monitor: ``driftwarden monitors apply`` builds it from a
monitors.yaml (monitor/detection/monitors_file.py) and ``kind: Monitor`` documents give it
directly. Every field is honoured by the detect worker (monitor/detection/runner.py); a
value it cannot honour yet is refused here rather than stored and ignored. Specs stored
before a field existed still validate: every field added since has a default that means
what the worker did before it.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any, Literal, Self, get_args

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)

import detectors
from monitor.durations import duration_seconds

# What the worker computes: docs/monitors.md says what each signal compares.
Signal = Literal[
    "data_drift",
    "skew",
    "prediction_drift",
    "target_drift",
    "data_quality",
    "performance",
    "estimated_performance",
]
SIGNALS: tuple[str, ...] = get_args(Signal)
Reference = Literal["baseline", "previous_window", "fixed_window"]
# Signals compared with production rows (predictions, scores, labels): a baseline holds
# the features of the training data only, so these need reference previous_window or
# fixed_window.
PRODUCTION_SIGNALS = ("prediction_drift", "target_drift", "estimated_performance")
# Signals that read the baseline named ``baseline`` whatever the reference is.
BASELINE_SIGNALS = ("skew", "data_quality")

# Segment keys at most this long: a run's segment ``key=value`` is stored in 200 characters.
SEGMENT_KEY_MAX = 100

# Performance metrics by task (the names of detectors.performance) and their direction.
CLASSIFICATION_METRICS = (
    "accuracy",
    "precision",
    "recall",
    "f1",
    "precision_macro",
    "recall_macro",
    "f1_macro",
    "precision_weighted",
    "recall_weighted",
    "f1_weighted",
    "roc_auc",
    "pr_auc",
    "log_loss",
    "brier",
    "ece",
)
BINARY_ONLY_METRICS = ("precision", "recall", "f1")
REGRESSION_METRICS = (
    "mae",
    "rmse",
    "mape",
    "r2",
    "abs_error_p50",
    "abs_error_p90",
    "abs_error_p95",
    "abs_error_p99",
)
LOWER_IS_BETTER = frozenset(
    {"log_loss", "brier", "ece", "mae", "rmse", "mape"}
    | {m for m in REGRESSION_METRICS if m.startswith("abs_error_")}
)
# What CBPE (detectors.estimation) estimates, binary classifiers only.
ESTIMATED_METRICS = ("accuracy", "precision", "recall", "f1", "roc_auc")
# The metrics of a monitor that lists none, by task (models.task_type).
DEFAULT_METRICS = {
    "binary_classification": ("accuracy", "f1"),
    "multiclass_classification": ("accuracy", "f1_macro"),
    "regression": ("mae", "rmse"),
}
# A production reference's value may worsen by this share before performance alerts.
DEFAULT_MAX_DROP = 0.05


def parse_duration(value: str, *, allow_zero: bool = False) -> timedelta:
    """``"90s"``, ``"15m"``, ``"1h"``, ``"1d"``, ``"1w"`` -> timedelta."""
    seconds = duration_seconds(value)
    if seconds is None or (seconds == 0 and not allow_zero):
        raise ValueError(f"{value!r} is not a duration like 15m, 1h or 1d")
    return timedelta(seconds=seconds)


class DriftPolicy(BaseModel):
    """How a feature's statistic becomes a verdict; see docs/detectors.md."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    alpha: float = Field(default=0.05, gt=0, lt=1)
    min_effect: float | None = Field(default=None, ge=0)
    min_missing_change: float = Field(default=0.01, ge=0, le=1)
    correction: Literal["bonferroni", "bh", "none"] = "bonferroni"
    share_threshold: float = Field(default=0.5, gt=0, le=1)


class QualitySettings(BaseModel):
    """When a data_quality check fails (detectors.quality.QualityThresholds, whose
    defaults these are): rates and changes are shares 0..1, all comparisons strict."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    missing_change: float = Field(default=0.05, ge=0, le=1)
    inf_change: float = Field(default=0.01, ge=0, le=1)
    type_error_rate: float = Field(default=0.0, ge=0, le=1)
    out_of_range_rate: float = Field(default=0.01, ge=0, le=1)
    unseen_rate: float = Field(default=0.01, ge=0, le=1)
    constant: bool = True


class PerformanceSettings(BaseModel):
    """Which metrics ``performance`` (and ``estimated_performance``) report and when
    they alert: below ``min`` (higher-is-better metrics), above ``max`` (error metrics
    like mae), or worse than the reference's value by more than ``max_drop`` of it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    # None: DEFAULT_METRICS of the model's task.
    metrics: list[str] | None = None
    min: dict[str, float] = Field(default_factory=dict)
    max: dict[str, float] = Field(default_factory=dict)
    # A relative worsening (0.05: 5% of the reference's value), so one number serves
    # accuracy and a regression's mae alike. None: no comparison with the reference.
    max_drop: float | None = Field(default=None, gt=0)

    @field_validator("metrics")
    @classmethod
    def _known_metrics(cls, value: list[str] | None) -> list[str] | None:
        if value is not None:
            if not value:
                raise ValueError("[] names no metric (leave metrics out for the task's)")
            for i, name in enumerate(value):
                if problem := _unknown_metric(name):
                    raise ValueError(f"[{i}]: {problem}")
                if name in value[:i]:
                    raise ValueError(f"[{i}]: {name!r} is listed twice")
        return value

    @model_validator(mode="after")
    def _bounds(self) -> Self:
        for side, bounds in (("min", self.min), ("max", self.max)):
            for name in bounds:
                if problem := _unknown_metric(name):
                    raise ValueError(f"{side}.{name}: {problem}")
                if (name in LOWER_IS_BETTER) != (side == "max"):
                    better, other = ("lower", "max") if side == "min" else ("higher", "min")
                    raise ValueError(
                        f"{side}.{name}: {name} is {better}-is-better: bound it with {other}"
                    )
        return self

    def metrics_for(self, task: str) -> tuple[str, ...]:
        """The metrics reported for a model of ``task`` (models.task_type)."""
        if self.metrics is not None:
            return tuple(self.metrics)
        return DEFAULT_METRICS.get(task, ())

    def unsupported(self, task: str) -> list[str]:
        """The metrics (listed, or bounded) that a model of ``task`` has not."""
        if task == "regression":
            known: tuple[str, ...] = REGRESSION_METRICS
        elif task == "binary_classification":
            known = CLASSIFICATION_METRICS
        else:
            known = tuple(m for m in CLASSIFICATION_METRICS if m not in BINARY_ONLY_METRICS)
        named = [*(self.metrics or ()), *self.min, *self.max]
        return [m for i, m in enumerate(named) if m not in known and m not in named[:i]]


def _unknown_metric(name: str) -> str | None:
    if name in CLASSIFICATION_METRICS or name in REGRESSION_METRICS:
        return None
    known = ", ".join((*CLASSIFICATION_METRICS, *REGRESSION_METRICS))
    return f"{name!r} is not a performance metric (known: {known})"


class Schedule(BaseModel):
    """When the worker evaluates a monitor's closed windows: at the epoch-aligned ticks
    of ``every`` (plus the monitor's ``delay``), several windows at a time if ``every``
    is longer than the window."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    every: str

    @field_validator("every")
    @classmethod
    def _every(cls, value: str) -> str:
        parse_duration(value)
        return value

    @property
    def every_size(self) -> timedelta:
        return parse_duration(self.every)


class TimeRange(BaseModel):
    """``[start, end)``, both with a time zone."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    start: AwareDatetime
    end: AwareDatetime

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if self.end <= self.start:
            raise ValueError(
                f"end={self.end.isoformat()} is not after start={self.start.isoformat()}"
            )
        return self


def _default_signals() -> list[Signal]:
    return ["data_drift"]


class MonitorSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    model_id: str = Field(min_length=1)
    signals: list[Signal] = Field(default_factory=_default_signals, min_length=1)
    # None: every feature of the version's schema.
    features: list[str] | None = None
    window: str = "1h"
    # Sliding windows: a window of ``window`` ends every ``step``. None: tumbling windows
    # (the step is the window).
    step: str | None = None
    # Allowed lateness: a window is checked once it has been closed this long.
    delay: str = "5m"
    # Windows with fewer rows are recorded as insufficient_data, not tested.
    min_rows: int = Field(default=100, ge=1)
    # Labelled rows that performance and target_drift need in a window (and in the
    # reference, to compare with it), and estimated_performance in its reference.
    min_labels: int = Field(default=100, ge=1)
    # What each window is compared with: the version's baseline named ``baseline``, the
    # window of the same size just before it, or the version's events in a fixed range.
    # skew and data_quality read the baseline ``baseline`` whatever the reference.
    reference: Reference = "baseline"
    baseline: str = Field(default="training", min_length=1)
    reference_window: TimeRange | None = None
    methods: dict[str, str] = Field(default_factory=dict)
    policy: DriftPolicy = DriftPolicy()
    # None: every pass of the worker looks for closed windows.
    schedule: Schedule | None = None
    performance: PerformanceSettings = PerformanceSettings()
    data_quality: QualitySettings = QualitySettings()
    # Segment keys (of the events' ``segment`` map): besides the whole traffic, every
    # signal runs per value of each key (monitor/detection/window_segments.py).
    segments: list[str] = Field(default_factory=list)

    @model_validator(mode="before")
    @classmethod
    def _stored_forms(cls, data: Any) -> Any:
        """Specs stored with one ``signal`` (before ``signals``) still load; and
        performance's ``max_drop`` defaults to DEFAULT_MAX_DROP with a production
        reference (a baseline has no labels to compare with)."""
        if not isinstance(data, dict):
            return data
        data = dict(data)
        if "signal" in data:
            if "signals" in data:
                raise ValueError("give signals (a list), not both signal and signals")
            data["signals"] = [data.pop("signal")]
        signals = data.get("signals") or ["data_drift"]
        if "performance" in signals or "estimated_performance" in signals:
            perf = data.get("performance")
            if isinstance(perf, PerformanceSettings):
                perf = perf.model_dump(exclude_unset=True)
            perf = dict(perf or {})
            if "max_drop" not in perf and data.get("reference", "baseline") != "baseline":
                perf["max_drop"] = DEFAULT_MAX_DROP
            data["performance"] = perf
        return data

    @field_validator("signals")
    @classmethod
    def _unique_signals(cls, value: list[Signal]) -> list[Signal]:
        for i, name in enumerate(value):
            if name in value[:i]:
                raise ValueError(f"signals: {name!r} is listed twice")
        return value

    @field_validator("window", "step")
    @classmethod
    def _window(cls, value: str | None) -> str | None:
        if value is not None:
            parse_duration(value)
        return value

    @field_validator("delay")
    @classmethod
    def _delay(cls, value: str) -> str:
        parse_duration(value, allow_zero=True)
        return value

    @field_validator("features")
    @classmethod
    def _unique_features(cls, value: list[str] | None) -> list[str] | None:
        if value is not None:
            seen: set[str] = set()
            for name in value:
                if name in seen:
                    raise ValueError(f"{name!r} is listed twice")
                seen.add(name)
        return value

    @field_validator("segments")
    @classmethod
    def _segment_keys(cls, value: list[str]) -> list[str]:
        for i, key in enumerate(value):
            if problem := segment_key_problem(key):
                raise ValueError(f"[{i}]: {problem}")
            if key in value[:i]:
                raise ValueError(f"[{i}]: {key!r} is listed twice")
        return value

    @field_validator("methods")
    @classmethod
    def _known_methods(cls, value: dict[str, str]) -> dict[str, str]:
        known = detectors.available()
        for feature, method in value.items():
            if method != "auto" and method not in known:
                raise ValueError(
                    f"methods.{feature}={method!r} is not a known test; known: {', '.join(known)}"
                )
        return value

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.step is not None and self.step_size > self.window_size:
            raise ValueError(
                f"step={self.step!r} is longer than window={self.window!r}: "
                "events between two windows would never be checked"
            )
        if (self.reference == "fixed_window") != (self.reference_window is not None):
            raise ValueError(
                "reference_window is required with reference='fixed_window' and "
                f"meaningless otherwise (reference={self.reference!r})"
            )
        # A stored spec carries every field, so only a non-default name is a contradiction.
        reads_baseline = any(s in BASELINE_SIGNALS for s in self.signals)
        if self.reference != "baseline" and self.baseline != "training" and not reads_baseline:
            raise ValueError(
                f"baseline={self.baseline!r} is only used with reference='baseline' or the "
                f"signals {' and '.join(BASELINE_SIGNALS)} (reference={self.reference!r})"
            )
        if problems := signal_problems(
            self.signals,
            reference=self.reference,
            baseline=self.baseline,
            performance=self.performance,
        ):
            key, message = problems[0]
            raise ValueError(f"{key}: {message}")
        return self

    @property
    def window_size(self) -> timedelta:
        return parse_duration(self.window)

    @property
    def step_size(self) -> timedelta:
        """How far apart consecutive windows end (the window itself when tumbling)."""
        return parse_duration(self.step) if self.step is not None else self.window_size

    @property
    def delay_size(self) -> timedelta:
        return parse_duration(self.delay, allow_zero=True)


def segment_key_problem(key: object) -> str | None:
    """Why ``key`` cannot be a segment key (None: it can). Runs name a segment
    ``key=value`` in 200 characters, so a key has no ``=`` and leaves room for a value."""
    if not isinstance(key, str) or not key.strip():
        return f"{key!r} is not a segment key (a name in the events' segment map)"
    if "=" in key:
        return f"{key!r} contains '=': runs name a segment key=value"
    if len(key) > SEGMENT_KEY_MAX:
        return f"{key[:20]!r}... is longer than {SEGMENT_KEY_MAX} characters"
    return None


def signal_problems(
    signals: list[Signal],
    *,
    reference: Reference,
    baseline: str,
    performance: PerformanceSettings,
) -> list[tuple[str, str]]:
    """Why signals of a spec could never be computed: a reference they cannot have,
    nothing to alert on. ``(key, message)`` pairs; the key is where the problem is
    written (``signals[1]``, ``performance.max_drop``), the message names the value."""
    out = []
    baseline_ref = reference == "baseline"
    for i, name in enumerate(signals):
        if name in PRODUCTION_SIGNALS and baseline_ref:
            out.append(
                (
                    f"signals[{i}]",
                    f"{name!r} needs a production reference (previous_window or "
                    f"{{from, to}}), but the reference is the baseline {baseline!r}: a "
                    "baseline holds features only, no predictions or labels",
                )
            )
    if "performance" in signals and baseline_ref:
        if performance.max_drop is not None:
            out.append(
                (
                    "performance.max_drop",
                    f"{performance.max_drop!r} compares with the reference's value, but the "
                    f"reference is the baseline {baseline!r}, which has no labels: use "
                    "min/max, or a production reference (previous_window or {from, to})",
                )
            )
        elif not performance.min and not performance.max:
            out.append(
                (
                    "performance",
                    "nothing to alert on: with the baseline reference "
                    f"{baseline!r}, give performance.min and/or performance.max (max_drop "
                    "needs a production reference: previous_window or {from, to})",
                )
            )
    metrics = performance.metrics
    estimated = "estimated_performance" in signals and metrics is not None
    if estimated and not any(m in ESTIMATED_METRICS for m in metrics or ()):
        out.append(
            (
                "performance.metrics",
                f"{metrics!r} has none of the metrics estimated_performance estimates "
                f"({', '.join(ESTIMATED_METRICS)})",
            )
        )
    return out
