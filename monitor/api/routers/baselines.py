"""Baselines of a model's versions: list, create from stored predictions, upload a
training file (CSV or Parquet), delete. The work is ``driftwarden baseline create``'s
(monitor/detection/baseline_builds.py, baseline.py); docs/baselines.md.

An upload is streamed to a private temporary directory under a name chosen here
(``upload.csv`` or ``upload.parquet``): the client's file name only picks the format
and is kept, cleaned, as a label in the baseline's ``source``; it is never a path.
Bodies over ``UPLOAD_MAX_BYTES`` are refused (413) while they arrive.
"""

from __future__ import annotations

import re
import shutil
import tempfile
from datetime import datetime
from pathlib import Path as FilePath
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, HTTPException, Path, Query, Request, UploadFile
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from monitor.api.routers.models import ID_PATTERN, ModelId
from monitor.api.support import LimitedRoute, max_body, not_found, session
from monitor.db.models import Model, ModelVersion
from monitor.detection import baseline_builds as builds
from monitor.detection.baseline import (
    MAX_SAMPLE,
    ProfileError,
    build_from_source,
    delete_baseline,
    list_baselines,
    save_baseline,
)
from monitor.detection.baseline_files import SUFFIXES, SourceError, open_file

router = APIRouter(prefix="/v1", route_class=LimitedRoute, tags=["baselines"])

UPLOAD_MAX_BYTES = 512 << 20  # a training file of a few million rows
_SAFE = re.compile(r"[^A-Za-z0-9._-]+")
BaselineName = Annotated[
    str, Path(pattern=ID_PATTERN, examples=["training"], description="Baseline name")
]


class BaselineOut(BaseModel):
    model_id: str = Field(examples=["churn"])
    version: str = Field(examples=["3"])
    name: str = Field(examples=["training"])
    n_rows: int = Field(examples=[250000])
    created_at: datetime
    features: list[str] = Field(examples=[["tenure_months", "plan"]])
    format: int = Field(examples=[2])
    source: dict[str, Any] | None = Field(
        examples=[{"type": "upload", "filename": "train.parquet", "format": "parquet"}]
    )


class BaselineFromRange(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "version": "3",
                    "from": "2026-11-01T00:00:00Z",
                    "to": "2026-11-08T00:00:00Z",
                    "name": "training",
                }
            ]
        },
    )

    version: str = Field(pattern=ID_PATTERN)
    start: AwareDatetime = Field(alias="from")
    end: AwareDatetime = Field(alias="to")
    name: str = Field(default="training", pattern=ID_PATTERN)
    sample_size: int = Field(default=MAX_SAMPLE, ge=1, le=MAX_SAMPLE)


class BaselineCreated(BaseModel):
    model_id: str = Field(examples=["churn"])
    version: str = Field(examples=["3"])
    name: str = Field(examples=["training"])
    n_rows: int = Field(examples=[250000])
    sample_size: int = Field(examples=[20000])
    features: list[str] = Field(examples=[["tenure_months", "plan"]])
    ignored_columns: list[str] = Field(examples=[["customer_id"]])
    source: dict[str, Any]
    skipped_pending: int = Field(
        default=0, description="Predictions skipped: their features had not arrived."
    )


def _created(c: builds.Created, skipped: int = 0) -> BaselineCreated:
    return BaselineCreated(
        model_id=c.model_id,
        version=c.version,
        name=c.name,
        n_rows=c.n_rows,
        sample_size=c.sample_size,
        features=list(c.features),
        ignored_columns=list(c.ignored),
        source=c.source,
        skipped_pending=skipped,
    )


def _require_model(request: Request, model_id: str, version: str | None = None) -> None:
    with session(request) as s:
        if s.get(Model, model_id) is None:
            raise not_found(f"model_id={model_id!r}: no such model")
        if version is not None and s.get(ModelVersion, (model_id, version)) is None:
            raise not_found(f"version={version!r}: model {model_id!r} has no such version")


@router.get("/models/{model_id}/baselines", summary="List a model's baselines")
def get_baselines(request: Request, model_id: ModelId) -> list[BaselineOut]:
    _require_model(request, model_id)
    with session(request) as s:
        infos = list_baselines(s, model_id=model_id)
    return [
        BaselineOut(
            model_id=b.model_id,
            version=b.model_version,
            name=b.name,
            n_rows=b.n_rows,
            created_at=b.created_at,
            features=list(b.features),
            format=b.format,
            source=b.source,
        )
        for b in infos
    ]


