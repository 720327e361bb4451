"""The alerting config file (``rules.yaml``): receivers, the route tree, inhibition rules
and Prometheus-style rule groups, as pydantic models; :func:`load_config` reads one.

Every validation error names the file, the path in it and the value, e.g.
``rules.yaml: groups.0.rules.1.condition='value >> 3': ...``. Secrets (``secret``,
``routing_key``) are never echoed, and a value written ``${VAR}`` is shown as written.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import timedelta
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    PrivateAttr,
    ValidationError,
    model_validator,
)

from monitor.alerting.condition import Condition
from monitor.alerting.durations import format_duration, parse_duration
from monitor.alerting.evaluate import Hold
from monitor.alerting.matchers import Matcher, parse_matchers
from monitor.alerting.sample import SAMPLE_LABELS

LABEL_NAME = r"^[A-Za-z_][A-Za-z0-9_]*$"
_LABEL_NAME = re.compile(LABEL_NAME)
_ENV = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
SECRET_FIELDS = frozenset({"secret", "routing_key"})
RECEIVER_TYPES = ("webhook", "slack", "pagerduty", "retrain")
PAGERDUTY_URL = "https://events.pagerduty.com/v2/enqueue"
PAGERDUTY_KEY_LENGTH = 32

_MODEL = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class ConfigError(ValueError):
    """An invalid alerting config; one line per problem, each naming source, path, value."""

    def __init__(self, source: str, problems: list[str]) -> None:
        self.source = source
        self.problems = problems
        super().__init__("\n".join(f"{source}: {p}" for p in problems))


# --- field types ---------------------------------------------------------------------


def _duration(allow_zero: bool) -> BeforeValidator:
    def parse(value: object) -> timedelta:
        if isinstance(value, timedelta):
            if value < timedelta(0) or (value == timedelta(0) and not allow_zero):
                raise ValueError(f"{value}: must be longer than 0")
            return value
        if isinstance(value, str):
            return parse_duration(value, allow_zero=allow_zero)
        raise ValueError("expected a duration like 30s, 5m, 4h or 1d")

    return BeforeValidator(parse)


_AS_TEXT = PlainSerializer(format_duration, return_type=str, when_used="json")
# Stored as written ("4h") when dumped to JSON (alerting_config, receivers.config).
Duration = Annotated[timedelta, _duration(allow_zero=False), _AS_TEXT]
DurationOrZero = Annotated[timedelta, _duration(allow_zero=True), _AS_TEXT]


def _check_url(value: str) -> str:
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018  # raises on a malformed port
    except ValueError as exc:
        raise ValueError(f"not a URL: {exc}") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("expected an http:// or https:// URL with a host")
    return value


def _unprefixed(value: object, exc: ValueError) -> ValueError:
    """The parser's message without its leading copy of the value (the config error
    names the value already)."""
    message = str(exc)
    for prefix in (f"{value!r}: ", f"{value}: "):
        message = message.removeprefix(prefix)
    return ValueError(message)


def _check_matcher(value: str) -> str:
    try:
        parse_matchers(value)
    except ValueError as exc:
        raise _unprefixed(value, exc) from None
    return value


def _check_label_name(value: str) -> str:
    if not _LABEL_NAME.match(value):
        raise ValueError("not a label name ([A-Za-z_][A-Za-z0-9_]*)")
    return value


def _check_condition(value: str) -> str:
    try:
        names = Condition.parse(value).names
    except ValueError as exc:
        raise _unprefixed(value, exc) from None
    labels = sorted(names & SAMPLE_LABELS)
    if labels:
        raise ValueError(
            f"{', '.join(labels)}: a label, not a number: select it with matchers instead"
        )
    return value


def _check_hold(value: object) -> object:
    try:
        Hold.parse(value)  # type: ignore[arg-type]  # Hold.parse refuses other types itself
    except ValueError as exc:
        raise _unprefixed(value, exc) from None
    return value


Url = Annotated[str, AfterValidator(_check_url)]
MatcherText = Annotated[str, AfterValidator(_check_matcher)]
LabelName = Annotated[str, AfterValidator(_check_label_name)]
HoldValue = Annotated[int | str, BeforeValidator(_check_hold)]
Name = Annotated[str, Field(min_length=1, pattern=r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")]


# --- receivers -----------------------------------------------------------------------


class _Receiver(BaseModel):
    model_config = _MODEL

    name: Name


class _Notifying(_Receiver):
    """A receiver told about resolutions too (retrain receivers get firing triggers only)."""

    # Alertmanager's default for webhook, Slack and PagerDuty receivers.
    send_resolved: bool = True


# Alertmanager's max_alerts: at most this many alerts in a notification, the rest counted
# in truncatedAlerts; 0 sends all.
MaxAlerts = Annotated[int, Field(ge=0)]


class WebhookReceiver(_Notifying):
    type: Literal["webhook"]
    url: Url
    secret: str | None = None  # HMAC key of the signature header
    max_alerts: MaxAlerts = 0


class SlackReceiver(_Notifying):
    """A Slack incoming webhook (the URL is bound to one channel and is a secret)."""

    type: Literal["slack"]
    url: Url
    max_alerts: MaxAlerts = 0


def _check_routing_key(value: str) -> str:
    if len(value) != PAGERDUTY_KEY_LENGTH:
        raise ValueError(
            f"a PagerDuty integration key has {PAGERDUTY_KEY_LENGTH} characters, this one "
            f"{len(value)}"
        )
    return value


class PagerDutyReceiver(_Notifying):
    """No max_alerts: one event per alert, so every alert must be in the payload (a cut
    one would never be triggered or resolved in PagerDuty)."""

    type: Literal["pagerduty"]
    routing_key: Annotated[str, AfterValidator(_check_routing_key)]
    url: Url = PAGERDUTY_URL
    # Used when an alert has no ``severity`` label (Alertmanager's default is error).
    severity: Literal["critical", "error", "warning", "info"] = "error"
    client_url: Url | None = None


def _check_duration_text(value: str) -> str:
    parse_duration(value)
    return value


def _check_duration_or_zero(value: str) -> str:
    parse_duration(value, allow_zero=True)
    return value


# Kept as written ("24h"), so governance messages quote the file; ``*_delta`` parse it.
DurationText = Annotated[str, AfterValidator(_check_duration_text)]
DurationOrZeroText = Annotated[str, AfterValidator(_check_duration_or_zero)]


class RetrainPolicy(BaseModel):
    """When a retraining trigger may be sent (checked by monitor.alerting.governance)."""

    model_config = _MODEL

    cooldown: DurationOrZeroText = "24h"  # since the model's last trigger; 0s: none
    max_triggers: int = Field(default=2, ge=1)  # ... at most this many ...
    per: DurationText = "7d"  # ... in this rolling period
    min_labelled_rows: int = Field(default=0, ge=0)  # 0: no requirement
    labelled_within: DurationText = "30d"
    # Every one of these signals has a firing alert among the trigger's alerts (those of
    # one group notification and model version: group the retrain route by model).
    require_signals: list[str] = Field(default_factory=list)

    @property
    def cooldown_delta(self) -> timedelta:
        return parse_duration(self.cooldown, allow_zero=True)

    @property
    def per_delta(self) -> timedelta:
        return parse_duration(self.per)

    @property
    def labelled_within_delta(self) -> timedelta:
        return parse_duration(self.labelled_within)


class RetrainReceiver(_Receiver):
    """No send_resolved: a resolution retrains nothing, so it is never sent here."""

    type: Literal["retrain"]
    url: Url
    secret: str | None = None
    policy: RetrainPolicy = RetrainPolicy()
    max_alerts: MaxAlerts = 0


AnyReceiver = WebhookReceiver | SlackReceiver | PagerDutyReceiver | RetrainReceiver
ReceiverSpec = Annotated[AnyReceiver, Field(discriminator="type")]


# --- routing -------------------------------------------------------------------------


def _check_group_by(value: list[str] | None) -> list[str] | None:
    if value is None:
        return None
    if "..." in value:
        if len(value) != 1:
            raise ValueError("'...' (group by all labels) must be the only entry")
        return value
    for name in value:
        _check_label_name(name)
    if len(set(value)) != len(value):
        raise ValueError("a label is listed twice")
    return value


class Route(BaseModel):
    """An Alertmanager route. Unset receiver, group_by and timers inherit the parent's."""

    model_config = _MODEL

    receiver: str | None = None
    matchers: list[MatcherText] = Field(default_factory=list)
    continue_: bool = Field(default=False, alias="continue")
    group_by: Annotated[list[str] | None, AfterValidator(_check_group_by)] = None
    group_wait: DurationOrZero | None = None
    group_interval: Duration | None = None
    repeat_interval: Duration | None = None
    routes: list[Route] = Field(default_factory=list)

    _matchers: list[Matcher] = PrivateAttr(default_factory=list)

    def model_post_init(self, context: Any, /) -> None:
        self._matchers = parse_matchers(self.matchers)

    @property
    def parsed_matchers(self) -> list[Matcher]:
        return self._matchers


