"""data_quality: a window's feature columns against the data-quality profile of the
version's baseline (``profile["quality"]``, detectors.quality), whatever the monitor's
reference is (a production window has no profile).

Rows per feature and check: ``metric`` the check (missing_rate, inf_rate,
type_error_rate, out_of_range_rate, unseen_rate, constant, absent), ``value`` the
window's rate (constant, absent: 1 or 0), ``effect_size`` its change from the baseline's
rate where the check compares with it, ``threshold`` the limit used, ``alert`` the check's
verdict; and one run-level ``failed_checks`` row (the number of failed checks).
"""

from __future__ import annotations

from detectors.quality import ColumnQuality, QualityProfile, QualityThresholds, data_quality
from detectors.quality import check as checks
from monitor.db.models import DetectorRun, Result
from monitor.detection.results import result_row
from monitor.detection.signal_inputs import SignalInputs, fail
from monitor.detection.spec import QualitySettings
from monitor.layout import Layout

FAILED_CHECKS = "failed_checks"


def thresholds(settings: QualitySettings) -> QualityThresholds:
    return QualityThresholds(**settings.model_dump())


def _rows(run: DetectorRun, c: ColumnQuality, limits: QualityThresholds) -> list[Result]:
    failed = set(c.issues)
    common = {"feature": c.column, "kind": c.kind, "n_current": c.n}
    rows = []
    if not c.present:
        # An absent column is all missing: its other checks would only repeat it.
        return [result_row(run, metric="absent", value=1.0, alert=True, **common)]
    rates = [
        ("missing_rate", c.missing, limits.missing_change, checks.MISSING_RATE, True),
        ("inf_rate", c.inf, limits.inf_change, checks.INF_RATE, True),
        ("type_error_rate", c.type_errors, limits.type_error_rate, checks.TYPE_ERRORS, False),
        (
            "out_of_range_rate",
            c.out_of_range,
            limits.out_of_range_rate,
            checks.OUT_OF_RANGE,
            False,
        ),
        ("unseen_rate", c.unseen, limits.unseen_rate, checks.UNSEEN_CATEGORIES, False),
    ]
    for metric, rate, limit, check, changes in rates:
        if rate is None:
            continue  # not a check of this kind of column
        rows.append(
            result_row(
                run,
                metric=metric,
                value=rate.rate,
                # Checks of a change from the baseline: the change is what was judged.
                effect_size=rate.change if changes else None,
                threshold=limit,
                alert=check in failed,
                **common,
            )
        )
    if limits.constant:
        rows.append(
            result_row(
                run,
                metric="constant",
                value=float(c.constant),
                alert=checks.CONSTANT in failed,
                **common,
            )
        )
    return rows


def run_data_quality(inputs: SignalInputs, version: str, run: DetectorRun) -> tuple[str, ...]:
    spec = inputs.spec
    window = inputs.windows.get(version)
    run.n_current = len(window.num) if window is not None else 0
    profile = inputs.baseline(spec.baseline).get(version)
    if profile is None:
        return fail(run, f"{inputs.where(version)}: no baseline named {spec.baseline!r}")
    if "quality" not in profile:
        return fail(
            run,
            f"{inputs.where(version)}: baseline {spec.baseline!r} has no data-quality "
            "profile (it predates them): create it again with driftwarden baseline create",
        )
    run.n_reference = int(profile.get("n_rows", profile.get("sample_size", 0)))
    full = QualityProfile.from_dict(profile["quality"])
    wanted = spec.features if spec.features is not None else list(full.names)
    columns = tuple(c for c in full.columns if c.column in wanted)
    if not columns:
        return fail(
            run,
            f"{inputs.where(version)}: baseline {spec.baseline!r} profiles none of the "
            f"monitored features ({', '.join(wanted) or 'none'})",
        )
    if window is None or run.n_current < spec.min_rows:
        run.status = "insufficient_data"
        return ()
    layout = inputs.layouts.get(version, Layout((), ()))
    current = {n: a for n, a in window.columns(layout).items() if n in wanted}
    limits = thresholds(spec.data_quality)
    result = data_quality(QualityProfile(columns), current, thresholds=limits)
    rows: list[Result] = []
    for c in result.columns:
        rows += _rows(run, c, limits)
    failed = [f"{c.column}:{issue}" for c in result.columns for issue in c.issues]
    rows.append(
        result_row(
            run,
            metric=FAILED_CHECKS,
            value=float(len(failed)),
            threshold=0.0,
            alert=bool(failed),
            n_reference=run.n_reference,
            n_current=run.n_current,
        )
    )
    run.status = "ok"
    run.dataset_drift = bool(failed)
    run.results = rows
    return tuple(failed)
