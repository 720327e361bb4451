"""monitors.yaml: parsing, inheritance, and the message of every kind of mistake
(no database: monitor/detection/monitors_file.py is pure)."""

from __future__ import annotations

import textwrap
from datetime import UTC, datetime
from pathlib import Path

import pytest
from factories import LEGACY_SPEC
from pydantic import ValidationError

import detectors
from monitor.detection.monitors_file import (
    MonitorsFileError,
    load_monitors_file,
    parse_monitors,
)
from monitor.detection.spec import (
    DriftPolicy,
    MonitorSpec,
    PerformanceSettings,
    QualitySettings,
    Schedule,
    TimeRange,
)

ROOT = Path(__file__).parents[2]
KNOWN_TESTS = ", ".join(["auto", *detectors.available()])
SETTINGS = (
    "enabled, features, signals, window, delay, min_rows, min_labels, reference, baseline, "
    "methods, policy, performance, data_quality, schedule, segments"
)


def parse(text: str) -> dict[str, MonitorSpec]:
    parsed = parse_monitors(textwrap.dedent(text))
    return {m.name: m.spec for m in parsed.monitors}


def problems(text: str) -> list[str]:
    with pytest.raises(MonitorsFileError) as err:
        parse_monitors(textwrap.dedent(text))
    assert str(err.value).splitlines() == [f"monitors.yaml: {p}" for p in err.value.problems]
    return list(err.value.problems)


FAMILY_FILE = """
    version: 1
    defaults:
      window: 1h
      delay: 5m
      min_rows: 100
      reference: training
      signals: [data_drift]
      features: [amount, country]
      policy: {alpha: 0.05, correction: bonferroni}
      methods: {country: chisquare}
      schedule: {every: 5m}
    families:
      payments:
        window: {size: 6h, every: 1h}
        methods: {amount: wasserstein}
        policy: {min_effect: 0.1}
        reference: {baseline: payments-2025}
    monitors:
      - name: fraud-detector-drift
        model: fraud-detector
        family: payments
        policy: {correction: bh}
        window: {every: 2h}
      - name: chargebacks-drift
        model: chargebacks
        family: payments
        window: 30m
        features: {amount: numerical}
        reference: previous_window
      - name: plain
        model: churn
"""


def test_a_monitor_overrides_its_family_which_overrides_the_defaults() -> None:
    specs = parse(FAMILY_FILE)
    assert specs["fraud-detector-drift"] == MonitorSpec(
        model_id="fraud-detector",
        features=["amount", "country"],
        window="6h",  # the family's size, the monitor's every (the window map is merged)
        step="2h",
        delay="5m",
        min_rows=100,
        baseline="payments-2025",
        # Maps merged key by key: defaults' chisquare, the family's wasserstein; the
        # defaults' alpha, the family's min_effect, the monitor's correction.
        methods={"country": "chisquare", "amount": "wasserstein"},
        policy=DriftPolicy(alpha=0.05, min_effect=0.1, correction="bh"),
        schedule=Schedule(every="5m"),
    )
    # Scalars, lists, features and the reference are replaced whole: a duration replaces
    # the family's {size, every}, previous_window replaces {baseline: ...}.
    chargebacks = specs["chargebacks-drift"]
    assert (chargebacks.window, chargebacks.step) == ("30m", None)
    assert chargebacks.features == ["amount"]
    assert (chargebacks.reference, chargebacks.baseline) == ("previous_window", "training")
    # No family: the defaults alone.
    assert specs["plain"] == MonitorSpec(
        model_id="churn",
        features=["amount", "country"],
        methods={"country": "chisquare"},
        schedule=Schedule(every="5m"),
    )


def test_the_file_says_where_each_value_came_from() -> None:
    parsed = parse_monitors(textwrap.dedent(FAMILY_FILE))
    fraud = parsed.monitors[0]
    assert fraud.path == "monitors[0]"
    assert fraud.where("methods", ".amount") == (
        "families.payments.methods.amount (inherited by monitors[0] 'fraud-detector-drift')"
    )
    assert fraud.where("policy", ".correction") == "monitors[0].policy.correction"
    assert fraud.where("features", "[1]") == (
        "defaults.features[1] (inherited by monitors[0] 'fraud-detector-drift')"
    )
    assert parsed.monitors[1].kinds == {"amount": "numerical"}
    assert fraud.kinds is None


