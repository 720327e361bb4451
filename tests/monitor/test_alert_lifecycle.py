"""The pure alert-instance state machine: Prometheus ``for`` / ``keep_firing_for`` in
windows or in time, re-run windows replayed, bounded history, idempotency."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from monitor.alerting.evaluate import (
    Hold,
    InstanceState,
    Record,
    Transition,
    advance,
    fingerprint,
    resolve_now,
    step,
)

T0 = datetime(2026, 11, 20, tzinfo=UTC)
HOUR = timedelta(hours=1)
STATE_CODE = {"inactive": "i", "pending": "p", "firing": "F", "resolved": "r"}
TRANSITION_CODE = {None: ".", "firing": "+", "resolved": "-"}


def at(i: int) -> datetime:
    return T0 + i * HOUR


def feed(
    rec: Record,
    verdicts: str,
    *,
    hold: Hold,
    keep: Hold,
    times: list[datetime] | None = None,
    max_history: int = 64,
) -> tuple[Record, str, str]:
    """``verdicts``: ``x`` breach, ``.`` clear, one per window (hourly unless ``times``).
    Returns the record, the states (i p F r) and the transitions (+ firing, - resolved)."""
    states, transitions = "", ""
    for i, verdict in enumerate(verdicts):
        rec, transition = advance(
            rec,
            at=times[i] if times else at(i),
            breached=verdict == "x",
            value=float(i),
            hold=hold,
            keep=keep,
            max_history=max_history,
        )
        states += STATE_CODE[rec.current.state]
        transitions += TRANSITION_CODE[transition]
    return rec, states, transitions


CASES = [
    # id, verdicts, for, keep_firing_for, states, transitions
    ("no for: first breach fires, first clear resolves", "xx.", 0, 0, "FFr", "+.-"),
    ("clear while inactive stays inactive", "..x", 0, 0, "iiF", "..+"),
    ("for 2 windows: pending twice, then firing", "xxx", 2, 0, "ppF", "..+"),
    ("a pending alert that clears sends nothing", "x.x", 1, 0, "pip", "..."),
    ("for 2h on hourly windows fires on the third", "xxx", "2h", 0, "ppF", "..+"),
    ("for 1h fires on the second window", "xx", "1h", 0, "pF", ".+"),
    ("for 0s fires at once", "x", "0s", 0, "F", "+"),
    ("keep 1 window rides out a one-window clear", "x.x..", 0, 1, "FFFFr", "+...-"),
    ("keep 2h: resolves 2h after the first clear", "x...", 0, "2h", "FFFr", "+..-"),
    ("keep 1h: a breach restarts the clear clock", "x.x...", 0, "1h", "FFFFrr", "+...-."),
    ("flapping without holds", "x.x.x.", 0, 0, "FrFrFr", "+-+-+-"),
    ("flapping damped by keep_firing_for", "x.x.x.", 0, 1, "FFFFFF", "+....."),
    ("resolved -> pending -> firing is a new episode", "xx.xx", 1, 0, "pFrpF", ".+-.+"),
    ("for and keep together", "xxx.x..", 1, 1, "pFFFFFr", ".+....-"),
    ("resolved stays resolved while clear", "x...", 0, 0, "Frrr", "+-.."),
]


@pytest.mark.parametrize(
    ("verdicts", "for_", "keep", "states", "transitions"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_lifecycle(
    verdicts: str, for_: int | str, keep: int | str, states: str, transitions: str
) -> None:
    _, got_states, got_transitions = feed(
        Record(), verdicts, hold=Hold.parse(for_), keep=Hold.parse(keep)
    )
    assert (got_states, got_transitions) == (states, transitions)


def test_windows_and_time_differ_when_windows_are_missing() -> None:
    times = [T0, T0 + 5 * HOUR]  # a gap: no result for 4 windows
    _, by_windows, _ = feed(Record(), "xx", hold=Hold.parse(2), keep=Hold.zero(), times=times)
    _, by_time, _ = feed(Record(), "xx", hold=Hold.parse("2h"), keep=Hold.zero(), times=times)
    assert (by_windows, by_time) == ("pp", "pF")


def test_timestamps_of_an_episode() -> None:
    rec, _, _ = feed(Record(), "xxx..", hold=Hold.parse(1), keep=Hold.parse(1))
    state = rec.current
    assert (state.state, state.active_at, state.fired_at, state.resolved_at) == (
        "resolved",
        at(0),
        at(1),
        at(4),
    )
    assert state.last_value == 4.0
    # A new episode starts afresh.
    rec, _, _ = feed(rec, "x", hold=Hold.parse(1), keep=Hold.parse(1), times=[at(5)])
    assert (rec.current.state, rec.current.active_at, rec.current.fired_at) == (
        "pending",
        at(5),
        None,
    )


def test_keep_firing_for_in_time_records_the_first_clear() -> None:
    rec, _, _ = feed(Record(), "x..", hold=Hold.zero(), keep=Hold.parse("3h"))
    assert (rec.current.state, rec.current.cleared_at, rec.current.clears) == ("firing", at(1), 2)


def test_step_is_the_single_evaluation() -> None:
    state = step(
        InstanceState(), breached=True, at=T0, value=0.4, hold=Hold.zero(), keep=Hold.zero()
    )
    assert state == InstanceState("firing", 1, 0, T0, T0, None, None, 0.4)


# --- re-run windows (late data) --------------------------------------------------------

Z = Hold.zero()

RERUNS: list[tuple[str, str, int | str, int | str, int, bool, str, Transition | None]] = [
    # id, verdicts, for, keep, re-run window, new verdict, state after, transition
    ("a re-run breach fires late", "x.", 1, 0, 1, True, "firing", "firing"),
    ("a re-run in time fires late", "..", 0, 0, 1, True, "firing", "firing"),
    ("a re-run clear resolves", "xx", 0, 0, 1, False, "resolved", "resolved"),
    ("a re-run clear of the only breach un-fires", "x", 0, 0, 0, False, "inactive", "resolved"),
    ("a re-run in the middle: net change only", "xxx", 0, 0, 1, False, "firing", None),
    ("a re-run turning pending into firing", "xx.", 2, 1, 2, True, "firing", "firing"),
    ("a re-run that keeps the verdict", "x.", 0, 0, 0, True, "resolved", None),
]


@pytest.mark.parametrize(
    ("verdicts", "for_", "keep", "window", "breached", "state", "transition"),
    [case[1:] for case in RERUNS],
    ids=[case[0] for case in RERUNS],
)
def test_a_rerun_window_replays_its_new_verdict(
    verdicts: str,
    for_: int | str,
    keep: int | str,
    window: int,
    breached: bool,
    state: str,
    transition: Transition | None,
) -> None:
    hold, keep_hold = Hold.parse(for_), Hold.parse(keep)
    rec, _, _ = feed(Record(), verdicts, hold=hold, keep=keep_hold)
    rec, got = advance(
        rec, at=at(window), breached=breached, value=float(window), hold=hold, keep=keep_hold
    )
    assert (rec.current.state, got) == (state, transition)
    # The replayed record is what feeding the corrected verdicts in order gives.
    fixed = list(verdicts)
    fixed[window] = "x" if breached else "."
    expected, _, _ = feed(Record(), "".join(fixed), hold=hold, keep=keep_hold)
    assert rec.current == expected.current
    assert [t for t, _, _ in rec.history] == [at(i) for i in range(len(verdicts))]


def test_a_window_evaluated_late_between_two_others_is_inserted() -> None:
    hold = Hold.parse(2)
    rec, states, _ = feed(Record(), "xx", hold=hold, keep=Z, times=[at(0), at(2)])
    assert states == "pp"
    rec, transition = advance(rec, at=at(1), breached=True, value=1.0, hold=hold, keep=Z)
    assert (rec.current.state, transition, rec.current.fired_at) == ("firing", "firing", at(2))
    assert [t for t, _, _ in rec.history] == [at(0), at(1), at(2)]


def test_a_window_older_than_the_history_is_ignored() -> None:
    rec, _, _ = feed(Record(), "xxxxx", hold=Z, keep=Z, max_history=3)
    assert advance(rec, at=at(0), breached=False, value=None, hold=Z, keep=Z) == (rec, None)


@pytest.mark.parametrize("window", [0, 2, 3], ids=["oldest", "middle", "latest"])
def test_the_same_verdict_twice_changes_nothing(window: int) -> None:
    rec, _, _ = feed(Record(), "x.x.", hold=Hold.parse(1), keep=Hold.parse(1))
    verdict = rec.history[window]
    again, transition = advance(
        rec,
        at=verdict[0],
        breached=verdict[1],
        value=verdict[2],
        hold=Hold.parse(1),
        keep=Hold.parse(1),
    )
    assert (again, transition) == (rec, None)


def test_history_folds_into_the_checkpoint() -> None:
    hold, keep = Hold.parse(1), Hold.parse(1)
    verdicts = "xx.x..xxx."
    folded, _, _ = feed(Record(), verdicts, hold=hold, keep=keep, max_history=3)
    full, _, _ = feed(Record(), verdicts, hold=hold, keep=keep)
    assert len(folded.history) == 3
    assert folded.history == full.history[-3:]
    assert folded.current == full.current
    head, _, _ = feed(Record(), verdicts[:-3], hold=hold, keep=keep)
    assert folded.checkpoint == head.current
    # A re-run inside the bounded history still replays to the same result.
    after_folded, _ = advance(folded, at=at(8), breached=False, value=8.0, hold=hold, keep=keep)
    after_full, _ = advance(full, at=at(8), breached=False, value=8.0, hold=hold, keep=keep)
    assert after_folded.current == after_full.current


def test_record_json_round_trip() -> None:
    rec, _, _ = feed(Record(), "xx.x", hold=Hold.parse("1h"), keep=Hold.parse(1))
    data = json.loads(json.dumps(rec.to_json()))
    assert Record.from_json(data) == rec


def test_resolve_now() -> None:
    firing, _, _ = feed(Record(), "xx", hold=Z, keep=Z)
    ended, transition = resolve_now(firing, at(5))
    assert (ended.current.state, ended.current.resolved_at, transition) == (
        "resolved",
        at(5),
        "resolved",
    )
    assert ended.history == ()
    pending, _, _ = feed(Record(), "x", hold=Hold.parse(3), keep=Z)
    ended, transition = resolve_now(pending, at(5))
    assert (ended.current.state, transition) == ("inactive", None)
    idle = Record()
    assert resolve_now(idle, at(5)) == (idle, None)


def test_a_changed_for_does_not_replay_the_past() -> None:
    firing, states, _ = feed(Record(), "xxx", hold=Z, keep=Z)
    assert states == "FFF"
    # for: 5 now. Window 2 run again with the same breach: the alert it fired on stays
    # firing (replaying with for: 5 would take it back), and goes on from there.
    rec, transition = advance(
        firing, at=at(2), breached=True, value=2.0, hold=Hold.parse(5), keep=Z
    )
    assert (rec.current.state, transition) == ("firing", None)
    rec, transition = advance(rec, at=at(3), breached=False, value=3.0, hold=Hold.parse(5), keep=Z)
    assert (rec.current.state, transition) == ("resolved", "resolved")


def test_after_resolve_now_older_windows_are_ignored() -> None:
    firing, _, _ = feed(Record(), "xxx", hold=Z, keep=Z)
    ended, _ = resolve_now(firing, at(9))
    rec, transition = advance(ended, at=at(1), breached=True, value=1.0, hold=Z, keep=Z)
    assert (rec, transition) == (ended, None)
    rec, transition = advance(ended, at=at(3), breached=True, value=3.0, hold=Z, keep=Z)
    assert (rec.current.state, transition) == ("firing", "firing")


@pytest.mark.parametrize(
    ("value", "hold"),
    [
        (0, Hold(windows=0)),
        (2, Hold(windows=2)),
        ("2h", Hold(duration=timedelta(hours=2))),
        ("0s", Hold(duration=timedelta(0))),
        ("0", Hold(duration=timedelta(0))),
        ("1w", Hold(duration=timedelta(weeks=1))),
    ],
)
def test_hold_parse(value: int | str, hold: Hold) -> None:
    assert Hold.parse(value) == hold


@pytest.mark.parametrize("value", [-1, "2", "2x", "-1h", True, 1.5, None])
def test_hold_parse_refuses(value: object) -> None:
    with pytest.raises(ValueError, match=r"windows|duration"):
        Hold.parse(value)  # type: ignore[arg-type]


def test_fingerprint_depends_on_the_label_set_only() -> None:
    a = fingerprint({"alertname": "X", "model": "m"})
    assert a == fingerprint({"model": "m", "alertname": "X"})
    assert a != fingerprint({"alertname": "X", "model": "n"})
    assert len(a) == 32