class InhibitRule(BaseModel):
    """A firing alert matching ``source_matchers`` mutes alerts matching
    ``target_matchers`` that have the same values of the ``equal`` labels."""

    model_config = _MODEL

    source_matchers: list[MatcherText] = Field(min_length=1)
    target_matchers: list[MatcherText] = Field(min_length=1)
    equal: list[LabelName] = Field(default_factory=list)

    _source: list[Matcher] = PrivateAttr(default_factory=list)
    _target: list[Matcher] = PrivateAttr(default_factory=list)

    def model_post_init(self, context: Any, /) -> None:
        self._source = parse_matchers(self.source_matchers)
        self._target = parse_matchers(self.target_matchers)

    @property
    def parsed_source(self) -> list[Matcher]:
        return self._source

    @property
    def parsed_target(self) -> list[Matcher]:
        return self._target


# --- rules ---------------------------------------------------------------------------


def _check_rule_labels(value: dict[str, str]) -> dict[str, str]:
    for name in value:
        if name in SAMPLE_LABELS:
            raise ValueError(f"{name!r} is a sample label: a rule cannot set it")
        if not _LABEL_NAME.match(name):
            raise ValueError(f"{name!r} is not a label name ([A-Za-z_][A-Za-z0-9_]*)")
    return value


class RuleSpec(BaseModel):
    """A Prometheus-style alerting rule over samples (see monitor.alerting.sample)."""

    model_config = _MODEL

    alert: str = Field(pattern=LABEL_NAME)
    matchers: list[MatcherText] = Field(default_factory=list)  # on sample labels
    condition: Annotated[str, AfterValidator(_check_condition)]
    # An int counts windows; a string ("2h") is window-end time. 0: no hold.
    for_: HoldValue = Field(default=0, alias="for")
    keep_firing_for: HoldValue = 0
    labels: Annotated[dict[str, str], AfterValidator(_check_rule_labels)] = Field(
        default_factory=dict
    )
    annotations: dict[str, str] = Field(default_factory=dict)

    _hold: Hold = PrivateAttr(default_factory=Hold.zero)
    _keep: Hold = PrivateAttr(default_factory=Hold.zero)
    _matchers: list[Matcher] = PrivateAttr(default_factory=list)
    _condition: Condition | None = PrivateAttr(default=None)

    def model_post_init(self, context: Any, /) -> None:
        # Parsed once; the validators above already refused anything unparseable.
        self._hold = Hold.parse(self.for_)
        self._keep = Hold.parse(self.keep_firing_for)
        self._matchers = parse_matchers(self.matchers)
        self._condition = Condition.parse(self.condition)

    @property
    def hold(self) -> Hold:
        return self._hold

    @property
    def keep(self) -> Hold:
        return self._keep

    @property
    def parsed_matchers(self) -> list[Matcher]:
        return self._matchers

    @property
    def parsed_condition(self) -> Condition:
        assert self._condition is not None
        return self._condition