def test_built_in_defaults_and_the_other_forms() -> None:
    specs = parse(
        """
        version: 1
        monitors:
          - name: a
            model: m
          - name: b
            model: m
            window: {size: 1h, every: 1h}   # every == size: tumbling
            reference: {from: 2026-01-01T00:00:00Z, to: '2026-01-08T00:00:00+01:00'}
            features: from_schema
            delay: 0s
            enabled: false
            segments: []
        """
    )
    assert specs["a"] == MonitorSpec(model_id="m")  # 1h, 5m, 100 rows, training, ...
    assert specs["b"].step is None
    assert specs["b"].reference == "fixed_window"
    assert specs["b"].reference_window == TimeRange(
        start=datetime(2026, 1, 1, tzinfo=UTC), end=datetime(2026, 1, 7, 23, tzinfo=UTC)
    )
    assert specs["b"].features is None
    assert parse_monitors("version: 1\nmonitors: []\n").monitors == ()
    enabled = {
        m.name: m.enabled
        for m in parse_monitors(
            "version: 1\nmonitors:\n- {name: a, model: m}\n- {name: b, model: m, enabled: false}\n"
        ).monitors
    }
    assert enabled == {"a": True, "b": False}


def test_signal_settings_merge_key_by_key_and_default_by_reference() -> None:
    specs = parse(
        """
        version: 1
        defaults:
          signals: [data_drift, skew, data_quality, performance]
          performance: {metrics: [accuracy], min: {accuracy: 0.8}}
          data_quality: {unseen_rate: 0.05}
        monitors:
          - name: a
            model: m
            reference: previous_window
            baseline: golden
            min_labels: 50
            performance: {min: {accuracy: 0.7, f1: 0.6}}
            data_quality: {missing_change: 0.1, constant: false}
          - {name: b, model: m}
        """
    )
    a, b = specs["a"], specs["b"]
    # skew and data_quality read the baseline ``golden``; data drift the window before.
    assert (a.reference, a.baseline, a.min_labels) == ("previous_window", "golden", 50)
    assert a.performance == PerformanceSettings(
        metrics=["accuracy"], min={"accuracy": 0.7, "f1": 0.6}, max_drop=0.05
    )
    assert a.data_quality == QualitySettings(unseen_rate=0.05, missing_change=0.1, constant=False)
    # With the baseline reference there is no reference value to drop from.
    assert b.performance == PerformanceSettings(metrics=["accuracy"], min={"accuracy": 0.8})
    assert MonitorSpec.model_validate(a.model_dump(mode="json")) == a


@pytest.mark.parametrize(
    ("settings", "expected"),
    [
        (
            "signals: [performance], performance: {min: {mae: 3}, max: accuracy, x: 1}",
            [
                "monitors[0].performance.x: unknown key (known: metrics, min, max, max_drop)",
                "monitors[0].performance.max: 'accuracy' is not a map of metric: bound",
            ],
        ),
        (
            "signals: [performance], performance: {min: {mae: 3}}",
            ["monitors[0].performance.min.mae: mae is lower-is-better: bound it with max"],
        ),
        (
            "performance: {metrics: [accuracy, acc], max_drop: 0}",
            [
                "monitors[0].performance.metrics[1]: 'acc' is not a performance metric "
                "(known: accuracy, precision, recall, f1, precision_macro, recall_macro, "
                "f1_macro, precision_weighted, recall_weighted, f1_weighted, roc_auc, pr_auc, "
                "log_loss, brier, ece, mae, rmse, mape, r2, abs_error_p50, abs_error_p90, "
                "abs_error_p95, abs_error_p99)",
                "monitors[0].performance.max_drop: 0 is invalid (input should be greater than 0)",
            ],
        ),
        (
            "data_quality: {missing_change: 2}, baseline: '', min_labels: 0",
            [
                "monitors[0].data_quality.missing_change: 2 is invalid (input should be less "
                "than or equal to 1)",
                "monitors[0].baseline: '' is not a baseline name",
                "monitors[0].min_labels: 0 is not a whole number >= 1",
            ],
        ),
        (
            "reference: {baseline: a}, baseline: b",
            [
                "monitors[0].baseline: 'b' is not the reference's baseline 'a': one monitor "
                "reads one baseline (give it as reference: {baseline: NAME})"
            ],
        ),
        (
            "signals: [data_drift, estimated_performance], reference: previous_window, "
            "performance: {metrics: [ece]}",
            [
                "monitors[0].performance.metrics: ['ece'] has none of the metrics "
                "estimated_performance estimates (accuracy, precision, recall, f1, roc_auc)"
            ],
        ),
    ],
)
def test_signal_settings_mistakes_are_named_with_their_path(
    settings: str, expected: list[str]
) -> None:
    assert problems(f"version: 1\nmonitors:\n  - {{name: x, model: m, {settings}}}\n") == expected


