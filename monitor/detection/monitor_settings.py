"""The settings of one layer of a monitors file (``defaults``, a family, a monitor):
one parser per key, each reporting its problems with their path and value.

A parser returns the value as written when it is valid, or ``INVALID`` once it has
reported why; monitor/detection/monitors_file.py merges the valid values of the layers.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from datetime import date, datetime
from typing import Any

from pydantic import BaseModel, ValidationError

import detectors
from monitor.detection.spec import (
    SIGNALS,
    DriftPolicy,
    PerformanceSettings,
    QualitySettings,
    parse_duration,
    segment_key_problem,
)

KINDS = ("numerical", "categorical")
SETTINGS_KEYS = (
    "enabled",
    "features",
    "signals",
    "window",
    "delay",
    "min_rows",
    "min_labels",
    "reference",
    "baseline",
    "methods",
    "policy",
    "performance",
    "data_quality",
    "schedule",
    "segments",
)
FROM_SCHEMA = "from_schema"


class Problems:
    """The problems found so far, each ``PATH: message``, in the order found."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def add(self, path: str, message: str) -> None:
        self.lines.append(f"{path}: {message}")


INVALID = object()  # a value already reported: left out of the layer


def unknown_key(keys: tuple[str, ...]) -> str:
    return f"unknown key (known: {', '.join(keys)})"


def _duration(value: Any, path: str, problems: Problems, *, allow_zero: bool = False) -> Any:
    if not isinstance(value, str):
        problems.add(path, f"{value!r} is not a duration like 15m, 1h or 1d")
        return INVALID
    try:
        parse_duration(value, allow_zero=allow_zero)
    except ValueError as exc:
        problems.add(path, str(exc))
        return INVALID
    return value


def _names(value: Any, path: str, problems: Problems, *, what: str) -> list[str] | None:
    """A list of distinct non-empty strings, or None (reported)."""
    if not isinstance(value, list):
        problems.add(path, f"{value!r} is not a list of {what}")
        return None
    ok = True
    for i, item in enumerate(value):
        if not isinstance(item, str) or not item:
            problems.add(f"{path}[{i}]", f"{item!r} is not a {what[:-1]} name")
            ok = False
        elif item in value[:i]:
            problems.add(f"{path}[{i}]", f"{item!r} is listed twice")
            ok = False
    return value if ok else None


def _key_names(value: dict[Any, Any], path: str, problems: Problems) -> bool:
    """YAML 1.1 reads unquoted ``no``, ``on``, ``1`` as bool or int: ask for quotes."""
    bad = [key for key in value if not isinstance(key, str) or not key]
    for key in bad:
        problems.add(path, f"key {key!r} is not a feature name (quote it in YAML)")
    return not bad


def _enabled(value: Any, path: str, problems: Problems) -> Any:
    if not isinstance(value, bool):
        problems.add(path, f"{value!r} is not true or false")
        return INVALID
    return value


def _features(value: Any, path: str, problems: Problems) -> Any:
    if value == FROM_SCHEMA:
        return value
    if isinstance(value, list):
        if not value:
            problems.add(path, "[] names no feature (from_schema monitors them all)")
            return INVALID
        return _names(value, path, problems, what="features") or INVALID
    if isinstance(value, dict) and value:
        if not _key_names(value, path, problems):
            return INVALID
        bad = {k: v for k, v in value.items() if v not in KINDS}
        for name, kind in bad.items():
            problems.add(f"{path}.{name}", f"{kind!r} is not a kind ({', '.join(KINDS)})")
        return INVALID if bad else value
    problems.add(
        path,
        f"{value!r} is not {FROM_SCHEMA}, a list of feature names or a map of name: kind",
    )
    return INVALID


