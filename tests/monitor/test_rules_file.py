"""The repository's rules.yaml: it loads, applies, and each documented rule fires on the
results it describes (and not on healthy ones)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from alert_support import apply_text
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from monitor.alerting.rules import AlertingConfig, RuleSpec, load_config
from monitor.alerting.sample import Sample, evaluate_sample
from monitor.db.models import AlertRule, Receiver

RULES = Path(__file__).parents[2] / "rules.yaml"
ENV = {
    "SLACK_WEBHOOK_URL": "https://hooks.slack.com/services/T0/B0/XXXX",
    "PAGERDUTY_ROUTING_KEY": "0123456789abcdef0123456789abcdef",
    "AUDIT_WEBHOOK_SECRET": "audit-secret",
    "RETRAIN_WEBHOOK_SECRET": "retrain-secret",
}
AT = datetime(2026, 11, 2, 1, tzinfo=UTC)


def _config() -> AlertingConfig:
    return load_config(RULES.read_text(encoding="utf-8"), str(RULES), ENV)


def _sample(labels: dict[str, str], **fields: float) -> Sample:
    return Sample(labels=labels, fields=fields, at=AT, window_start=AT, run_id=1, evidence={})


def _rule(name: str) -> RuleSpec:
    return next(r for _, r in _config().rules() if r.alert == name)


BASE = {"model": "churn", "version": "1"}


@pytest.mark.parametrize(
    ("rule", "labels", "breach", "healthy"),
    [
        (
            "DatasetDrift",
            {"signal": "data_drift", "metric": "drift_share"},
            {"value": 0.4},
            {"value": 0.1},
        ),
        (
            "FeatureDrift",
            {"signal": "data_drift", "metric": "ks", "feature": "tenure"},
            {"alert": 1.0, "value": 0.2},
            {"alert": 0.0, "value": 0.01},
        ),
        (
            "TrainingServingSkew",
            {"signal": "skew", "metric": "wasserstein", "feature": "tenure"},
            {"effect_size": 0.3, "threshold": 0.1},
            {"effect_size": 0.05, "threshold": 0.1},
        ),
        (
            "F1Drop",
            {"signal": "performance", "metric": "f1"},
            {"drop": 0.08, "label_coverage": 0.5},
            {"drop": 0.08, "label_coverage": 0.1},  # too few labels to judge
        ),
        (
            "EstimatedAccuracyLow",
            {"signal": "estimated_performance", "metric": "accuracy"},
            {"value": 0.7},
            {"value": 0.9},
        ),
        (
            "MissingValues",
            {"signal": "data_quality", "metric": "missing_rate", "feature": "tenure"},
            {"value": 0.2},
            {"value": 0.01},
        ),
        (
            "DataQualityFailing",
            {"signal": "data_quality", "metric": "failed_checks"},
            {"value": 2.0},
            {"value": 0.0},
        ),
    ],
)
def test_each_documented_rule_breaches_on_what_it_describes(
    rule: str, labels: dict[str, str], breach: dict[str, float], healthy: dict[str, float]
) -> None:
    spec = _rule(rule)
    fired = evaluate_sample(spec, _sample({**BASE, **labels}, **breach))
    assert fired is not None
    assert fired.breached
    assert "{" not in fired.annotations.get("summary", "")  # every placeholder filled
    calm = evaluate_sample(spec, _sample({**BASE, **labels}, **healthy))
    assert calm is not None
    assert not calm.breached


def test_feature_drift_does_not_select_the_run_level_rows() -> None:
    spec = _rule("FeatureDrift")
    for metric in ("drift_share", "missing_share"):
        sample = _sample({**BASE, "signal": "data_drift", "metric": metric}, alert=1.0)
        assert evaluate_sample(spec, sample) is None


def test_a_missing_secret_is_named() -> None:
    with pytest.raises(ValueError, match="SLACK_WEBHOOK_URL"):
        load_config(RULES.read_text(encoding="utf-8"), str(RULES), {})


def test_the_example_applies(db: Engine) -> None:
    apply_text(db, RULES.read_text(encoding="utf-8"), ENV)
    with Session(db) as session:
        kinds = {n: k for n, k in session.execute(select(Receiver.name, Receiver.kind))}
        rules = set(session.scalars(select(AlertRule.name).where(AlertRule.enabled)))
    assert kinds == {
        "ml-team-slack": "slack",
        "ml-oncall": "pagerduty",
        "audit-log": "webhook",
        "retrain-pipeline": "retrain",
    }
    assert rules == {r.alert for _, r in _config().rules()}
