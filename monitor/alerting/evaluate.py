"""The pure alert-instance state machine (Prometheus alerting-rule semantics).

inactive --breach--> pending --(breach held ``for``)--> firing
pending --clear--> inactive                      (nothing was ever sent)
firing --(clear held past ``keep_firing_for``)--> resolved
resolved --breach--> pending (or firing): a new episode with a new ``active_at``

``for`` and ``keep_firing_for`` are a :class:`Hold`: a number of windows, or a duration
measured on the windows' end timestamps (never on the wall clock, so a backfill or a
backtest behaves like live evaluation). With a zero hold the first breach fires and the
first clear resolves, as in Prometheus.

Late data re-runs a window that was already evaluated. :class:`Record` keeps a bounded
history of the verdicts since a checkpoint state, so the re-run window's new verdict
replaces the old one and the instance is replayed: it may fire late, or resolve.
"""

from __future__ import annotations

import bisect
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from monitor.alerting.durations import format_duration, parse_duration

State = Literal["inactive", "pending", "firing", "resolved"]
Transition = Literal["firing", "resolved"]
Verdict = tuple[datetime, bool, float | None]  # (window end, breached, value)

MAX_HISTORY = 64


@dataclass(frozen=True)
class Hold:
    """``for`` / ``keep_firing_for``: ``windows`` evaluations, or a ``duration``."""

    windows: int | None = None
    duration: timedelta | None = None

    def __post_init__(self) -> None:
        if (self.windows is None) == (self.duration is None):
            raise ValueError("a hold is either a number of windows or a duration")
        if self.windows is not None and self.windows < 0:
            raise ValueError(f"windows={self.windows}: must be 0 or more")
        if self.duration is not None and self.duration < timedelta(0):
            raise ValueError(f"duration={self.duration}: must be 0 or more")

    @classmethod
    def parse(cls, value: int | str) -> Hold:
        """``2`` = two windows; ``"2h"`` = two hours of window-end time; 0 or ``"0s"`` = none."""
        if isinstance(value, bool) or not isinstance(value, int | str):
            raise ValueError(f"{value!r}: expected a number of windows or a duration like 2h")
        if isinstance(value, int):
            if value < 0:
                raise ValueError(f"{value!r}: a number of windows must be 0 or more")
            return cls(windows=value)
        return cls(duration=parse_duration(value, allow_zero=True))

    @classmethod
    def zero(cls) -> Hold:
        return cls(windows=0)

    def __str__(self) -> str:
        if self.duration is None:
            return f"{self.windows} windows"
        return format_duration(self.duration)


