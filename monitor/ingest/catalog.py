"""Known models, their versions' feature layouts, and the schema contract for features.

Per feature value: absent or null -> NULL, counted ``missing``; numerical NaN/Infinity ->
NULL, ``non_finite``; outside the schema's range -> kept, ``out_of_range``; a category
not in the schema's list -> kept, ``unseen_category``; a feature not in the schema ->
``extra_features``, ``unknown_feature``; a wrong type -> the event is a dead letter
(``feature_type``). docs/ingestion.md has this as a table, with the reasons.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import Annotated, Any, cast

import msgspec
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from monitor.db.models import Model, ModelVersion
from monitor.events import EventError
from monitor.layout import Layout

MAX_CATEGORY_CHARS = 1024
# Exactly these types (``type(v) in``, not isinstance: bool is an int but not a number here).
_NUMBER_TYPES = frozenset({float, int})
_STR_TYPE = frozenset({str})
_Category = Annotated[str, msgspec.Meta(max_length=MAX_CATEGORY_CHARS)]

Fact = tuple[str, str]  # (feature, fact)


# Not frozen: a frozen dataclass's __init__ costs 3x (object.__setattr__ per field), and
# one is made per event. Treat as immutable.
@dataclass(slots=True)
class MappedFeatures:
    num_values: list[float | None]
    cat_values: list[str | None]
    extra: dict[str, Any] | None
    facts: list[Fact]


class _Checker:
    """Checks one event's feature values; collects its quality facts. With
    ``strict=False`` (a feature log joined to a prediction already stored) a wrong type
    becomes NULL and a ``type_error`` fact instead of rejecting the event."""

    def __init__(self, model_id: str, layout: Layout, *, strict: bool) -> None:
        self.model_id, self.layout, self.strict = model_id, layout, strict
        self.facts: list[Fact] = []

    def _wrong(self, name: str, value: Any, expected: str) -> None:
        if not self.strict:
            self.facts.append((name, "type_error"))
            return
        shown = repr(value)
        if isinstance(value, str) and len(value) > 80:
            shown = f"{value[:40]!r}... ({len(value)} chars)"
        raise EventError(
            "feature_type",
            f"features.{name}={shown}: expected {expected} (model {self.model_id!r})",
        )

    def numerical(self, name: str, value: Any) -> float | None:
        if value is None:
            self.facts.append((name, "missing"))
            return None
        if isinstance(value, bool) or not isinstance(value, int | float):
            self._wrong(name, value, "a number for a numerical feature")
            return None
        number = float(value)
        if not math.isfinite(number):
            self.facts.append((name, "non_finite"))
            return None
        bounds = self.layout.ranges.get(name)
        if bounds is not None and not bounds[0] <= number <= bounds[1]:
            self.facts.append((name, "out_of_range"))
        return number

    def categorical(self, name: str, value: Any) -> str | None:
        if value is None:
            self.facts.append((name, "missing"))
            return None
        if isinstance(value, bool):
            label = "true" if value else "false"  # as JSON spells it
        elif isinstance(value, int | str):
            label = str(value)
        else:
            self._wrong(name, value, "a string, integer or boolean for a categorical feature")
            return None
        if len(label) > MAX_CATEGORY_CHARS:
            self._wrong(name, value, f"at most {MAX_CATEGORY_CHARS} characters")
            return None
        allowed = self.layout.categories.get(name)
        if allowed is not None and label not in allowed:
            self.facts.append((name, "unseen_category"))
        return label


def _plain(num_values: list[float], cat_values: list[str]) -> MappedFeatures | None:
    """The features of a common event (right types, nothing missing or extra), or None if
    a number is not finite: then the per-value checks decide. A sum of finite floats is
    finite unless it overflows; not math.fsum, which raises on an intermediate overflow."""
    if not math.isfinite(sum(num_values)):
        return None
    return MappedFeatures(
        cast("list[float | None]", num_values), cast("list[str | None]", cat_values), None, []
    )


def map_features(
    model_id: str, layout: Layout, features: Mapping[str, Any], *, strict: bool = True
) -> MappedFeatures:
    """Place the features in the layout's arrays and list the quality facts; a wrong type
    raises :class:`EventError` (or, with ``strict=False``, is counted as ``type_error``)."""
    # Fast path for the common event: every schema feature present, numbers finite,
    # short string categories, no constraints to check, nothing extra. It is what the
    # per-value checks below would conclude, in a few C-level passes (bench/ingest.py).
    if len(features) == len(layout.kinds) and layout.unconstrained:
        try:
            raw_num = layout.pick_numerical(features)
            raw_cat = layout.pick_categorical(features)
        except KeyError:  # a schema feature is absent (so an unknown one is present)
            pass
        else:
            if (
                # set(map(type, ...)) runs the type checks in C, not a Python generator.
                set(map(type, raw_num)) <= _NUMBER_TYPES
                and set(map(type, raw_cat)) <= _STR_TYPE
                and max(map(len, raw_cat), default=0) <= MAX_CATEGORY_CHARS
            ):
                plain = _plain(list(map(float, raw_num)), list(raw_cat))
                if plain is not None:
                    return plain
    check = _Checker(model_id, layout, strict=strict)
    num = [check.numerical(n, features.get(n)) for n in layout.numerical]
    cat = [check.categorical(n, features.get(n)) for n in layout.categorical]
    extra = {k: v for k, v in features.items() if layout.kind(k) is None} or None
    if extra:
        check.facts.extend((k, "unknown_feature") for k in extra)
    return MappedFeatures(num, cat, extra, check.facts)


class ContractLayout(Layout):
    """A version's layout, with the schema contract's decoder for the common event."""

    @cached_property
    def typed_features(self) -> msgspec.json.Decoder[Any] | None:
        """Decodes a features object straight into this layout's values: every feature
        present, numerical ones numbers (not booleans), categorical ones strings of at
        most MAX_CATEGORY_CHARS, nothing else. None when the schema has ranges or
        category lists to check: those events take the per-value path."""
        if not self.unconstrained:
            return None
        names = self.numerical + self.categorical
        kinds = [float] * len(self.numerical) + [_Category] * len(self.categorical)
        # Fields f0, f1, ... renamed to the feature names, which need not be identifiers.
        struct = msgspec.defstruct(
            "Features",
            [(f"f{i}", kind) for i, kind in enumerate(kinds)],
            rename={f"f{i}": name for i, name in enumerate(names)},
            forbid_unknown_fields=True,
            gc=False,
        )
        return msgspec.json.Decoder(struct)


def map_encoded_features(layout: ContractLayout, raw: msgspec.Raw) -> MappedFeatures | None:
    """The schema contract's fast path for a features object still in its JSON text: the
    common event (see ``ContractLayout.typed_features``) decoded in C into the layout, 2x
    cheaper than a dict and :func:`map_features`. None for any other: the caller then maps
    the decoded dict, which counts or rejects what is off."""
    decoder = layout.typed_features
    if decoder is None:
        return None
    try:
        values = msgspec.structs.astuple(decoder.decode(raw))
    except (msgspec.MsgspecError, UnicodeDecodeError, RecursionError):
        return None
    split = len(layout.numerical)
    return _plain(list(values[:split]), list(values[split:]))


class ModelCatalog:
    """Caches models and version layouts. It reloads (at most every ``refresh_s``) when it
    meets a model or version it does not know, so models registered while ingest runs
    are picked up. A new version of a known model is registered on first sight with the
    schema of the model's latest version (docs/ingestion.md).

    The ingest loop's two threads share one catalog: loads and registrations hold a
    lock; lookups read dictionaries that a load replaces whole, never mutates."""

    def __init__(self, *, refresh_s: float = 1.0, max_age_s: float = 60.0) -> None:
        self._refresh_s = refresh_s
        # Schemas can change (a version's features appended): reload now and then.
        self._max_age_s = max_age_s
        self._loaded_at = float("-inf")
        self._layouts: dict[str, dict[str, ContractLayout]] = {}
        self._schemas: dict[str, dict[str, list[dict[str, Any]]]] = {}
        self._latest: dict[str, str] = {}
        self._lock = threading.RLock()

    def load(self, session: Session) -> None:
        with self._lock:
            self._load(session)

    def _load(self, session: Session) -> None:
        layouts: dict[str, dict[str, ContractLayout]] = {
            m: {} for m in session.scalars(select(Model.model_id))
        }
        schemas: dict[str, dict[str, list[dict[str, Any]]]] = {m: {} for m in layouts}
        latest: dict[str, str] = {}
        rows = session.execute(
            select(
                ModelVersion.model_id, ModelVersion.version, ModelVersion.feature_schema
            ).order_by(ModelVersion.created_at)
        )
        for model_id, version, schema in rows:
            layouts.setdefault(model_id, {})[version] = ContractLayout.from_schema(schema)
            schemas.setdefault(model_id, {})[version] = schema
            latest[model_id] = version
        self._layouts, self._schemas, self._latest = layouts, schemas, latest
        self._loaded_at = time.monotonic()

    def _refresh_if_unknown(self, session: Session, model_id: str, version: str | None) -> None:
        versions = self._layouts.get(model_id)
        known = versions is not None and (version is None or version in versions)
        age = time.monotonic() - self._loaded_at
        if age >= self._max_age_s or (not known and age >= self._refresh_s):
            self.load(session)

    def check_model(self, session: Session, model_id: str) -> None:
        """Raise :class:`EventError` if ``model_id`` is not registered."""
        self._refresh_if_unknown(session, model_id, None)
        if model_id not in self._layouts:
            known = ", ".join(sorted(self._layouts)) or "none registered"
            raise EventError(
                "unknown_model", f"model_id={model_id!r}: unknown model (known: {known})"
            )

    def latest_layout(self, session: Session, model_id: str) -> ContractLayout:
        """The layout of the model's most recently registered version."""
        self.check_model(session, model_id)
        return self._layouts[model_id].get(self._latest.get(model_id, ""), ContractLayout((), ()))

    def layout(self, session: Session, model_id: str, version: str) -> ContractLayout:
        """The layout of a version, registering an unseen version of a known model."""
        # Once per event: the known, fresh case is two dictionary lookups.
        layout = self._layouts.get(model_id, {}).get(version)
        if layout is not None and time.monotonic() - self._loaded_at < self._max_age_s:
            return layout
        self._refresh_if_unknown(session, model_id, version)
        self.check_model(session, model_id)
        if version not in self._layouts[model_id]:
            with self._lock:
                schema = self._schemas[model_id].get(self._latest.get(model_id, ""), [])
                # Its own short transaction, committed before it is cached: a rolled-back
                # batch must not leave the cache with a version the database lacks.
                with Session(session.get_bind()) as own, own.begin():
                    own.execute(
                        insert(ModelVersion)
                        .values(model_id=model_id, version=version, feature_schema=schema)
                        .on_conflict_do_nothing()
                    )
                self._load(session)
        return self._layouts[model_id][version]
