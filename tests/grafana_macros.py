"""Grafana's expansion of a PostgreSQL panel query, for running dashboard SQL in tests.

Two steps, as in Grafana: the frontend replaces template variables and the built-in
``$__interval``/``$__interval_ms``/``$__from``/``$__to``; then the backend's macro engine
(grafana pkg/tsdb/grafana-postgresql-datasource/macros.go) replaces ``$__name(args)``
using the pattern ``\\$([_a-zA-Z0-9]+)\\(([^\\)]*)\\)`` (arguments end at the first ``)``),
splitting arguments on ``,``. An unknown macro is an error there, and here.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

MACRO = re.compile(r"\$([_a-zA-Z0-9]+)\(([^\)]*)\)")
# Possessive: "$__timeFilter(" must not match as the variable "$__timeFilte".
VARIABLE = re.compile(r"\$\{([A-Za-z0-9_]+)(?::([A-Za-z0-9_]+))?\}|\$([A-Za-z_][A-Za-z0-9_]*+)")
BUILTINS = {
    "__interval",
    "__interval_ms",
    "__from",
    "__to",
    "__timeFilter",
    "__timeFrom",
    "__timeTo",
    "__timeGroup",
    "__timeGroupAlias",
    "__time",
    "__timeEpoch",
    "__unixEpochFilter",
    "__unixEpochFrom",
    "__unixEpochTo",
    "__unixEpochGroup",
    "__unixEpochGroupAlias",
    "__unixEpochNanoFilter",
    "__unixEpochNanoFrom",
    "__unixEpochNanoTo",
}
_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, "y": 31536000}


class MacroError(ValueError):
    pass


@dataclass(frozen=True)
class TimeRange:
    start: datetime
    end: datetime


def rfc3339nano(t: datetime) -> str:
    """Go's ``time.Format(time.RFC3339Nano)`` of a UTC time: fraction without trailing
    zeros (none when zero), ``Z``."""
    t = t.astimezone(UTC)
    text = t.strftime("%Y-%m-%dT%H:%M:%S")
    if t.microsecond:
        text += "." + f"{t.microsecond:06d}".rstrip("0")
    return text + "Z"


def parse_interval(text: str) -> timedelta:
    """gtime.ParseInterval for the forms dashboards use: ``<n><unit>``, unit ms s m h d w y."""
    match = re.fullmatch(r"(\d+)(ms|s|m|h|d|w|y)", text.strip("'"))
    if not match:
        raise MacroError(f"error parsing interval {text}")
    return timedelta(seconds=int(match[1]) * _UNITS[match[2]])


def _go_number(seconds: float) -> str:
    """Go's ``%v`` of a float64 (300 -> ``300``, 0.5 -> ``0.5``)."""
    return str(int(seconds)) if float(seconds).is_integer() else repr(seconds)


def _sqlstring(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def interpolate_variables(
    sql: str,
    variables: Mapping[str, Sequence[str]],
    interval: timedelta,
    time_range: TimeRange,
) -> str:
    """The frontend's step: template variables (``${v}``, ``${v:sqlstring}``, ``$v``) and
    the built-in interval and range variables. A variable not defined is left as Grafana
    leaves it (the query then fails in PostgreSQL)."""

    def replace(m: re.Match[str]) -> str:
        name = m[1] or m[3]
        fmt = m[2]
        if name == "__interval":
            return _interval_text(interval)
        if name == "__interval_ms":
            return str(int(interval.total_seconds() * 1000))
        if name == "__from":
            return str(int(time_range.start.timestamp() * 1000))
        if name == "__to":
            return str(int(time_range.end.timestamp() * 1000))
        if name not in variables:
            return m[0]
        values = list(variables[name])
        if fmt == "sqlstring":
            return ",".join(_sqlstring(v) for v in values)
        if fmt in (None, "raw") and len(values) == 1:
            return values[0]
        if fmt is None:  # the SQL data sources' default multi-value quoting
            return ",".join(_sqlstring(v) for v in values)
        if fmt == "csv":
            return ",".join(values)
        raise MacroError(f"format {fmt!r} of ${{{name}}} is not supported here")

    # $__timeFilter(...) and friends are macros, not variables: leave "$name(" alone.
    return re.sub(VARIABLE.pattern + r"(?!\()", replace, sql)


def _interval_text(interval: timedelta) -> str:
    """Grafana's text of an interval: the largest unit that divides it (``5m``, ``1h``)."""
    ms = int(interval.total_seconds() * 1000)
    for unit, seconds in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if ms % int(seconds * 1000) == 0:
            return f"{ms // int(seconds * 1000)}{unit}"
    return f"{ms}ms"


def expand_macros(sql: str, time_range: TimeRange) -> str:
    """The backend's step: Grafana's PostgreSQL macro engine (no TimescaleDB)."""
    start, end = time_range.start, time_range.end

    def evaluate(name: str, args: list[str]) -> str:
        if name == "__time":
            return f'{args[0]} AS "time"'
        if name == "__timeEpoch":
            return f'extract(epoch from {args[0]}) as "time"'
        if name == "__timeFilter":
            if not args or not args[0]:
                raise MacroError(f"missing time column argument for macro {name}")
            return f"{args[0]} BETWEEN '{rfc3339nano(start)}' AND '{rfc3339nano(end)}'"
        if name == "__timeFrom":
            return f"'{rfc3339nano(start)}'"
        if name == "__timeTo":
            return f"'{rfc3339nano(end)}'"
        if name in ("__timeGroup", "__timeGroupAlias"):
            if len(args) < 2:
                raise MacroError(f"macro {name} needs time column and interval")
            s = _go_number(parse_interval(args[1]).total_seconds())
            group = f"floor(extract(epoch from {args[0]})/{s})*{s}"
            return group + ' AS "time"' if name == "__timeGroupAlias" else group
        if name == "__unixEpochFilter":
            lo, hi = int(start.timestamp()), int(end.timestamp())
            return f"{args[0]} >= {lo} AND {args[0]} <= {hi}"
        if name == "__unixEpochFrom":
            return str(int(start.timestamp()))
        if name == "__unixEpochTo":
            return str(int(end.timestamp()))
        raise MacroError(f"unknown macro {name!r}")

    def replace(m: re.Match[str]) -> str:
        name = m[1]
        if name == "__timeGroup":
            after = sql.find(m[0]) + len(m[0])
            if after < len(sql) and sql[after] == ",":
                name = "__timeGroupAlias"  # Grafana's pre-5.3 compatibility
        return evaluate(name, [a.strip(" ") for a in m[2].split(",")])

    return MACRO.sub(replace, sql)


def expand(
    sql: str,
    variables: Mapping[str, Sequence[str]],
    time_range: TimeRange,
    interval: timedelta = timedelta(minutes=5),
) -> str:
    """A panel's SQL as PostgreSQL receives it from Grafana."""
    return expand_macros(interpolate_variables(sql, variables, interval, time_range), time_range)


def variables_used(sql: str) -> set[str]:
    """Names of the template variables (and built-ins) a query refers to."""
    names = set()
    for m in re.finditer(VARIABLE.pattern + r"(?!\()", sql):
        names.add(m[1] or m[3])
    return names
