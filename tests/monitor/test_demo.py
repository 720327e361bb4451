"""`driftwarden demo` finds the injected drift, and only it, and delivers the alerts:
both drifted features of the model in one signed, grouped notification."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest

from monitor.demo.runner import run_demo, timeline

HOUR = timedelta(hours=1)


class QuietReporter:
    def __init__(self) -> None:
        self.steps: list[str] = []

    def step(self, text: str) -> None:
        self.steps.append(text)

    def progress(self, task: str, done: int, total: int) -> None:
        pass


def test_demo_reports_drift_on_the_drifted_features_only(
    create_database: Callable[[], str], bootstrap: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DRIFTWARDEN_DATABASE_URL", create_database())
    monkeypatch.setenv("DRIFTWARDEN_KAFKA_BOOTSTRAP_SERVERS", bootstrap)

    outcome = run_demo(QuietReporter(), hours=5, per_hour=1000, drift_from=3)

    assert outcome.ingest.stored == 2 * 5 * 1000
    assert outcome.ingest.dead_letters == outcome.bad_messages == 5
    drifted: dict[str, set[str]] = {}
    for run in outcome.runs:
        assert run.status == "ok"
        drifted.setdefault(run.model_id, set()).update(run.drifted_features)
        if run.drifted_features:
            assert run.window_start >= outcome.drift_start  # type: ignore[operator]
    assert drifted == {"fraud-detector": {"amount", "merchant_category"}, "eta-regressor": set()}
    assert {a.labels["feature"] for a in outcome.alerts} == {"amount", "merchant_category"}
    assert {a.status for a in outcome.alerts} == {"firing"}
    # for: 1 - each fires on its second drifted window in a row, not the first.
    assert {a.at for a in outcome.alerts} == {outcome.drift_start + 2 * HOUR}  # type: ignore[operator]
    # group_by [alertname, model]: one notification carries both features.
    assert [d.status for d in outcome.deliveries] == ["delivered"]
    (carried,) = outcome.carried.values()
    assert carried.group == {"alertname": "FeatureDrift", "model": "fraud-detector"}
    assert carried.alerts == [("firing", "amount"), ("firing", "merchant_category")]
    assert outcome.signatures_ok == 1
    report = "\n".join(timeline(outcome))
    assert "eta-regressor: no drift in 5 windows." in report
    assert "amount: from the" in report
    assert "2 alerts in one message (amount firing, merchant_category firing)." in report
    assert "1 of 1 webhook signatures verified by the receiver." in report