def test_yaml_anchors_and_merge_keys_may_be_overridden() -> None:
    specs = parse(
        """
        version: 1
        monitors:
          - &base {name: a, model: m, window: 2h, min_rows: 10}
          - <<: *base
            name: b
            window: 3h
        """
    )
    assert (specs["a"].window, specs["b"].window, specs["b"].min_rows) == ("2h", "3h", 10)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # The brief's three examples.
        (
            """
            version: 1
            monitors:
              - {name: a, model: m}
              - {name: b, model: m, window: '-1h'}
            """,
            ["monitors[1].window: '-1h' is not a duration like 15m, 1h or 1d"],
        ),
        (
            """
            version: 1
            families: {payments: {window: 1h}}
            monitors:
              - {name: a, model: m, family: paymnts}
            """,
            ["monitors[0].family: 'paymnts' is not defined (families: payments)"],
        ),
        (
            """
            version: 1
            monitors:
              - {name: a, model: m, methods: {amount: kss}}
            """,
            [f"monitors[0].methods.amount: 'kss' is not a known test (known: {KNOWN_TESTS})"],
        ),
        # Unknown keys, at every level, with the known ones.
        (
            """
            version: 1
            defaultz: {}
            defaults: {windw: 1h, policy: {alfa: 0.1}, schedule: {each: 5m}}
            families: {f: {name: x, window: {size: 1h, step: 5m}}}
            monitors:
              - {name: a, model: m, famly: f}
            """,
            [
                "defaultz: unknown key (known: version, defaults, families, monitors)",
                f"defaults.windw: unknown key (known: {SETTINGS})",
                "defaults.policy.alfa: unknown key (known: alpha, min_effect, "
                "min_missing_change, correction, share_threshold)",
                "defaults.schedule.each: unknown key (known: every)",
                f"families.f.name: unknown key (known: {SETTINGS})",
                "families.f.window.step: unknown key (known: size, every)",
                f"monitors[0].famly: unknown key (known: name, model, family, {SETTINGS})",
            ],
        ),
        # Names: missing, wrong type, twice.
        (
            """
            version: 1
            monitors:
              - {model: m}
              - {name: 7, model: ''}
              - {name: a, model: m}
              - {name: a, model: n}
            """,
            [
                "monitors[0].name: None is not a monitor name (a string of 1 to 200 characters)",
                "monitors[1].name: 7 is not a monitor name (a string of 1 to 200 characters)",
                "monitors[1].model: '' is not a model id (a string of 1 to 200 characters)",
                "monitors[3].name: 'a' is also the name of monitors[2]",
            ],
        ),
        # Values of each setting.
        (
            """
            version: 1
            defaults:
              features: []
              signals: [data_drift, skew, drfit]
              min_rows: 0
              enabled: 'yes'
              delay: 0
              segments: [country, 'device=ios']
            families:
              f:
                features: {amount: numeric, 'no': categorical}
                methods: {no: ks}
                policy: {alpha: 2, correction: holm}
                reference: golden
              g:
                features: all
                reference: {from: 2026-01-01, to: '2026-01-01T10:00:00'}
                schedule: 5m
              g2:
                schedule: {}
              h:
                reference: {from: '2026-01-02T00:00:00Z', to: '2026-01-01T00:00:00Z'}
              i:
                reference: {baseline: x, from: '2026-01-01T00:00:00Z'}
            monitors: []
            """,
            [
                "defaults.features: [] names no feature (from_schema monitors them all)",
                "defaults.signals[2]: 'drfit' is not a signal (data_drift, skew, "
                "prediction_drift, target_drift, data_quality, performance, "
                "estimated_performance)",
                "defaults.min_rows: 0 is not a whole number >= 1",
                "defaults.enabled: 'yes' is not true or false",
                "defaults.delay: 0 is not a duration like 15m, 1h or 1d",
                "defaults.segments[1]: 'device=ios' contains '=': runs name a segment key=value",
                "families.f.features.amount: 'numeric' is not a kind (numerical, categorical)",
                "families.f.methods: key False is not a feature name (quote it in YAML)",
                "families.f.policy.alpha: 2 is invalid (input should be less than 1)",
                "families.f.policy.correction: 'holm' is invalid (input should be "
                "'bonferroni', 'bh' or 'none')",
                "families.f.reference: 'golden' is not a reference (training, "
                "previous_window, {baseline: NAME} or {from: TIME, to: TIME})",
                "families.g.features: 'all' is not from_schema, a list of feature names or "
                "a map of name: kind",
                "families.g.reference.from: '2026-01-01' is a date, not a time like "
                "2026-01-01T00:00:00Z",
                "families.g.reference.to: '2026-01-01T10:00:00' has no time zone "
                "(e.g. 2026-01-01T00:00:00Z)",
                "families.g.schedule: '5m' is not a map like {every: 5m}",
                "families.g2.schedule: {} is not a map like {every: 5m}",
                "families.h.reference.to: '2026-01-01T00:00:00+00:00' is not after from "
                "'2026-01-02T00:00:00+00:00'",
                "families.i.reference: {'baseline': 'x', 'from': '2026-01-01T00:00:00Z'} is "
                "not a reference (training, previous_window, {baseline: NAME} or "
                "{from: TIME, to: TIME})",
            ],
        ),
        # Problems only visible once the layers are merged name the monitor.
        (
            """
            version: 1
            families: {f: {window: {every: 2h}}}
            monitors:
              - {name: a, model: m, family: f}
              - {name: b, model: m, family: f, window: {size: 1h}}
              - {name: c, model: m, features: [x, y, x]}
            """,
            [
                "monitors[0].window: {'every': '2h'} has no size",
                "monitors[1].window: every '2h' is longer than size '1h': events between "
                "two windows would never be checked",
                "monitors[2].features[2]: 'x' is listed twice",
            ],
        ),
        # The file's shape.
        ("monitors: []\n", ["version: None is not a supported version (supported: 1)"]),
        (
            "version: 2\nmonitors: {a: 1}\n",
            [
                "version: 2 is not a supported version (supported: 1)",
                "monitors: {'a': 1} is not a list of monitors",
            ],
        ),
        (
            "version: true\nmonitors: [{name: a, model: m, family: f}]\n",
            [
                "version: True is not a supported version (supported: 1)",
                "monitors[0].family: 'f' is not defined (no families)",
            ],
        ),
        (
            "version: 1\nfamilies: [a]\nmonitors: [fraud]\n",
            [
                "families: ['a'] is not a map of family name: settings",
                "monitors[0]: 'fraud' is not a map of keys",
            ],
        ),
    ],
)
def test_each_mistake_is_named_with_its_path_and_value(text: str, expected: list[str]) -> None:
    assert problems(text) == expected


