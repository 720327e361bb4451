"""Result rows -> samples, the values alert rules are evaluated on (live and backtest).

One sample per result row. Its labels are the row's (model, version, signal, metric,
and segment and feature when set); its fields are the row's numbers plus, from the same
run, each run-level row's metric -> value (``drift_share``, ``label_coverage``, ...), so
a condition can say ``drop > 0.05 and label_coverage >= 0.2`` on a performance metric.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any

from monitor.alerting.sample import Sample
from monitor.db.models import Result
from monitor.detection.spec import LOWER_IS_BETTER

PERFORMANCE_SIGNALS = frozenset({"performance", "estimated_performance"})
TOP_FEATURES = 5


def _drop(row: Result) -> float | None:
    """How much worse than its reference a performance metric is (positive = worse)."""
    if row.signal not in PERFORMANCE_SIGNALS or row.effect_size is None:
        return None
    return row.effect_size if row.metric in LOWER_IS_BETTER else -row.effect_size


def _top_features(rows: Iterable[Result]) -> list[dict[str, Any]]:
    """The run's alerting feature rows, largest effect first: the evidence a run-level
    alert (drift share, failed checks) shows."""
    alerting = [r for r in rows if r.feature and r.alert]
    alerting.sort(key=lambda r: -(abs(r.effect_size) if r.effect_size is not None else 0.0))
    return [
        {
            "feature": r.feature,
            "metric": r.metric,
            "value": r.value,
            "p_value": r.p_value,
            "threshold": r.threshold,
        }
        for r in alerting[:TOP_FEATURES]
    ]


def _sample(row: Result, run_level: dict[str, float | None], top: list[dict[str, Any]]) -> Sample:
    labels = {
        "model": row.model_id,
        "version": row.model_version,
        "signal": row.signal,
        "metric": row.metric,
    }
    if row.segment:
        labels["segment"] = row.segment
    if row.feature:
        labels["feature"] = row.feature
    own: dict[str, float | None] = {
        "value": row.value,
        "p_value": row.p_value,
        "effect_size": row.effect_size,
        "threshold": row.threshold,
        "lower": row.lower,
        "upper": row.upper,
        "alert": 1.0 if row.alert else 0.0,
        "n_current": None if row.n_current is None else float(row.n_current),
        "n_reference": None if row.n_reference is None else float(row.n_reference),
        "drop": _drop(row),
    }
    start, end = row.window_start.isoformat(), row.window_end.isoformat()
    evidence: dict[str, Any] = {
        k: own[k] for k in ("value", "threshold", "p_value", "effect_size", "lower", "upper")
    }
    evidence |= {"window_start": start, "window_end": end, "n_current": row.n_current}
    if not row.feature and top:
        evidence["top_features"] = top
    return Sample(
        labels=labels,
        # A row's own numbers win over a run-level metric of the same name.
        fields={**run_level, **own},
        at=row.window_end,
        window_start=row.window_start,
        run_id=row.run_id,
        evidence=evidence,
    )


def samples_of(rows: Sequence[Result]) -> list[Sample]:
    """The samples of ``rows`` (whole runs: every row of a run must be in ``rows``),
    ordered by window end, then run and row."""
    by_run: dict[int, list[Result]] = defaultdict(list)
    for row in rows:
        by_run[row.run_id].append(row)
    out: list[tuple[Any, int, int, Sample]] = []
    for run_id, run_rows in by_run.items():
        run_level = {r.metric: r.value for r in run_rows if not r.feature}
        top = _top_features(run_rows)
        for row in run_rows:
            out.append((row.window_end, run_id, row.id, _sample(row, run_level, top)))
    out.sort(key=lambda t: t[:3])
    return [s for *_, s in out]
