"""The pure alert state machine (Prometheus semantics, counted in windows)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from monitor.alerting.evaluate import InstanceState, fingerprint, step

T0 = datetime(2026, 11, 20, tzinfo=UTC)


def run(
    breaches: list[bool], *, for_windows: int = 0, keep: int = 0
) -> list[tuple[str, str | None]]:
    state = InstanceState()
    out = []
    for i, breached in enumerate(breaches):
        state, transition = step(
            state,
            breached=breached,
            at=T0 + timedelta(hours=i),
            for_windows=for_windows,
            keep_firing_for_windows=keep,
        )
        out.append((state.state, transition))
    return out


def test_without_for_the_first_breach_fires() -> None:
    assert run([True, True, False]) == [
        ("firing", "firing"),
        ("firing", None),
        ("resolved", "resolved"),
    ]


def test_for_holds_the_alert_pending() -> None:
    assert run([True, True, True], for_windows=2) == [
        ("pending", None),
        ("pending", None),
        ("firing", "firing"),
    ]


def test_a_pending_alert_that_clears_sends_nothing() -> None:
    assert run([True, False, True], for_windows=1) == [
        ("pending", None),
        ("inactive", None),
        ("pending", None),
    ]


def test_keep_firing_for_rides_out_a_short_clear() -> None:
    assert run([True, False, True, False, False], keep=1) == [
        ("firing", "firing"),
        ("firing", None),
        ("firing", None),
        ("firing", None),
        ("resolved", "resolved"),
    ]


def test_a_resolved_alert_can_fire_again() -> None:
    assert run([True, False, True])[-1] == ("firing", "firing")


def test_fingerprint_depends_on_the_label_set_only() -> None:
    a = fingerprint({"alertname": "X", "model": "m"})
    assert a == fingerprint({"model": "m", "alertname": "X"})
    assert a != fingerprint({"alertname": "X", "model": "n"})
