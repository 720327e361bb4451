"""Replay samples through rules: how often would each rule have fired? (pure)

Used by ``driftwarden rules backtest`` on stored results before a rule is applied. The
replay goes through :func:`monitor.alerting.evaluate.advance`, exactly as the live
evaluator does, so pending periods, ``keep_firing_for`` and re-run windows behave alike.
Routing, grouping, inhibition and silences are not replayed: the stats are per rule.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from monitor.alerting.evaluate import Record, advance
from monitor.alerting.rules import RuleSpec
from monitor.alerting.sample import Sample, evaluate_sample


@dataclass(frozen=True)
class Episode:
    """One firing period of one instance; ``resolved_at`` None: still firing."""

    labels: dict[str, str]
    fingerprint: str
    fired_at: datetime
    resolved_at: datetime | None

    def duration(self, until: datetime) -> timedelta:
        return (self.resolved_at or until) - self.fired_at

    def to_json(self) -> dict[str, Any]:
        return {
            "labels": self.labels,
            "fingerprint": self.fingerprint,
            "fired_at": self.fired_at.isoformat(),
            "resolved_at": None if self.resolved_at is None else self.resolved_at.isoformat(),
        }


@dataclass(frozen=True)
class RuleStats:
    rule: str  # the rule's alert name
    samples: int  # samples its matchers selected
    instances: int  # distinct label sets among them
    breaches: int  # samples on which the condition held
    fired: int  # firing transitions
    instances_fired: int
    resolved: int  # resolved transitions
    flapped: int  # firings less than flap_within after the instance last resolved
    episodes: list[Episode]
    firing_time: timedelta  # open episodes count up to ``until``
    median_episode: timedelta | None

    def to_json(self) -> dict[str, Any]:
        """JSON-safe; durations in seconds."""
        median = self.median_episode
        return {
            "rule": self.rule,
            "samples": self.samples,
            "instances": self.instances,
            "breaches": self.breaches,
            "fired": self.fired,
            "instances_fired": self.instances_fired,
            "resolved": self.resolved,
            "flapped": self.flapped,
            "firing_seconds": self.firing_time.total_seconds(),
            "median_episode_seconds": None if median is None else median.total_seconds(),
            "episodes": [e.to_json() for e in self.episodes],
        }


@dataclass
class _Tally:
    samples: int = 0
    breaches: int = 0
    fired: int = 0
    resolved: int = 0
    flapped: int = 0
    records: dict[str, Record] = field(default_factory=dict)
    open: dict[str, Episode] = field(default_factory=dict)
    last_resolved: dict[str, datetime] = field(default_factory=dict)
    episodes: list[Episode] = field(default_factory=list)


def _median(values: list[timedelta]) -> timedelta | None:
    if not values:
        return None
    ordered, mid = sorted(values), len(values) // 2
    return ordered[mid] if len(values) % 2 else (ordered[mid - 1] + ordered[mid]) / 2


def _stats(rule: RuleSpec, tally: _Tally, until: datetime) -> RuleStats:
    episodes = sorted([*tally.episodes, *tally.open.values()], key=lambda e: e.fired_at)
    durations = [e.duration(until) for e in episodes]
    return RuleStats(
        rule=rule.alert,
        samples=tally.samples,
        instances=len(tally.records),
        breaches=tally.breaches,
        fired=tally.fired,
        instances_fired=len({e.fingerprint for e in episodes}),
        resolved=tally.resolved,
        flapped=tally.flapped,
        episodes=episodes,
        firing_time=sum(durations, timedelta(0)),
        median_episode=_median(durations),
    )


def backtest(
    rules: Iterable[RuleSpec],
    samples: Iterable[Sample],
    *,
    until: datetime,
    flap_within: timedelta,
) -> list[RuleStats]:
    """Per-rule stats of replaying ``samples`` (sorted by ``at``) through ``rules``."""
    rules = list(rules)
    tallies = [_Tally() for _ in rules]
    for sample in samples:
        for rule, tally in zip(rules, tallies, strict=True):
            evaluated = evaluate_sample(rule, sample)
            if evaluated is None:
                continue
            tally.samples += 1
            tally.breaches += evaluated.breached
            fp = evaluated.fingerprint
            record, transition = advance(
                tally.records.get(fp, Record()),
                at=sample.at,
                breached=evaluated.breached,
                value=evaluated.value,
                hold=rule.hold,
                keep=rule.keep,
            )
            tally.records[fp] = record
            if transition == "firing":
                fired_at = record.current.fired_at or sample.at
                tally.fired += 1
                last = tally.last_resolved.get(fp)
                if last is not None and fired_at - last < flap_within:
                    tally.flapped += 1
                tally.open[fp] = Episode(evaluated.labels, fp, fired_at, None)
            elif transition == "resolved":
                resolved_at = record.current.resolved_at or sample.at
                tally.resolved += 1
                tally.last_resolved[fp] = resolved_at
                episode = tally.open.pop(fp)
                tally.episodes.append(Episode(episode.labels, fp, episode.fired_at, resolved_at))
    return [_stats(rule, tally, until) for rule, tally in zip(rules, tallies, strict=True)]