def test_a_mistake_in_the_defaults_is_reported_once_not_per_monitor() -> None:
    text = """
        version: 1
        defaults: {window: soon}
        monitors: [{name: a, model: m}, {name: b, model: m}, {name: c, model: m}]
    """
    assert problems(text) == ["defaults.window: 'soon' is not a duration like 15m, 1h or 1d"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "version: 1\nmonitors:\n  - {name: a, model: m\n",
            "monitors.yaml:4:1: not valid YAML: while parsing a flow mapping: expected ',' "
            "or '}', but got '<stream end>'",
        ),
        (
            "version: 1\nmonitors:\n  - name: a\n    model: m\n    window: 1h\n    window: 2h\n",
            "monitors.yaml:6:5: not valid YAML: while reading a map: key 'window' is repeated",
        ),
        ("", "monitors.yaml: the file is empty (see docs/monitors.md)"),
        (
            "- a\n- b\n",
            "monitors.yaml: ['a', 'b'] is not a map of version, defaults, families, monitors",
        ),
    ],
)
def test_a_file_that_is_not_a_monitors_file_names_the_line(text: str, expected: str) -> None:
    with pytest.raises(MonitorsFileError) as err:
        parse_monitors(text)
    assert str(err.value) == expected


def test_messages_name_the_file_as_given(tmp_path: Path) -> None:
    path = tmp_path / "team-a.yaml"
    path.write_text("version: 1\nmonitors:\n  - {name: a, model: m, delay: later}\n")
    with pytest.raises(MonitorsFileError) as err:
        load_monitors_file(path)
    assert str(err.value) == (
        f"{path}: monitors[0].delay: 'later' is not a duration like 15m, 1h or 1d"
    )


