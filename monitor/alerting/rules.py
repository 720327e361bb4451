"""Alert rule specification (stored as JSON in ``alert_rules.spec``).

A rule selects detector results by label matchers and states a condition on one of
their values. ``scope: feature`` makes one alert instance per (model, version, feature);
``scope: run`` one per (model, version).
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

OPERATORS: dict[str, Callable[[float, float], bool]] = {
    ">": operator.gt,
    ">=": operator.ge,
    "<": operator.lt,
    "<=": operator.le,
    "==": operator.eq,
    "!=": operator.ne,
}

RUN_VALUES = frozenset({"drift_share", "dataset_drift"})


class Condition(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    value: Literal["drifted", "statistic", "p_value", "effect_size", "drift_share", "dataset_drift"]
    op: Literal[">", ">=", "<", "<=", "==", "!="] = ">="
    threshold: float = 1.0

    def holds(self, value: float | None) -> bool:
        # No value (e.g. a distance without p-value) never breaches.
        return value is not None and OPERATORS[self.op](value, self.threshold)


class RuleSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    name: str = Field(min_length=1, pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    # Equality matchers on result labels: model, version, signal, feature.
    matchers: dict[str, str] = Field(default_factory=dict)
    scope: Literal["feature", "run"] = "feature"
    condition: Condition
    # Prometheus' ``for`` and ``keep_firing_for``, counted in evaluated windows.
    for_windows: int = Field(default=0, ge=0, alias="for")
    keep_firing_for_windows: int = Field(default=0, ge=0, alias="keep_firing_for")
    labels: dict[str, str] = Field(default_factory=dict)
    annotations: dict[str, str] = Field(default_factory=dict)
    receiver: str = Field(min_length=1)

    @model_validator(mode="after")
    def _value_fits_scope(self) -> RuleSpec:
        is_run_value = self.condition.value in RUN_VALUES
        if is_run_value != (self.scope == "run"):
            raise ValueError(
                f"condition.value={self.condition.value!r} does not exist for scope={self.scope!r}"
            )
        return self