class RuleGroup(BaseModel):
    model_config = _MODEL

    name: Name
    rules: list[RuleSpec] = Field(default_factory=list)


# --- the file ------------------------------------------------------------------------


def _shown(path: str, value: object) -> str:
    """A value as an error message shows it: secrets are not echoed."""
    last = path.rsplit(".", 1)[-1]
    if last in SECRET_FIELDS and isinstance(value, str):
        return f"<{len(value)} characters, not shown>"
    return repr(value)


def _routes(route: Route, path: str) -> list[tuple[str, Route]]:
    out = [(path, route)]
    for i, child in enumerate(route.routes):
        out.extend(_routes(child, f"{path}.routes.{i}"))
    return out


def _taken(seen: dict[str, str], name: str, path: str, field: str, note: str = "") -> list[str]:
    """The problem of a name already used (where first), or none; records the name."""
    if name in seen:
        return [f"{path}.{field}={name!r}: already the name of {seen[name]}{note}"]
    seen[name] = path
    return []


class AlertingConfig(BaseModel):
    model_config = _MODEL

    version: Literal[1]
    receivers: list[ReceiverSpec] = Field(min_length=1)
    route: Route
    inhibit_rules: list[InhibitRule] = Field(default_factory=list)
    groups: list[RuleGroup] = Field(default_factory=list)

    @model_validator(mode="after")
    def _consistent(self) -> AlertingConfig:
        problems: list[str] = []
        names: dict[str, str] = {}
        for i, receiver in enumerate(self.receivers):
            problems += _taken(names, receiver.name, f"receivers.{i}", "name")
        root = self.route
        if root.receiver is None:
            problems.append("route.receiver=None: the root route needs a receiver")
        if root.matchers:
            problems.append(
                f"route.matchers={root.matchers!r}: the root route takes every alert: no matchers"
            )
        if root.continue_:
            problems.append("route.continue=True: the root route cannot continue")
        for path, route in _routes(root, "route"):
            if route.receiver is not None and route.receiver not in names:
                problems.append(
                    f"{path}.receiver={route.receiver!r}: no such receiver "
                    f"(receivers: {', '.join(sorted(names))})"
                )
        groups: dict[str, str] = {}
        rules: dict[str, str] = {}
        for g, group in enumerate(self.groups):
            problems += _taken(groups, group.name, f"groups.{g}", "name")
            for r, rule in enumerate(group.rules):
                problems += _taken(
                    rules,
                    rule.alert,
                    f"groups.{g}.rules.{r}",
                    "alert",
                    " (rule names are unique across groups)",
                )
        if problems:
            raise ValueError("\n".join(problems))
        return self

    def rules(self) -> list[tuple[str, RuleSpec]]:
        """(group name, rule) of every rule, in file order."""
        return [(group.name, rule) for group in self.groups for rule in group.rules]

    def receiver(self, name: str) -> AnyReceiver:
        for receiver in self.receivers:
            if receiver.name == name:
                return receiver
        raise KeyError(name)


