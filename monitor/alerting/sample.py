"""What a rule sees: one sample per detector result row, and its evaluation by a rule.

Fields a condition can name:

- :data:`FIELD_NAMES`, every sample's own numbers (``value``, ``p_value``, ``drop``...);
- the run-level metrics of the same run (``drift_share``, ``label_coverage``,
  ``failed_checks``...): any ``[a-z_][a-z0-9_]*`` name is accepted when a rule is
  loaded, since the metrics depend on the monitor's signals. A sample that lacks the
  name makes the clause false (so a typo never fires; ``driftwarden rules backtest``
  shows a rule that never breaches).

Building samples from result rows needs the database and lives in
``monitor.alerting.result_samples``; this module stays pure.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from monitor.alerting.evaluate import fingerprint
from monitor.alerting.matchers import matches

if TYPE_CHECKING:
    from monitor.alerting.rules import RuleSpec

FIELD_NAMES = frozenset(
    {
        "value",
        "p_value",
        "effect_size",
        "threshold",
        "lower",
        "upper",
        "alert",
        "n_current",
        "n_reference",
        "drop",
    }
)
# Labels every sample may carry, plus the rule's name: a rule's static labels must not
# replace them (the instance identity would no longer say what it is about).
SAMPLE_LABELS = frozenset(
    {"model", "version", "signal", "metric", "segment", "feature", "alertname"}
)

_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")


@dataclass(frozen=True)
class Sample:
    labels: Mapping[str, str]
    fields: Mapping[str, float | None]
    at: datetime  # the window's end
    window_start: datetime
    run_id: int
    # JSON-safe evidence for notifications (value, threshold, window, top_features...).
    evidence: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Evaluated:
    """A rule's verdict on a sample, for the instance identified by ``fingerprint``."""

    labels: dict[str, str]  # alertname + sample labels + the rule's labels
    fingerprint: str
    breached: bool
    value: float | None
    annotations: dict[str, str]
    evidence: Mapping[str, Any]
    at: datetime  # the sample's window end, the evaluation's time


def format_value(value: object) -> str:
    """Numbers with 4 significant digits (``0.1235``, ``1.235e-05``), whole numbers in
    full (a count of 12345 rows reads ``12345``, not ``1.234e+04``), others as text."""
    if value is None:
        return "n/a"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int | float):
        if not math.isfinite(value):
            return str(value)
        if float(value).is_integer() and abs(value) < 1e15:
            return str(int(value))
        return f"{value:.4g}"
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)


def render(template: str, values: Mapping[str, object]) -> str:
    """Replace ``{name}`` with a label or a field (numbers: 4 significant digits).

    Unknown names are left as written. Deliberately not ``str.format``: templates come
    from users, and ``{x.__class__}`` or ``{0}`` must not reach Python's formatter.
    """

    def sub(match: re.Match[str]) -> str:
        name = match.group(1)
        return format_value(values[name]) if name in values else match.group(0)

    return _PLACEHOLDER.sub(sub, template)


def template_values(labels: Mapping[str, str], sample: Sample) -> dict[str, object]:
    """What an annotation can name: fields, then labels (a label wins a name clash),
    plus ``window_start`` and ``window_end``."""
    return {
        **sample.fields,
        **labels,
        "window_start": sample.window_start,
        "window_end": sample.at,
    }


def instance_labels(rule: RuleSpec, sample_labels: Mapping[str, str]) -> dict[str, str]:
    """The label set (identity) of the alert instance of ``rule`` for a sample."""
    return {"alertname": rule.alert, **sample_labels, **rule.labels}


def still_selected(rule: RuleSpec, labels: Mapping[str, str]) -> bool:
    """Whether an instance with ``labels`` is one ``rule`` (as it is now) can produce: a
    rule whose labels or matchers changed no longer evaluates its old instances, so
    they must be ended rather than left firing forever."""
    sample_labels = {k: v for k, v in labels.items() if k in SAMPLE_LABELS and k != "alertname"}
    return instance_labels(rule, sample_labels) == dict(labels) and matches(
        rule.parsed_matchers, sample_labels
    )


def evaluate_sample(rule: RuleSpec, sample: Sample) -> Evaluated | None:
    """The rule's verdict on ``sample``; None when its matchers do not select it."""
    if not matches(rule.parsed_matchers, sample.labels):
        return None
    labels = instance_labels(rule, sample.labels)
    values = template_values(labels, sample)
    return Evaluated(
        labels=labels,
        fingerprint=fingerprint(labels),
        breached=rule.parsed_condition.holds(sample.fields),
        value=sample.fields.get("value"),
        annotations={k: render(t, values) for k, t in rule.annotations.items()},
        evidence=sample.evidence,
        at=sample.at,
    )
