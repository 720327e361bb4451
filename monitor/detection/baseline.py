"""Reference profiles of a model version (the training data's distribution).

A profile keeps, per feature, its kind and a bounded uniform sample, so exact two-sample
tests can run against it without storing the training set.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from monitor.db.models import Baseline

MAX_SAMPLE = 20_000


def build_profile(
    columns: Mapping[str, Sequence[Any]],
    kinds: Mapping[str, str],
    *,
    max_sample: int = MAX_SAMPLE,
    seed: int = 0,
) -> tuple[dict[str, Any], int]:
    """Return ``(profile, n_rows)``. Every column must have the same length."""
    lengths = {name: len(values) for name, values in columns.items()}
    if len(set(lengths.values())) > 1:
        raise ValueError(f"baseline columns differ in length: {lengths}")
    n_rows = next(iter(lengths.values()), 0)
    rng = np.random.default_rng(seed)
    keep = np.sort(rng.choice(n_rows, size=min(n_rows, max_sample), replace=False))
    features: dict[str, Any] = {}
    for name, values in columns.items():
        if name not in kinds:
            raise ValueError(f"baseline column {name!r} has no kind (numerical/categorical)")
        sample = [values[int(i)] for i in keep]
        if kinds[name] == "numerical":
            # JSON has no NaN: missing numbers are stored as null.
            sample = [None if v is None or math.isnan(v) else float(v) for v in sample]
        features[name] = {"kind": kinds[name], "sample": sample}
    return {"features": features, "sample_size": len(keep)}, n_rows


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
    stmt = insert(Baseline).values(
        model_id=model_id, model_version=model_version, name=name, n_rows=n_rows, profile=profile
    )
    session.execute(
        stmt.on_conflict_do_update(
            constraint="uq_baselines_version_name",
            set_={"profile": stmt.excluded.profile, "n_rows": stmt.excluded.n_rows},
        )
    )


def load_baselines(session: Session, model_id: str, name: str) -> dict[str, dict[str, Any]]:
    """Profiles of every version of a model that has a baseline of that name."""
    rows = session.execute(
        select(Baseline.model_version, Baseline.profile).where(
            Baseline.model_id == model_id, Baseline.name == name
        )
    )
    return {version: profile for version, profile in rows}