def _signals(value: Any, path: str, problems: Problems) -> Any:
    names = _names(value, path, problems, what="signals")
    if names is None:
        return INVALID
    if not names:
        problems.add(path, f"[] names no signal ({', '.join(SIGNALS)})")
        return INVALID
    ok = True
    for i, name in enumerate(names):
        if name not in SIGNALS:
            problems.add(f"{path}[{i}]", f"{name!r} is not a signal ({', '.join(SIGNALS)})")
            ok = False
    return names if ok else INVALID


def _window(value: Any, path: str, problems: Problems) -> Any:
    if isinstance(value, dict):
        ok = True
        for key, item in value.items():
            if key not in ("size", "every"):
                problems.add(f"{path}.{key}", unknown_key(("size", "every")))
                ok = False
            elif _duration(item, f"{path}.{key}", problems) is INVALID:
                ok = False
        return value if ok else INVALID
    return _duration(value, path, problems)


def _min_rows(value: Any, path: str, problems: Problems) -> Any:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        problems.add(path, f"{value!r} is not a whole number >= 1")
        return INVALID
    return value


def _baseline(value: Any, path: str, problems: Problems) -> Any:
    if not isinstance(value, str) or not value:
        problems.add(path, f"{value!r} is not a baseline name")
        return INVALID
    return value


def _instant(value: Any, path: str, problems: Problems) -> datetime | None:
    if isinstance(value, str):
        with contextlib.suppress(ValueError):  # reported below, with the other types
            value = datetime.fromisoformat(value)
    if isinstance(value, datetime) and value.tzinfo is not None:
        return value
    if isinstance(value, datetime):
        problems.add(path, f"{value.isoformat()!r} has no time zone (e.g. 2026-01-01T00:00:00Z)")
    elif isinstance(value, date):
        problems.add(path, f"{value.isoformat()!r} is a date, not a time like 2026-01-01T00:00:00Z")
    else:
        problems.add(path, f"{value!r} is not a time like 2026-01-01T00:00:00Z")
    return None


_REFERENCES = "training, previous_window, {baseline: NAME} or {from: TIME, to: TIME}"


def _reference(value: Any, path: str, problems: Problems) -> Any:
    if value in ("training", "previous_window"):
        return value
    if not isinstance(value, dict):
        problems.add(path, f"{value!r} is not a reference ({_REFERENCES})")
        return INVALID
    keys = set(value)
    if keys == {"baseline"}:
        name = value["baseline"]
        if not isinstance(name, str) or not name:
            problems.add(f"{path}.baseline", f"{name!r} is not a baseline name")
            return INVALID
        return value
    if keys == {"from", "to"}:
        start = _instant(value["from"], f"{path}.from", problems)
        end = _instant(value["to"], f"{path}.to", problems)
        if start is None or end is None:
            return INVALID
        if end <= start:
            problems.add(
                f"{path}.to", f"{end.isoformat()!r} is not after from {start.isoformat()!r}"
            )
            return INVALID
        return {"from": start, "to": end}
    problems.add(path, f"{value!r} is not a reference ({_REFERENCES})")
    return INVALID


def _methods(value: Any, path: str, problems: Problems) -> Any:
    if not isinstance(value, dict):
        problems.add(path, f"{value!r} is not a map of feature: test")
        return INVALID
    ok = _key_names(value, path, problems)
    known = detectors.available()
    for feature, method in value.items():
        if method != "auto" and method not in known:
            problems.add(
                f"{path}.{feature}",
                f"{method!r} is not a known test (known: auto, {', '.join(known)})",
            )
            ok = False
    return value if ok else INVALID


