"""Models and their versions, each version with its feature schema.

``POST /v1/models`` registers a model version (``monitor.model_registry.register_version``, as
``driftwarden models register``). Registering a version again with the same schema
changes nothing; with a different one it is refused (409): stored predictions of a
version are laid out by its schema. A new schema is a new version.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Path, Request, Response
from pydantic import BaseModel, ConfigDict, Field, model_validator

from monitor.api.support import LimitedRoute, not_found, session
from monitor.model_registry import (
    ModelInfo,
    SchemaConflictError,
    count_features,
    list_models,
    register_version,
)
from monitor.resources import ModelDoc

router = APIRouter(prefix="/v1", route_class=LimitedRoute, tags=["models"])

# Ids that name a resource in a URL path: no "/", no blanks, at most the column's 200.
ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,199}$"
ModelId = Annotated[
    str, Path(min_length=1, max_length=200, examples=["churn"], description="Model id")
]
TaskType = Literal["binary_classification", "multiclass_classification", "regression"]


class FeatureIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200, examples=["amount"])
    kind: Literal["numerical", "categorical"]
    range: tuple[float, float] | None = Field(default=None, examples=[[0.0, 10000.0]])
    categories: list[str] | None = Field(default=None, max_length=10_000)


class ModelIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "model_id": "churn",
                    "task_type": "binary_classification",
                    "version": "3",
                    "description": "Monthly churn propensity",
                    "features": [
                        {"name": "tenure_months", "kind": "numerical", "range": [0, 240]},
                        {"name": "plan", "kind": "categorical", "categories": ["basic", "pro"]},
                    ],
                }
            ]
        },
    )

    model_id: str = Field(pattern=ID_PATTERN)
    task_type: TaskType
    version: str = Field(pattern=ID_PATTERN)
    description: str = Field(default="", max_length=2000)
    features: list[FeatureIn] = Field(min_length=1, max_length=10_000)

    @model_validator(mode="after")
    def _unique_features(self) -> ModelIn:
        seen: set[str] = set()
        for i, f in enumerate(self.features):
            if f.name in seen:
                raise ValueError(f"features.{i}.name={f.name!r}: listed twice")
            seen.add(f.name)
        return self


class FeatureOut(BaseModel):
    """A feature of a version's schema as stored (keys added later are ignored here)."""

    model_config = ConfigDict(extra="ignore")

    name: str = Field(examples=["tenure_months"])
    kind: str = Field(examples=["numerical"])
    range: tuple[float, float] | None = Field(default=None, examples=[[0.0, 240.0]])
    categories: list[str] | None = Field(default=None, examples=[None])


class VersionSummary(BaseModel):
    version: str = Field(examples=["3"])
    created_at: datetime
    n_features: int = Field(examples=[25])


class ModelSummary(BaseModel):
    model_id: str = Field(examples=["churn"])
    task_type: str = Field(examples=["binary_classification"])
    description: str
    created_at: datetime
    versions: list[VersionSummary]


class VersionOut(BaseModel):
    version: str = Field(examples=["3"])
    created_at: datetime
    features: list[FeatureOut]


class ModelOut(BaseModel):
    model_id: str = Field(examples=["churn"])
    task_type: str = Field(examples=["binary_classification"])
    description: str
    created_at: datetime
    versions: list[VersionOut]


def _detail(info: ModelInfo) -> ModelOut:
    return ModelOut(
        model_id=info.model_id,
        task_type=info.task_type,
        description=info.description,
        created_at=info.created_at,
        versions=[
            VersionOut(
                version=v.version,
                created_at=v.created_at,
                features=[FeatureOut.model_validate(f) for f in v.features],
            )
            for v in info.versions
        ],
    )


@router.get("/models", summary="List models and their versions")
def get_models(request: Request) -> list[ModelSummary]:
    with session(request) as s:
        models = list_models(s)
        n_features = count_features(s)
    return [
        ModelSummary(
            model_id=m.model_id,
            task_type=m.task_type,
            description=m.description,
            created_at=m.created_at,
            versions=[
                VersionSummary(
                    version=v.version,
                    created_at=v.created_at,
                    n_features=n_features.get((m.model_id, v.version), 0),
                )
                for v in m.versions
            ],
        )
        for m in models
    ]


@router.get("/models/{model_id}", summary="One model, its versions and feature schemas")
def get_model(request: Request, model_id: ModelId) -> ModelOut:
    with session(request) as s:
        found = list_models(s, model_id)
    if not found:
        raise not_found(f"model_id={model_id!r}: no such model")
    return _detail(found[0])


@router.post(
    "/models",
    summary="Register a model version with its feature schema",
    status_code=201,
    responses={
        200: {"description": "The version was registered already, with this schema."},
        409: {"description": "The version is registered with another feature schema."},
    },
)
def post_model(request: Request, response: Response, body: ModelIn) -> ModelOut:
    doc = ModelDoc.model_validate(body.model_dump())
    try:
        with session(request) as s, s.begin():
            if register_version(s, doc) == "unchanged":
                response.status_code = 200
    except SchemaConflictError as exc:
        raise HTTPException(409, str(exc)) from None
    with session(request) as s:
        return _detail(list_models(s, doc.model_id)[0])