@dataclass(frozen=True)
class InstanceState:
    state: State = "inactive"
    breaches: int = 0  # consecutive breaching evaluations of this episode
    clears: int = 0  # consecutive clear evaluations while firing
    active_at: datetime | None = None  # first breach of the episode
    fired_at: datetime | None = None
    resolved_at: datetime | None = None
    cleared_at: datetime | None = None  # first clear while firing (keep_firing_for)
    last_value: float | None = None  # the value of the latest evaluation

    def to_json(self) -> dict[str, Any]:
        return {
            "state": self.state,
            "breaches": self.breaches,
            "clears": self.clears,
            "active_at": _iso(self.active_at),
            "fired_at": _iso(self.fired_at),
            "resolved_at": _iso(self.resolved_at),
            "cleared_at": _iso(self.cleared_at),
            "last_value": self.last_value,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> InstanceState:
        return cls(
            state=data["state"],
            breaches=int(data["breaches"]),
            clears=int(data["clears"]),
            active_at=_dt(data.get("active_at")),
            fired_at=_dt(data.get("fired_at")),
            resolved_at=_dt(data.get("resolved_at")),
            cleared_at=_dt(data.get("cleared_at")),
            last_value=data.get("last_value"),
        )


def _from_epoch(at: float | str) -> datetime:
    # ISO strings: records written before history times were stored as epoch seconds.
    return datetime.fromisoformat(at) if isinstance(at, str) else datetime.fromtimestamp(at, UTC)


def _iso(ts: datetime | None) -> str | None:
    return None if ts is None else ts.isoformat()


def _dt(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text)


def fingerprint(labels: Mapping[str, str]) -> str:
    """Stable identity of an alert instance: hash of its sorted label set."""
    canonical = json.dumps(sorted(labels.items()), separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:32]


def _held(hold: Hold, count: int, since: datetime, at: datetime) -> bool:
    """Whether ``count`` consecutive evaluations since ``since`` exceed ``hold``."""
    if hold.duration is not None:
        return at - since >= hold.duration
    assert hold.windows is not None
    return count > hold.windows


def step(
    prev: InstanceState,
    *,
    breached: bool,
    at: datetime,
    value: float | None,
    hold: Hold,
    keep: Hold,
) -> InstanceState:
    """One evaluation of one instance (one window's verdict)."""
    if breached:
        if prev.state == "firing":
            return replace(
                prev, breaches=prev.breaches + 1, clears=0, cleared_at=None, last_value=value
            )
        pending = prev.state == "pending"
        breaches = prev.breaches + 1 if pending else 1
        active_at = prev.active_at if pending and prev.active_at is not None else at
        if _held(hold, breaches, active_at, at):
            return InstanceState("firing", breaches, 0, active_at, at, None, None, value)
        return InstanceState("pending", breaches, 0, active_at, None, None, None, value)
    if prev.state == "pending":
        return InstanceState(last_value=value)
    if prev.state == "firing":
        clears = prev.clears + 1
        cleared_at = prev.cleared_at or at
        if _held(keep, clears, cleared_at, at):
            return replace(
                prev,
                state="resolved",
                breaches=0,
                clears=0,
                resolved_at=at,
                cleared_at=None,
                last_value=value,
            )
        return replace(prev, clears=clears, cleared_at=cleared_at, last_value=value)
    return replace(prev, last_value=value)


def _transition(before: InstanceState, after: InstanceState) -> Transition | None:
    was, now = before.state == "firing", after.state == "firing"
    if now and not was:
        return "firing"
    if was and not now:
        return "resolved"
    return None


@dataclass(frozen=True)
class Record:
    """An instance's state with the verdicts it was computed from.

    ``current`` = ``checkpoint`` stepped through ``history`` (sorted by window end, one
    verdict per window end). A re-run window's new verdict replaces its entry and the
    history is replayed. Entries beyond the bound are folded into ``checkpoint``: their
    windows can no longer change the verdict.
    """

    checkpoint: InstanceState = InstanceState()
    history: tuple[Verdict, ...] = ()
    current: InstanceState = InstanceState()
    # Windows ending at or before ``floor`` are ignored: their verdicts were stepped on
    # under settings that no longer hold (a changed ``for``, a rule removed), and the
    # history that could replay them is gone.
    floor: datetime | None = None
    # The ``for`` / ``keep_firing_for`` the history was stepped with.
    timing: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "checkpoint": self.checkpoint.to_json(),
            # Window ends as epoch seconds: a record is read and written every window,
            # and parsing 64 ISO timestamps per instance showed in the evaluation time.
            "history": [[at.timestamp(), breached, value] for at, breached, value in self.history],
            "current": self.current.to_json(),
            "floor": _iso(self.floor),
            "timing": self.timing,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Record:
        return cls(
            checkpoint=InstanceState.from_json(data["checkpoint"]),
            history=tuple(
                (_from_epoch(at), bool(breached), value) for at, breached, value in data["history"]
            ),
            current=InstanceState.from_json(data["current"]),
            floor=_dt(data.get("floor")),
            timing=str(data.get("timing", "")),
        )

    @property
    def latest(self) -> datetime | None:
        """The end of the newest window stepped on."""
        return self.history[-1][0] if self.history else self.floor

    def restarted(self, timing: str) -> Record:
        """The current state with no history: nothing before now is replayed again."""
        return Record(self.current, (), self.current, self.latest, timing)


def _replay(
    checkpoint: InstanceState, history: tuple[Verdict, ...], hold: Hold, keep: Hold
) -> InstanceState:
    state = checkpoint
    for at, breached, value in history:
        state = step(state, breached=breached, at=at, value=value, hold=hold, keep=keep)
    return state


def advance(
    rec: Record,
    *,
    at: datetime,
    breached: bool,
    value: float | None,
    hold: Hold,
    keep: Hold,
    max_history: int = MAX_HISTORY,
) -> tuple[Record, Transition | None]:
    """Take one window's verdict; returns the new record and the transition to notify.

    A window after the last one steps forward. A window already in the history (a
    re-run) or between two of its entries (a window evaluated late) is put in its place
    and the history replayed from the checkpoint. A window older than the history is
    ignored. The transition compares the state before and after, so a replay notifies
    the net change only (fired late, or resolved), and the same verdict twice is a no-op.
    """
    timing = f"for={hold} keep_firing_for={keep}"
    if rec.timing != timing:
        # Replaying the old windows with the new for/keep_firing_for would rewrite the
        # past (fire or resolve an alert for windows long gone): carry on from now.
        rec = rec.restarted(timing) if rec.timing else replace(rec, timing=timing)
    history = rec.history
    if (history and at < history[0][0]) or (rec.floor is not None and at <= rec.floor):
        return rec, None
    if not history or at > history[-1][0]:
        current = step(rec.current, breached=breached, at=at, value=value, hold=hold, keep=keep)
        history = (*history, (at, breached, value))
        checkpoint = rec.checkpoint
    else:
        times = [entry[0] for entry in history]
        i = bisect.bisect_left(times, at)
        if times[i] == at:
            if history[i] == (at, breached, value):
                return rec, None
            history = (*history[:i], (at, breached, value), *history[i + 1 :])
        else:
            history = (*history[:i], (at, breached, value), *history[i:])
        checkpoint = rec.checkpoint
        current = _replay(checkpoint, history, hold, keep)
    if len(history) > max_history:
        folded, history = history[: len(history) - max_history], history[-max_history:]
        checkpoint = _replay(checkpoint, folded, hold, keep)
    record = Record(checkpoint, history, current, rec.floor, timing)
    return record, _transition(rec.current, current)


def resolve_now(rec: Record, at: datetime) -> tuple[Record, Transition | None]:
    """End the instance at ``at`` (its rule was removed or disabled).

    A firing instance resolves; a pending one goes back to inactive. The history is
    dropped: a later re-run must not bring back the verdicts of a rule that is gone.
    """
    cur = rec.current
    if cur.state == "firing":
        ended = replace(
            cur, state="resolved", breaches=0, clears=0, resolved_at=at, cleared_at=None
        )
        return Record(ended, (), ended, rec.latest, rec.timing), "resolved"
    if cur.state == "pending":
        ended = InstanceState(last_value=cur.last_value)
        return Record(ended, (), ended, rec.latest, rec.timing), None
    return rec, None
