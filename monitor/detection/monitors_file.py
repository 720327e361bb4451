"""monitors.yaml: monitors as code. Parse, resolve and validate (no database here).

A file declares ``defaults``, named ``families`` and a list of ``monitors``; each monitor
is resolved as monitor > family > defaults > the built-in defaults of ``MonitorSpec``.
The maps ``window``, ``policy``, ``methods`` and ``schedule`` are merged key by key;
every other value (scalars, lists, ``features``, ``reference``) is replaced whole.
docs/monitors.md describes the format; monitor/detection/monitors_apply.py checks the
result against the database and applies it.

Every problem is reported, not just the first, each as ``FILE: PATH: message`` where the
message names the bad value, e.g. ``monitors.yaml: monitors[1].window: '-1h' is not a
duration like 15m, 1h or 1d``.
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from monitor.detection.monitor_settings import (
    FROM_SCHEMA,
    SETTINGS_KEYS,
    Problems,
    parse_layer,
    unknown_key,
)
from monitor.detection.spec import (
    DriftPolicy,
    MonitorSpec,
    PerformanceSettings,
    QualitySettings,
    Schedule,
    TimeRange,
    parse_duration,
    signal_problems,
)

FORMAT_VERSION = 1
MONITOR_KEYS = ("name", "model", "family", *SETTINGS_KEYS)
TOP_KEYS = ("version", "defaults", "families", "monitors")
# Maps merged key by key across layers; other values are replaced whole (a reference or
# a feature list is one choice: merging {baseline: x} into {from, to} would mean nothing).
MERGED_KEYS = frozenset({"window", "policy", "methods", "schedule", "performance", "data_quality"})
NAME_MAX = 200  # monitors.name and models.model_id are varchar(200)


class MonitorsFileError(ValueError):
    """A file that cannot be applied: every problem, one per line, ``FILE: PATH: what``."""

    def __init__(self, source: str, problems: list[str]) -> None:
        self.source = source
        self.problems = tuple(problems)
        super().__init__("\n".join(f"{source}: {p}" for p in problems))


@dataclass(frozen=True)
class ResolvedMonitor:
    """One monitor after inheritance: its spec and where each of its values came from."""

    name: str
    path: str  # "monitors[0]"
    enabled: bool
    spec: MonitorSpec
    # The kinds the file declared ({name: kind} form of ``features``), checked against
    # the schema at apply time; None when the file gave names or from_schema.
    kinds: dict[str, str] | None
    # "features", "methods.amount", ... -> the layer that set it ("defaults",
    # "families.payments" or the monitor's own path), so errors point where to edit.
    origins: dict[str, str] = field(default_factory=dict)

    def where(self, key: str, sub: str = "") -> str:
        """The path of ``key`` (+ ``sub``, e.g. ``[1]``) where the file wrote it, naming
        the monitor too when it was inherited from the defaults or a family."""
        return _where(self.origins, self.path, self.name, key, sub)


def _where(origins: dict[str, str], path: str, name: str, key: str, sub: str = "") -> str:
    origin = origins.get(f"{key}{sub}") or origins.get(key, path)
    suffix = "" if origin == path else f" (inherited by {path} {name!r})"
    return f"{origin}.{key}{sub}{suffix}"


@dataclass(frozen=True)
class MonitorsFile:
    source: str
    monitors: tuple[ResolvedMonitor, ...]


def _merge(
    layers: list[tuple[str, dict[str, Any]]],
) -> tuple[dict[str, Any], dict[str, str]]:
    """``(prefix, settings)`` layers, lowest precedence first -> the merged settings, and
    the prefix that set each key and each entry of a merged map ("policy.alpha")."""
    merged: dict[str, Any] = {}
    origins: dict[str, str] = {}
    for prefix, layer in layers:
        for key, value in layer.items():
            if key in MERGED_KEYS and isinstance(value, dict):
                base = merged.get(key)
                if not isinstance(base, dict):
                    base = {}
                    origins = {k: v for k, v in origins.items() if not k.startswith(f"{key}.")}
                merged[key] = {**base, **value}
                origins.update({f"{key}.{sub}": prefix for sub in value})
            else:
                merged[key] = value
            origins[key] = prefix
    return merged, origins


def _spec_fields(
    merged: dict[str, Any],
    model: str,
    path: str,
    problems: Problems,
    *,
    name: str,
    origins: dict[str, str],
    check_signals: bool = True,
) -> dict[str, Any] | None:
    """MonitorSpec's keyword arguments from a merged monitor; None if a problem was
    reported (those that span layers, like a window's every longer than its size)."""
    fields: dict[str, Any] = {"model_id": model}
    features = merged.get("features", FROM_SCHEMA)
    if features != FROM_SCHEMA:
        fields["features"] = list(features)
    window = merged.get("window")
    if isinstance(window, dict):
        if "size" not in window:
            problems.add(f"{path}.window", f"{window!r} has no size")
            return None
        size: str = window["size"]
        every: str = window.get("every", size)
        if parse_duration(every) > parse_duration(size):
            problems.add(
                f"{path}.window",
                f"every {every!r} is longer than size {size!r}: "
                "events between two windows would never be checked",
            )
            return None
        fields["window"] = size
        if parse_duration(every) != parse_duration(size):
            fields["step"] = every
    elif window is not None:
        fields["window"] = window
    for key in ("delay", "min_rows", "min_labels", "methods", "signals", "segments"):
        if key in merged:
            fields[key] = merged[key]
    reference = merged.get("reference", "training")
    if reference == "previous_window":
        fields["reference"] = "previous_window"
    elif isinstance(reference, dict) and "from" in reference:
        fields["reference"] = "fixed_window"
        fields["reference_window"] = TimeRange(start=reference["from"], end=reference["to"])
    else:
        fields["baseline"] = "training" if reference == "training" else reference["baseline"]
    if "baseline" in merged:
        # The baseline of skew and data_quality; with a baseline reference it is that one.
        if "baseline" in fields and fields["baseline"] != merged["baseline"]:
            problems.add(
                _where(origins, path, name, "baseline"),
                f"{merged['baseline']!r} is not the reference's baseline "
                f"{fields['baseline']!r}: one monitor reads one baseline (give it as "
                "reference: {baseline: NAME})",
            )
            return None
        fields["baseline"] = merged["baseline"]
    if "policy" in merged:
        fields["policy"] = DriftPolicy.model_validate(merged["policy"])
    if "schedule" in merged:
        fields["schedule"] = Schedule.model_validate(merged["schedule"])
    if "data_quality" in merged:
        fields["data_quality"] = QualitySettings.model_validate(merged["data_quality"])
    performance = PerformanceSettings.model_validate(merged.get("performance", {}))
    if "performance" in merged:
        fields["performance"] = merged["performance"]  # a map: the spec fills max_drop
    if not check_signals:
        return None
    found = signal_problems(
        list(merged.get("signals", ["data_drift"])),
        reference=fields.get("reference", "baseline"),
        baseline=fields.get("baseline", "training"),
        performance=performance,
    )
    for key, message in found:
        head, _, sub = key.partition("[")
        top, _, rest = head.partition(".")
        sub = f"[{sub}" if sub else (f".{rest}" if rest else "")
        problems.add(_where(origins, path, name, top, sub), message)
    return None if found else fields


def _string(value: Any, path: str, problems: Problems, *, what: str) -> str | None:
    if not isinstance(value, str) or not value.strip() or len(value) > NAME_MAX:
        problems.add(path, f"{value!r} is not a {what} (a string of 1 to {NAME_MAX} characters)")
        return None
    return value


def _load_yaml(text: str, source: str) -> Any:
    try:
        return yaml.load(text, Loader=_StrictLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f":{mark.line + 1}:{mark.column + 1}" if mark is not None else ""
        what = ": ".join(str(p) for p in (exc.context, exc.problem) if p)
        raise MonitorsFileError(f"{source}{where}", [f"not valid YAML: {what}"]) from None
    except yaml.YAMLError as exc:
        raise MonitorsFileError(source, [f"not valid YAML: {exc}"]) from None


def parse_monitors(text: str, *, source: str = "monitors.yaml") -> MonitorsFile:
    """Parse, resolve and validate a monitors file; raise MonitorsFileError naming every
    problem. ``source`` is how messages name the file."""
    document = _load_yaml(text, source)
    problems = Problems()
    if document is None:
        raise MonitorsFileError(source, ["the file is empty (see docs/monitors.md)"])
    if not isinstance(document, dict):
        raise MonitorsFileError(source, [f"{document!r} is not a map of {', '.join(TOP_KEYS)}"])
    for key in document:
        if key not in TOP_KEYS:
            problems.add(str(key), unknown_key(TOP_KEYS))
    version = document.get("version")
    if isinstance(version, bool) or version != FORMAT_VERSION:  # True == 1 in Python
        problems.add("version", f"{version!r} is not a supported version (supported: 1)")
    defaults = parse_layer(document.get("defaults") or {}, "defaults", problems, keys=SETTINGS_KEYS)
    families: dict[str, dict[str, Any]] = {}
    raw_families = document.get("families") or {}
    if not isinstance(raw_families, dict):
        problems.add("families", f"{raw_families!r} is not a map of family name: settings")
        raw_families = {}
    for family, body in raw_families.items():
        families[str(family)] = parse_layer(
            body or {}, f"families.{family}", problems, keys=SETTINGS_KEYS
        )
    raw_monitors = document.get("monitors")
    if not isinstance(raw_monitors, list):
        problems.add("monitors", f"{raw_monitors!r} is not a list of monitors")
        raw_monitors = []
    resolved: list[ResolvedMonitor] = []
    first_path: dict[str, str] = {}
    shared_problems = len(problems.lines)
    for i, raw in enumerate(raw_monitors):
        path = f"monitors[{i}]"
        own_problems = len(problems.lines)
        layer = parse_layer(raw, path, problems, keys=MONITOR_KEYS)
        if not isinstance(raw, dict):
            continue
        name = _string(raw.get("name"), f"{path}.name", problems, what="monitor name")
        model = _string(raw.get("model"), f"{path}.model", problems, what="model id")
        if name is not None:
            if name in first_path:
                problems.add(f"{path}.name", f"{name!r} is also the name of {first_path[name]}")
            first_path.setdefault(name, path)
        layers = [("defaults", defaults)]
        family = layer.pop("family", None)
        if family is not None:
            if not isinstance(family, str) or family not in families:
                defined = f"families: {', '.join(families)}" if families else "no families"
                problems.add(f"{path}.family", f"{family!r} is not defined ({defined})")
                continue
            layers.append((f"families.{family}", families[family]))
        layer.pop("name", None)
        layer.pop("model", None)
        layers.append((path, layer))
        merged, origins = _merge(layers)
        if name is None or model is None:
            continue
        # A setting already reported is left out of the layers: checking the signals
        # against the rest would report its consequences as problems of their own.
        settled = shared_problems == 0 and len(problems.lines) == own_problems
        fields = _spec_fields(
            merged, model, path, problems, name=name, origins=origins, check_signals=settled
        )
        if fields is None:
            continue
        try:
            spec = MonitorSpec(**fields)
        except ValidationError as exc:  # a rule of the spec not checked above
            for error in exc.errors():
                problems.add(path, error["msg"].removeprefix("Value error, "))
            continue
        features = merged.get("features")
        resolved.append(
            ResolvedMonitor(
                name=name,
                path=path,
                enabled=bool(merged.get("enabled", True)),
                spec=spec,
                kinds=dict(features) if isinstance(features, dict) else None,
                origins=origins,
            )
        )
    if problems.lines:
        raise MonitorsFileError(source, problems.lines)
    return MonitorsFile(source=source, monitors=tuple(resolved))


def load_monitors_file(path: Path) -> MonitorsFile:
    """Read and parse a monitors file; messages name it as given."""
    return parse_monitors(path.read_text(encoding="utf-8"), source=str(path))


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader that refuses a key given twice in one map (PyYAML keeps the last one
    silently, so a repeated ``window:`` would hide the first)."""


def _strict_mapping(loader: _StrictLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    seen: set[Hashable] = set()
    for key_node, _ in node.value:
        if key_node.tag == "tag:yaml.org,2002:merge":
            continue  # `<<: *anchor` keys may be overridden: that is what they are for
        key = loader.construct_object(key_node, deep=True)
        if isinstance(key, Hashable):
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    "while reading a map",
                    node.start_mark,
                    f"key {key!r} is repeated",
                    key_node.start_mark,
                )
            seen.add(key)
    return loader.construct_mapping(node, deep=True)


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _strict_mapping)