def _expand(data: dict[str, Any], env: Mapping[str, str]) -> tuple[list[str], dict[str, str]]:
    """Replace ``${VAR}`` in the receivers' string settings, in place. Returns the
    problems (unset variables) and the written form of each expanded value, by path."""
    problems: list[str] = []
    written: dict[str, str] = {}
    receivers = data.get("receivers")
    if not isinstance(receivers, list):
        return problems, written
    for i, receiver in enumerate(receivers):
        if not isinstance(receiver, dict):
            continue
        for key, value in receiver.items():
            if not isinstance(value, str) or not _ENV.search(value):
                continue
            path = f"receivers.{i}.{key}"
            missing = [m.group(1) for m in _ENV.finditer(value) if m.group(1) not in env]
            if missing:
                problems.append(
                    f"{path}={value!r}: environment variable {', '.join(missing)} is not set"
                )
                continue
            written[path] = value
            receiver[key] = _ENV.sub(lambda m: env[m.group(1)], value)
    return problems, written


def _lookup(data: object, loc: list[str | int]) -> tuple[bool, object]:
    for key in loc:
        in_dict = isinstance(data, dict) and key in data
        in_list = isinstance(data, list) and isinstance(key, int) and 0 <= key < len(data)
        if not (in_dict or in_list):
            return False, None
        data = data[key]  # type: ignore[index]
    return True, data


def _problems(exc: ValidationError, data: dict[str, Any], written: dict[str, str]) -> list[str]:
    out: list[str] = []
    for error in exc.errors():
        loc = list(error["loc"])
        # A discriminated union puts the receiver's type in the location: drop it.
        if len(loc) >= 3 and loc[0] == "receivers" and loc[2] in RECEIVER_TYPES:
            del loc[2]
        if error["type"] in ("union_tag_invalid", "union_tag_not_found"):
            loc.append("type")
            message = f"expected one of {', '.join(RECEIVER_TYPES)}"
        elif error["type"] == "extra_forbidden":
            message = "unknown field"
        else:
            message = error["msg"].removeprefix("Value error, ")
        if not loc:  # a cross-field check: its lines already name path and value
            out.extend(message.splitlines())
            continue
        path = ".".join(str(part) for part in loc)
        found, value = _lookup(data, loc)
        if error["type"] == "missing" or not found:
            out.append(f"{path}: required")
        elif path in written:
            out.append(f"{path}={written[path]!r}: {message}")
        else:
            out.append(f"{path}={_shown(path, value)}: {message}")
    return out


def load_config(text: str, source: str, env: Mapping[str, str]) -> AlertingConfig:
    """Parse and validate an alerting config file; ``${VAR}`` in receiver settings
    (``url``, ``secret``, ``routing_key``...) is replaced from ``env``.

    Raises :class:`ConfigError` naming ``source``, the path and the value of every problem.
    """
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(source, [f"not valid YAML: {exc}"]) from None
    if not isinstance(data, dict):
        raise ConfigError(
            source, [f"expected a mapping (version, receivers, route, groups), not {data!r:.60}"]
        )
    problems, written = _expand(data, env)
    if problems:
        raise ConfigError(source, problems)
    try:
        return AlertingConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(source, _problems(exc, data, written)) from None
