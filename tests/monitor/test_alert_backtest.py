"""Samples through rules: evaluate_sample, annotation templates, and the backtest stats."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from monitor.alerting.backtest import Episode, backtest
from monitor.alerting.evaluate import fingerprint
from monitor.alerting.rules import RuleSpec
from monitor.alerting.sample import Sample, evaluate_sample, render

T0 = datetime(2026, 11, 20, tzinfo=UTC)
HOUR = timedelta(hours=1)


def sample(i: int, value: float | None, **labels: str) -> Sample:
    return Sample(
        labels={"model": "churn", "version": "v2", "signal": "data_drift", **labels},
        fields={"value": value, "p_value": 0.01, "drift_share": 0.5},
        at=T0 + i * HOUR,
        window_start=T0 + (i - 1) * HOUR,
        run_id=100 + i,
        evidence={"value": value},
    )


def rule(**spec: Any) -> RuleSpec:
    return RuleSpec.model_validate(
        {"alert": "FeatureDrift", "matchers": ['signal="data_drift"'], "condition": "value > 0.2"}
        | spec
    )


def test_evaluate_sample() -> None:
    r = rule(
        matchers=['feature=~"age|income"'],
        labels={"severity": "warning"},
        annotations={
            "summary": "{model}/{feature}: {value} (p={p_value}, share {drift_share}) {nope}",
            "window": "{window_start} .. {window_end}",
        },
    )
    s = sample(1, 0.123456, feature="age")
    got = evaluate_sample(r, s)
    assert got is not None
    labels = {
        "alertname": "FeatureDrift",
        "model": "churn",
        "version": "v2",
        "signal": "data_drift",
        "feature": "age",
        "severity": "warning",
    }
    assert (got.labels, got.fingerprint, got.breached, got.value) == (
        labels,
        fingerprint(labels),
        False,
        0.123456,
    )
    assert got.annotations == {
        "summary": "churn/age: 0.1235 (p=0.01, share 0.5) {nope}",
        "window": "2026-11-20T00:00:00+00:00 .. 2026-11-20T01:00:00+00:00",
    }
    assert (got.evidence, got.at) == ({"value": 0.123456}, s.at)
    assert evaluate_sample(r, sample(1, 0.5, feature="zip")) is None  # not selected


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (0.123456, "0.1235"),
        (12345.0, "12345"),
        (3, "3"),
        (1.5e-7, "1.5e-07"),
        (None, "n/a"),
        (float("inf"), "inf"),
        ("churn", "churn"),
    ],
)
def test_render_numbers(value: object, text: str) -> None:
    assert render("{x}", {"x": value}) == text


def test_render_is_not_str_format() -> None:
    assert render("{x.__class__} {0} {{x}}", {"x": 1}) == "{x.__class__} {0} {1}"


# --- backtest ------------------------------------------------------------------------

# One instance per feature. "age" breaches in windows 0-2 and 5 (flap), "income" in 6-7.
AGE = [0.5, 0.6, 0.4, 0.1, 0.1, 0.3, 0.1, 0.1]
INCOME = [0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.3, 0.3]
UNTIL = T0 + 10 * HOUR


def stream() -> list[Sample]:
    out = []
    for i, (age, income) in enumerate(zip(AGE, INCOME, strict=True)):
        out.append(sample(i, age, feature="age"))
        out.append(sample(i, income, feature="income"))
        out.append(sample(i, 0.9, feature="age", signal="performance"))  # not selected
    return out


def labels(feature: str) -> dict[str, str]:
    return {
        "alertname": "FeatureDrift",
        "model": "churn",
        "version": "v2",
        "signal": "data_drift",
        "feature": feature,
    }


def test_backtest_counts_episodes_and_flaps() -> None:
    [stats] = backtest([rule()], stream(), until=UNTIL, flap_within=3 * HOUR)
    age, income = labels("age"), labels("income")
    assert stats.episodes == [
        Episode(age, fingerprint(age), T0, T0 + 3 * HOUR),
        Episode(age, fingerprint(age), T0 + 5 * HOUR, T0 + 6 * HOUR),
        Episode(income, fingerprint(income), T0 + 6 * HOUR, None),  # open: counted to UNTIL
    ]
    assert (stats.rule, stats.samples, stats.instances, stats.breaches) == (
        "FeatureDrift",
        16,
        2,
        6,
    )
    assert (stats.fired, stats.instances_fired, stats.resolved, stats.flapped) == (3, 2, 2, 1)
    assert stats.firing_time == 3 * HOUR + HOUR + 4 * HOUR
    assert stats.median_episode == 3 * HOUR
    data = json.loads(json.dumps(stats.to_json()))
    assert (data["firing_seconds"], data["median_episode_seconds"]) == (8 * 3600, 3 * 3600)
    assert data["episodes"][2] == {
        "labels": income,
        "fingerprint": fingerprint(income),
        "fired_at": "2026-11-20T06:00:00+00:00",
        "resolved_at": None,
    }


def test_backtest_applies_for_and_keep_firing_for() -> None:
    held = rule(alert="Held", **{"for": 1, "keep_firing_for": "2h"})
    [plain, stats] = backtest([rule(), held], stream(), until=UNTIL, flap_within=HOUR)
    assert plain.fired == 3
    age, income = labels("age") | {"alertname": "Held"}, labels("income") | {"alertname": "Held"}
    # age: pending at 0, firing at 1, clear at 3 and 4 (less than 2h), breached again at
    # 5 (which restarts the clear clock), clear at 6 and 7: still firing.
    # income: pending at 6, firing at 7.
    assert stats.episodes == [
        Episode(age, fingerprint(age), T0 + HOUR, None),
        Episode(income, fingerprint(income), T0 + 7 * HOUR, None),
    ]
    assert (stats.fired, stats.resolved, stats.flapped) == (2, 0, 0)
    assert stats.firing_time == 9 * HOUR + 3 * HOUR
    assert stats.median_episode == 6 * HOUR


def test_a_rerun_window_in_the_stream_is_replayed() -> None:
    samples = [sample(0, 0.5, feature="age"), sample(1, 0.5, feature="age")]
    samples.append(sample(1, 0.1, feature="age"))  # window 1 run again: now clear
    [stats] = backtest([rule()], samples, until=UNTIL, flap_within=HOUR)
    age = labels("age")
    assert stats.episodes == [Episode(age, fingerprint(age), T0, T0 + HOUR)]
    assert (stats.samples, stats.fired, stats.resolved) == (3, 1, 1)


def test_a_rule_that_selects_nothing() -> None:
    [stats] = backtest([rule(matchers=['model="other"'])], stream(), until=UNTIL, flap_within=HOUR)
    assert (stats.samples, stats.instances, stats.fired, stats.episodes) == (0, 0, 0, [])
    assert (stats.firing_time, stats.median_episode) == (timedelta(0), None)
