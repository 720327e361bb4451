"""Baselines: the reference profile of a model version, and where they are stored.

A profile (format 2, :mod:`monitor.detection.profiler`) keeps per feature its kind, a
bounded uniform sample of rows (so exact two-sample tests can run against it without
storing the training set), a mergeable sketch, summary statistics, and the data-quality
profile and schema of the version. docs/baselines.md describes it for users.

Profiles are built from in-memory columns (:func:`build_profile`) or streamed from a
:class:`Source`, a file (``monitor.detection.baseline_files``) or stored predictions
(``monitor.detection.baseline_predictions``), by :func:`build_from_source`.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

import numpy as np
from sqlalchemy import Text, case, cast, delete, func, literal_column, select
from sqlalchemy.dialects.postgresql import JSONPATH, insert
from sqlalchemy.orm import Session

from detectors.sketches import Sketch, layout_from_dict
from monitor.db.models import Baseline, ModelVersion
from monitor.detection.bucket_refresh import resketch
from monitor.detection.feature_values import ColumnInput
from monitor.detection.profiler import MAX_SAMPLE, ProfileBuilder, ProfileError

__all__ = [
    "MAX_SAMPLE",
    "BaselineInfo",
    "ProfileError",
    "Source",
    "build_from_source",
    "build_profile",
    "copy_baseline",
    "delete_baseline",
    "list_baselines",
    "load_baselines",
    "save_baseline",
]


class Source(Protocol):
    """Reference rows, readable several times as the same batches in the same order."""

    @property
    def unit(self) -> str:
        """What progress counts: "bytes" or "rows"."""
        ...

    @property
    def total(self) -> int:
        """Progress at the end of a pass."""
        ...

    @property
    def ignored(self) -> tuple[str, ...]:
        """Columns of the source that are not schema features."""
        ...

    @property
    def description(self) -> str:
        """The source for messages: a path, or which predictions."""
        ...

    def batches(self) -> Iterator[tuple[dict[str, np.ndarray[Any, Any]], int]]:
        """``(columns, progress so far)`` per batch."""
        ...


Progress = Callable[[int, int], None]  # (pass 1 or 2, progress in the source's unit)


def build_profile(
    columns: Mapping[str, ColumnInput],
    kinds: Mapping[str, str],
    *,
    max_sample: int = MAX_SAMPLE,
    seed: int = 0,
) -> tuple[dict[str, Any], int]:
    """Return ``(profile, n_rows)`` of in-memory columns (every column the same length;
    each column's name must be in ``kinds``, and each of ``kinds`` a column). The same
    profile as the same rows streamed from a file."""
    unknown = [name for name in columns if name not in kinds]
    if unknown:
        raise ProfileError(f"baseline columns {unknown} have no kind (numerical/categorical)")
    schema = [{"name": name, "kind": kinds[name]} for name in columns]
    builder = ProfileBuilder(schema, sample_size=max_sample, seed=seed)
    builder.sample(columns)
    builder.count(columns)
    return builder.finish()


def build_from_source(
    source: Source,
    schema: Sequence[Mapping[str, Any]],
    *,
    sample_size: int = MAX_SAMPLE,
    seed: int = 0,
    progress: Progress | None = None,
) -> tuple[dict[str, Any], int]:
    """Stream ``source`` twice through a :class:`ProfileBuilder` for ``schema`` (the
    version's feature schema); ``(profile, n_rows)``. Errors of the source (its own
    exception type) and ProfileError propagate; nothing is stored here."""
    builder = ProfileBuilder(schema, sample_size=sample_size, seed=seed)
    for number, feed in ((1, builder.sample), (2, builder.count)):
        for columns, done in source.batches():
            feed(columns)
            if progress is not None:
                progress(number, done)
    return builder.finish()


def save_baseline(
    session: Session,
    *,
    model_id: str,
    model_version: str,
    profile: dict[str, Any],
    n_rows: int,
    name: str = "training",
) -> None:
    """Create or replace the named baseline of a model version."""
    sketches = {
        f: {"kind": p["kind"], "layout": p["layout"], "sketch": p["sketch"]}
        for f, p in profile["features"].items()
        if "sketch" in p
    }
    stmt = insert(Baseline).values(
        model_id=model_id,
        model_version=model_version,
        name=name,
        n_rows=n_rows,
        profile=profile,
        sketches=sketches,
    )
    session.execute(
        stmt.on_conflict_do_update(
            constraint="uq_baselines_version_name",
            set_={
                "profile": stmt.excluded.profile,
                "sketches": stmt.excluded.sketches,
                "n_rows": stmt.excluded.n_rows,
                "created_at": stmt.excluded.created_at,
            },
        )
    )
    # Stored sketches are on the baselines' layouts: rebuild the version's on the new one.
    resketch(session, model_id, model_version)


# Decoded profiles by baseline id and row version (xmin: any update of the row changes
# it), kept across windows in this process: a detect worker checks the same baselines
# window after window, and decoding a profile's megabytes of JSON each time was about a
# tenth of a short window's cost (profiled). Least recently used first out.
_PROFILES: OrderedDict[int, tuple[str, dict[str, Any]]] = OrderedDict()
PROFILE_CACHE_SIZE = 16


def load_baselines(session: Session, model_id: str, name: str) -> dict[str, dict[str, Any]]:
    """Profiles of every version of a model that has a baseline of that name (shared:
    read them, do not change them)."""
    rows = session.execute(
        select(
            Baseline.id, Baseline.model_version, cast(literal_column("baselines.xmin"), Text)
        ).where(Baseline.model_id == model_id, Baseline.name == name)
    ).all()
    out: dict[str, dict[str, Any]] = {}
    for baseline_id, version, row_version in rows:
        hit = _PROFILES.get(baseline_id)
        if hit is None or hit[0] != row_version:
            profile = session.scalar(select(Baseline.profile).where(Baseline.id == baseline_id))
            if profile is None:
                continue  # deleted since the first read
            hit = (row_version, profile)
            _PROFILES[baseline_id] = hit
            while len(_PROFILES) > PROFILE_CACHE_SIZE:
                _PROFILES.popitem(last=False)
        _PROFILES.move_to_end(baseline_id)
        out[version] = hit[1]
    return out


@dataclass(frozen=True)
class BaselineSketches:
    """What a drift check from stored sketches reads of a baseline: its row count, the
    kind of each feature and the sketch of all its rows (format 2 profiles; one made
    before sketches has none)."""

    n_rows: int
    kinds: dict[str, str]
    sketches: dict[str, Sketch]


def load_baseline_sketches(
    session: Session, model_id: str, name: str
) -> dict[str, BaselineSketches]:
    """The baselines named ``name`` of every version of a model, as sketches: read from
    ``baselines.sketches`` (kilobytes), not from the profile (megabytes of row samples)."""
    rows = session.execute(
        select(
            Baseline.model_version,
            Baseline.n_rows,
            Baseline.sketches,
        ).where(Baseline.model_id == model_id, Baseline.name == name)
    )
    out: dict[str, BaselineSketches] = {}
    for version, n_rows, features in rows:
        out[version] = BaselineSketches(
            int(n_rows),
            {f: str(p["kind"]) for f, p in features.items()},
            {
                f: Sketch.from_dict(p["sketch"], layout_from_dict(p["layout"]))
                for f, p in features.items()
            },
        )
    return out


@dataclass(frozen=True)
class BaselineInfo:
    model_id: str
    model_version: str
    name: str
    n_rows: int
    created_at: datetime
    features: tuple[str, ...]
    format: int
    source: dict[str, Any] | None


def list_baselines(session: Session, *, model_id: str | None = None) -> list[BaselineInfo]:
    """Every stored baseline (of ``model_id`` if given), by model, version and name."""
    profile = Baseline.profile
    # Only these JSON paths leave the database: a listing never reads the samples.
    # Feature names in schema order (format 2); a format-1 profile has only its features.
    names = case(
        (profile.has_key("schema"), _json_path(profile, "$.schema[*].name")),
        else_=_json_path(profile, "$.features.keyvalue().key"),
    )
    query = select(
        Baseline.model_id,
        Baseline.model_version,
        Baseline.name,
        Baseline.n_rows,
        Baseline.created_at,
        names,
        profile["format"],
        profile["source"],
    ).order_by(Baseline.model_id, Baseline.model_version, Baseline.name)
    if model_id is not None:
        query = query.where(Baseline.model_id == model_id)
    return [
        BaselineInfo(m, v, n, rows, created, tuple(features), int(fmt or 1), source)
        for m, v, n, rows, created, features, fmt, source in session.execute(query)
    ]


def _json_path(document: Any, path: str) -> Any:
    return func.jsonb_path_query_array(document, cast(path, JSONPATH))


def delete_baseline(session: Session, *, model_id: str, model_version: str, name: str) -> bool:
    """Delete one baseline; False when there was none."""
    deleted = session.execute(
        delete(Baseline)
        .where(
            Baseline.model_id == model_id,
            Baseline.model_version == model_version,
            Baseline.name == name,
        )
        .returning(Baseline.id)
    ).first()
    if deleted is not None:
        resketch(session, model_id, model_version)  # its layout's sketches go
    return deleted is not None


class BaselineCopyError(ValueError):
    """A baseline that cannot be copied; the message names the versions and features."""


def copy_baseline(
    session: Session, *, model_id: str, from_version: str, to_version: str, name: str
) -> int:
    """Store version ``from_version``'s baseline ``name`` as ``to_version``'s, when both
    versions have the same feature schema (names, kinds, ranges, categories); the number
    of rows. BaselineCopyError naming the features that differ, or the missing
    version or baseline."""
    schemas: dict[str, list[dict[str, Any]]] = dict(
        session.execute(
            select(ModelVersion.version, ModelVersion.feature_schema).where(
                ModelVersion.model_id == model_id,
                ModelVersion.version.in_([from_version, to_version]),
            )
        ).all()
    )
    for version in (from_version, to_version):
        if version not in schemas:
            raise BaselineCopyError(f"model {model_id!r} has no version {version!r}")
    old = {f["name"]: f for f in schemas[from_version]}
    new = {f["name"]: f for f in schemas[to_version]}
    differ = sorted(n for n in old.keys() | new.keys() if old.get(n) != new.get(n))
    if differ:
        raise BaselineCopyError(
            f"versions {from_version!r} and {to_version!r} of {model_id!r} differ in "
            f"features {differ}: create a new baseline for {to_version!r}"
        )
    row = session.execute(
        select(Baseline.profile, Baseline.n_rows).where(
            Baseline.model_id == model_id,
            Baseline.model_version == from_version,
            Baseline.name == name,
        )
    ).first()
    if row is None:
        raise BaselineCopyError(
            f"model {model_id!r} version {from_version!r} has no baseline named {name!r}"
        )
    profile = dict(row.profile)
    profile["source"] = {"type": "copy", "model_version": from_version, "of": profile.get("source")}
    save_baseline(
        session,
        model_id=model_id,
        model_version=to_version,
        profile=profile,
        n_rows=row.n_rows,
        name=name,
    )
    return int(row.n_rows)
