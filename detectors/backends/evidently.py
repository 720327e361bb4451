"""Evidently 0.7's ``DataDriftPreset``, run on our inputs and read into a DriftResult.

This runs Evidently itself: it is the oracle of ``detect_drift(..., policy="evidently")``
and a way to compare with Evidently on a user's own data. The columns become a pandas
DataFrame (an object column of numbers and None becomes float, as pandas itself would
make it), Evidently infers the column types from the current frame and picks each
column's test; the per-column verdict is read from the report's tests
(``include_tests=True``), the dataset verdict from ``DriftedColumnsCount``.

Evidently reports one score per column: the p-value of a test, or the distance. So a
p-value test's ``statistic`` and ``effect_size`` are NaN here, and a distance's
``p_value`` is None. ``min_effect`` is 0: Evidently has no effect-size floor.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping
from typing import Any

import numpy as np

from detectors.backends import BackendUnavailableError
from detectors.columns import looks_numerical
from detectors.types import ColumnData, ColumnDrift, DriftResult, Kind

# Evidently's registry names where ours differ (same test, our name).
_OUR_NAMES = {"ed": "energy", "es": "epps_singleton", "TVD": "tvd"}


def _frame(columns: Mapping[str, ColumnData]) -> Any:
    import pandas as pd  # noqa: PLC0415  (optional dependency)

    data = {}
    for name, values in columns.items():
        arr = np.asarray(values)
        if arr.dtype == object and looks_numerical(arr):
            arr = arr.astype(np.float64)  # what pd.Series([1, None]) would hold
        data[name] = arr
    return pd.DataFrame(data)


def detect_drift(
    reference: Mapping[str, ColumnData],
    current: Mapping[str, ColumnData],
    *,
    drift_share: float = 0.5,
) -> DriftResult:
    """Run Evidently's DataDriftPreset on the two samples (same columns on both sides)."""
    # Evidently and its dependencies warn about their own use of deprecated numpy and
    # pandas APIs: nothing our callers can act on.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", FutureWarning)
        return _run(reference, current, drift_share)


def _run(
    reference: Mapping[str, ColumnData], current: Mapping[str, ColumnData], drift_share: float
) -> DriftResult:
    try:
        from evidently import Report  # noqa: PLC0415
        from evidently.legacy.calculations.stattests.registry import (  # noqa: PLC0415
            _registered_stat_tests,
        )
        from evidently.presets import DataDriftPreset  # noqa: PLC0415
    except ImportError:
        raise BackendUnavailableError("evidently", "evidently") from None

    # ValueDrift records the test's display name ("K-S p_value"); map it to the name.
    names = {
        st.display_name: _OUR_NAMES.get(name, name)
        for name, by_type in _registered_stat_tests.items()
        for st in by_type.values()
    }
    ref_frame, cur_frame = _frame(reference), _frame(current)
    snapshot = Report([DataDriftPreset(drift_share=drift_share)], include_tests=True).run(
        cur_frame, ref_frame
    )
    kinds: dict[str, Kind] = {}
    definition = snapshot.context.data_definition
    for col in definition.get_numerical_columns():
        kinds[col] = "numerical"
    for col in (*definition.get_categorical_columns(), *definition.get_text_columns()):
        kinds[col] = "categorical"

    columns: list[ColumnDrift] = []
    share = 0.0
    for result in snapshot.metric_results.values():
        params = result.metric_value_location.metric.params
        kind_of_metric = params["type"]
        if kind_of_metric == "evidently:metric_v2:ValueDrift":
            col = params["column"]
            method = names.get(params["method"], params["method"])
            score = float(result.value)
            drift_tests = [t for t in result.tests if t.id == "drift"]
            is_distance = method in _DISTANCES
            columns.append(
                ColumnDrift(
                    column=col,
                    kind=kinds.get(col, "categorical"),
                    method=method,
                    statistic=score if is_distance else math.nan,
                    p_value=None if is_distance else score,
                    effect_size=score if is_distance else math.nan,
                    threshold=float(params["threshold"]),
                    min_effect=0.0,
                    n_reference=len(ref_frame[col]),
                    n_current=len(cur_frame[col]),
                    drifted=bool(drift_tests and drift_tests[0].status.value == "FAIL"),
                )
            )
        elif kind_of_metric == "evidently:metric_v2:DriftedColumnsCount":
            share = float(result.share.value)
    return DriftResult(
        columns=tuple(columns),
        drift_share=share,
        dataset_drift=share >= drift_share,
        share_threshold=drift_share,
    )


# Evidently's distances: the score is the statistic, there is no p-value.
_DISTANCES = frozenset({"wasserstein", "psi", "kl_div", "jensenshannon", "hellinger", "energy"})