def _settings_map(
    model: type[BaseModel], value: Any, path: str, problems: Problems, *, nested: bool = False
) -> Any:
    """A partial map of ``model``'s fields (the keys left out have defaults), each
    problem named by its path; ``nested``: values that are maps themselves (performance's
    min and max) are checked on their own too."""
    keys = tuple(model.model_fields)
    if not isinstance(value, dict):
        problems.add(path, f"{value!r} is not a map ({', '.join(keys)})")
        return INVALID
    unknown = [key for key in value if key not in keys]
    for key in unknown:
        problems.add(f"{path}.{key}", unknown_key(keys))
    if nested:
        for key in ("min", "max"):
            if key in value and not isinstance(value[key], dict):
                problems.add(f"{path}.{key}", f"{value[key]!r} is not a map of metric: bound")
                return INVALID
    try:
        model.model_validate({k: v for k, v in value.items() if k in keys})
    except ValidationError as exc:
        for error in exc.errors():
            loc = ".".join(str(p) for p in error["loc"])
            where = f"{path}.{loc}" if loc else path
            message = error["msg"].removeprefix("Value error, ")
            if error["type"] == "value_error":
                # The model's own messages start with the key they are about:
                # "[2]: ..." (an item of a list), "min.mae: ...".
                sub, sep, rest = message.partition(": ")
                if sep and (sub.startswith("[") or "." in sub) and " " not in sub:
                    where, message = where + ("" if sub.startswith("[") else ".") + sub, rest
                problems.add(where, message)
            else:
                problems.add(where, f"{error['input']!r} is invalid ({message.lower()})")
        return INVALID
    return INVALID if unknown else value


def _policy(value: Any, path: str, problems: Problems) -> Any:
    return _settings_map(DriftPolicy, value, path, problems)


def _performance(value: Any, path: str, problems: Problems) -> Any:
    return _settings_map(PerformanceSettings, value, path, problems, nested=True)


def _data_quality(value: Any, path: str, problems: Problems) -> Any:
    return _settings_map(QualitySettings, value, path, problems)


def _schedule(value: Any, path: str, problems: Problems) -> Any:
    if not isinstance(value, dict):
        problems.add(path, f"{value!r} is not a map like {{every: 5m}}")
        return INVALID
    ok = True
    for key, item in value.items():
        if key != "every":
            problems.add(f"{path}.{key}", unknown_key(("every",)))
            ok = False
        elif _duration(item, f"{path}.every", problems) is INVALID:
            ok = False
    if ok and "every" not in value:
        problems.add(path, f"{value!r} is not a map like {{every: 5m}}")
        ok = False
    return value if ok else INVALID


def _segments(value: Any, path: str, problems: Problems) -> Any:
    names = _names(value, path, problems, what="segment keys")
    if names is None:
        return INVALID
    ok = True
    for i, key in enumerate(names):
        if problem := segment_key_problem(key):
            problems.add(f"{path}[{i}]", problem)
            ok = False
    return names if ok else INVALID


Parser = Callable[[Any, str, Problems], Any]
PARSERS: dict[str, Parser] = {
    "enabled": _enabled,
    "features": _features,
    "signals": _signals,
    "window": _window,
    "delay": lambda v, p, pr: _duration(v, p, pr, allow_zero=True),
    "min_rows": _min_rows,
    "min_labels": _min_rows,
    "reference": _reference,
    "baseline": _baseline,
    "methods": _methods,
    "policy": _policy,
    "performance": _performance,
    "data_quality": _data_quality,
    "schedule": _schedule,
    "segments": _segments,
}


def parse_layer(
    value: Any, path: str, problems: Problems, *, keys: tuple[str, ...]
) -> dict[str, Any]:
    """The valid settings of one layer (defaults, a family, a monitor); the others are
    reported and left out, so one mistake is reported once, where it was written."""
    if not isinstance(value, dict):
        problems.add(path, f"{value!r} is not a map of keys")
        return {}
    out: dict[str, Any] = {}
    for key, item in value.items():
        if key not in keys:
            problems.add(f"{path}.{key}", unknown_key(keys))
        elif key in PARSERS:
            parsed = PARSERS[key](item, f"{path}.{key}", problems)
            if parsed is not INVALID:
                out[key] = parsed
        else:
            out[key] = item  # name, model, family: checked by the caller
    return out
