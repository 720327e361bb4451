"""`driftwarden demo` finds the injected drift, and only it, and delivers the alert."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from monitor.demo.runner import run_demo, timeline


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
    assert [d.status for d in outcome.deliveries] == ["delivered", "delivered"]
    assert outcome.signatures_ok == 2
    report = "\n".join(timeline(outcome))
    assert "eta-regressor: no drift in 5 windows." in report
    assert "amount: from the" in report