@router.post(
    "/models/{model_id}/baselines",
    summary="Create a baseline from a range of stored predictions",
    status_code=201,
)
def post_baseline(request: Request, model_id: ModelId, body: BaselineFromRange) -> BaselineCreated:
    _require_model(request, model_id, body.version)
    try:
        created, pending = builds.create_from_predictions(
            request.app.state.engine,
            model_id=model_id,
            version=body.version,
            start=body.start,
            end=body.end,
            name=body.name,
            sample_size=body.sample_size,
        )
    except builds.BaselineError as exc:
        raise HTTPException(
            422, str(exc).replace("--from ", "from=").replace("--to ", "to=")
        ) from None
    return _created(created, pending)


def clean_file_name(name: str | None) -> str:
    """The client's file name as a label: its last path component, only ``[A-Za-z0-9._-]``,
    no leading dots, at most 100 characters ("upload" when nothing is left)."""
    last = re.split(r"[/\\]", name or "")[-1]
    cleaned = _SAFE.sub("_", last).lstrip(".")[-100:]
    return cleaned or "upload"


@router.post(
    "/models/{model_id}/baselines/upload",
    summary="Create a baseline from an uploaded CSV or Parquet training file",
    status_code=201,
    responses={413: {"description": f"The body is over {UPLOAD_MAX_BYTES >> 20} MiB."}},
)
@max_body(UPLOAD_MAX_BYTES)
def upload_baseline(  # keyword-only: one per form field
    request: Request,
    *,
    model_id: ModelId,
    file: Annotated[UploadFile, File(description="Training data: .csv, .parquet or .pq")],
    version: Annotated[str, Form(pattern=ID_PATTERN, examples=["3"])],
    name: Annotated[str, Form(pattern=ID_PATTERN, examples=["training"])] = "training",
    sample_size: Annotated[int, Form(ge=1, le=MAX_SAMPLE)] = MAX_SAMPLE,
) -> BaselineCreated:
    label = clean_file_name(file.filename)
    suffix = FilePath(label).suffix.lower()
    if suffix not in SUFFIXES:
        raise HTTPException(
            422,
            f"file.filename={label!r}: unknown file type {suffix!r}; "
            f"expected one of {sorted(SUFFIXES)}",
        )
    _require_model(request, model_id, version)
    engine = request.app.state.engine
    with tempfile.TemporaryDirectory(prefix="driftwarden-upload-") as tmp:
        path = FilePath(tmp) / f"upload{suffix}"
        with path.open("wb") as out:
            shutil.copyfileobj(file.file, out, 1 << 20)
        size = path.stat().st_size
        try:
            schema = builds.version_schema(engine, model_id=model_id, version=version)
            source = open_file(path, {f["name"]: f["kind"] for f in schema})
            profile, n_rows = build_from_source(source, schema, sample_size=sample_size)
        except (SourceError, ProfileError, builds.BaselineError) as exc:
            # Messages name the file: the label, never the temporary path.
            raise HTTPException(422, f"file: {str(exc).replace(str(path), label)}") from None
    profile["source"] = {
        "type": "upload",
        "filename": label,
        "format": source.format,
        "bytes": size,
    }
    with session(request) as s, s.begin():
        save_baseline(
            s, model_id=model_id, model_version=version, profile=profile, n_rows=n_rows, name=name
        )
    return BaselineCreated(
        model_id=model_id,
        version=version,
        name=name,
        n_rows=n_rows,
        sample_size=int(profile["sample_size"]),
        features=list(profile["features"]),
        ignored_columns=list(source.ignored),
        source=profile["source"],
    )


@router.delete("/models/{model_id}/baselines/{name}", summary="Delete a baseline")
def remove_baseline(
    request: Request,
    model_id: ModelId,
    name: BaselineName,
    version: Annotated[str, Query(min_length=1, max_length=200, examples=["3"])],
) -> dict[str, str]:
    _require_model(request, model_id)
    with session(request) as s, s.begin():
        deleted = delete_baseline(s, model_id=model_id, model_version=version, name=name)
    if not deleted:
        raise not_found(
            f"name={name!r} version={version!r}: model {model_id!r} has no such baseline"
        )
    return {"deleted": name, "model_id": model_id, "version": version}
