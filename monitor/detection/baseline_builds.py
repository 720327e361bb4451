"""Creating a stored baseline from a file or from stored predictions (the work behind
``driftwarden baseline create``).

The source is read with no database transaction open (a file), or in one read-only
REPEATABLE READ transaction (predictions); the profile is then stored in a short
transaction of its own, so a failure anywhere before it stores nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from monitor.db.models import ModelVersion
from monitor.detection.baseline import (
    MAX_SAMPLE,
    ProfileError,
    Source,
    build_from_source,
    save_baseline,
)
from monitor.detection.baseline_files import SourceError, open_file
from monitor.detection.baseline_predictions import open_predictions
from monitor.layout import Layout


class BaselineError(ValueError):
    """A baseline that cannot be created; the message names what and why."""


class Reporter(Protocol):
    """What a caller is told while a baseline is built (the CLI draws progress bars)."""

    def opened(self, source: Source) -> None: ...

    def progress(self, number: int, done: int) -> None:
        """Pass ``number`` (1 or 2) has read ``done`` of the source's ``total``."""
        ...


@dataclass(frozen=True)
class Created:
    model_id: str
    version: str
    name: str
    n_rows: int
    sample_size: int
    features: tuple[str, ...]
    ignored: tuple[str, ...]
    source: dict[str, Any]


def version_schema(engine: Engine, *, model_id: str, version: str) -> list[dict[str, Any]]:
    """The feature schema of a registered version; BaselineError naming it otherwise."""
    with Session(engine) as session:
        mv = session.get(ModelVersion, (model_id, version))
        if mv is None:
            raise BaselineError(f"--model={model_id!r} --version={version!r}: not registered")
        schema = list(mv.feature_schema)
    if not schema:
        raise BaselineError(f"{model_id} v{version} has no features in its schema")
    return schema


def _build(
    source: Source,
    schema: list[dict[str, Any]],
    *,
    sample_size: int,
    reporter: Reporter | None,
) -> tuple[dict[str, Any], int]:
    if reporter is not None:
        reporter.opened(source)
    try:
        return build_from_source(
            source,
            schema,
            sample_size=sample_size,
            progress=None if reporter is None else reporter.progress,
        )
    except SourceError as exc:  # names its file already
        raise BaselineError(str(exc)) from None
    except ProfileError as exc:
        raise BaselineError(f"{source.description}: {exc}") from None


def _store(
    engine: Engine,
    *,
    model_id: str,
    version: str,
    name: str,
    profile: dict[str, Any],
    n_rows: int,
    source: dict[str, Any],
    ignored: tuple[str, ...],
) -> Created:
    profile["source"] = source
    with Session(engine) as session, session.begin():
        save_baseline(
            session,
            model_id=model_id,
            model_version=version,
            profile=profile,
            n_rows=n_rows,
            name=name,
        )
    return Created(
        model_id,
        version,
        name,
        n_rows,
        int(profile["sample_size"]),
        tuple(profile["features"]),
        ignored,
        source,
    )


def create_from_file(
    engine: Engine,
    *,
    model_id: str,
    version: str,
    path: Path,
    name: str = "training",
    sample_size: int = MAX_SAMPLE,
    batch_rows: int = 50_000,
    reporter: Reporter | None = None,
) -> Created:
    """Build the baseline ``name`` of ``model_id`` ``version`` from a CSV or Parquet file
    of its training data and store it (replacing one of that name)."""
    schema = version_schema(engine, model_id=model_id, version=version)
    try:
        source = open_file(path, {f["name"]: f["kind"] for f in schema}, batch_rows=batch_rows)
    except SourceError as exc:
        raise BaselineError(str(exc)) from None
    profile, n_rows = _build(source, schema, sample_size=sample_size, reporter=reporter)
    return _store(
        engine,
        model_id=model_id,
        version=version,
        name=name,
        profile=profile,
        n_rows=n_rows,
        source={"type": "file", "path": str(path), "format": source.format},
        ignored=source.ignored,
    )


def create_from_predictions(
    engine: Engine,
    *,
    model_id: str,
    version: str,
    start: datetime,
    end: datetime,
    name: str = "training",
    sample_size: int = MAX_SAMPLE,
    batch_rows: int = 50_000,
    reporter: Reporter | None = None,
) -> tuple[Created, int]:
    """Build the baseline from the version's stored predictions with ``start <= ts <
    end`` and store it; also returns how many predictions were skipped because their
    features had not arrived."""
    if start >= end:
        raise BaselineError(f"--from {start.isoformat()} is not before --to {end.isoformat()}")
    schema = version_schema(engine, model_id=model_id, version=version)
    with (
        engine.connect().execution_options(isolation_level="REPEATABLE READ") as conn,
        conn.begin(),
    ):
        source = open_predictions(
            conn,
            model_id=model_id,
            version=version,
            start=start,
            end=end,
            layout=Layout.from_schema(schema),
            batch_rows=batch_rows,
        )
        if source.total == 0:
            raise BaselineError(f"no stored {source.description} with features")
        profile, n_rows = _build(source, schema, sample_size=sample_size, reporter=reporter)
    created = _store(
        engine,
        model_id=model_id,
        version=version,
        name=name,
        profile=profile,
        n_rows=n_rows,
        source={
            "type": "predictions",
            "from": start.isoformat(),
            "to": end.isoformat(),
            "skipped_pending": source.pending,
        },
        ignored=(),
    )
    return created, source.pending