def test_the_documented_example_at_the_root_is_valid() -> None:
    parsed = load_monitors_file(ROOT / "monitors.yaml")
    specs = {m.name: m.spec for m in parsed.monitors}
    assert set(specs) == {"churn-hourly", "churn-day-over-day"}
    day = specs["churn-day-over-day"]
    assert (day.window, day.step, day.reference) == ("1d", "1h", "previous_window")
    assert day.policy == DriftPolicy(alpha=0.05, min_effect=0.1, correction="bh")
    assert day.signals == ["data_drift", "prediction_drift", "performance", "estimated_performance"]
    assert day.performance == PerformanceSettings(
        metrics=["accuracy", "roc_auc"], min={"accuracy": 0.75}, max_drop=0.05
    )
    assert specs["churn-hourly"].signals == ["data_drift", "data_quality"]
    assert specs["churn-hourly"].segments == ["region"]


def test_the_demo_monitors_file_gives_the_specs_the_demo_always_used() -> None:
    parsed = load_monitors_file(ROOT / "monitor" / "demo" / "monitors.yaml")
    assert {m.name: m.spec for m in parsed.monitors} == {
        f"{model}-drift": MonitorSpec(
            model_id=model, window="1h", delay="0s", policy=DriftPolicy(min_effect=0.1)
        )
        for model in ("fraud-detector", "eta-regressor")
    }


def test_a_spec_stored_before_the_new_keys_still_loads() -> None:
    spec = MonitorSpec.model_validate(LEGACY_SPEC)
    # One ``signal`` before ``signals``; the signals' settings at their defaults.
    assert spec.signals == ["data_drift"]
    assert (spec.performance, spec.data_quality, spec.min_labels) == (
        PerformanceSettings(),
        QualitySettings(),
        100,
    )
    assert (spec.reference, spec.step, spec.schedule, spec.reference_window) == (
        "baseline",
        None,
        None,
        None,
    )
    # And a resolved spec survives its own JSON (what monitors.spec stores).
    fixed = parse(FAMILY_FILE)["fraud-detector-drift"]
    assert MonitorSpec.model_validate(fixed.model_dump(mode="json")) == fixed


@pytest.mark.parametrize(
    ("fields", "needle"),
    [
        ({"reference": "fixed_window"}, "reference_window is required"),
        (
            {"reference_window": {"start": "2026-01-01T00:00:00Z", "end": "2026-01-02T00:00:00Z"}},
            "reference_window is required",
        ),
        ({"reference": "previous_window", "baseline": "x"}, "baseline='x' is only used"),
        ({"signals": []}, "at least 1 item"),
        ({"signals": ["skew", "skew"]}, "'skew' is listed twice"),
        ({"signal": "data_drift", "signals": ["skew"]}, "not both signal and signals"),
        ({"signals": ["target_drift"]}, "'target_drift' needs a production reference"),
        (
            {"signals": ["performance"], "performance": {"max_drop": 0.1}},
            "performance.max_drop: 0.1 compares with the reference's value",
        ),
        ({"performance": {"min": {"rmse": 3}}}, "min.rmse: rmse is lower-is-better"),
        (
            {
                "signals": ["estimated_performance"],
                "reference": "previous_window",
                "performance": {"metrics": ["log_loss"]},
            },
            "has none of the metrics estimated_performance estimates",
        ),
        ({"window": "1h", "step": "2h"}, "step='2h' is longer than window='1h'"),
        ({"features": ["a", "a"]}, "'a' is listed twice"),
        ({"schedule": {"every": "0m"}}, "'0m' is not a duration"),
    ],
)
def test_the_spec_itself_refuses_what_the_worker_cannot_honour(
    fields: dict[str, object], needle: str
) -> None:
    # kind: Monitor documents (driftwarden apply) give the spec directly.
    with pytest.raises(ValidationError) as err:
        MonitorSpec.model_validate({"model_id": "m", **fields})
    assert needle in str(err.value)
