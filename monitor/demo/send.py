"""Logging synthetic rows through the SDK: what the demo, `driftwarden traffic` and the
report's test share."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any

import numpy as np

from monitor.demo.traffic import Columns, SyntheticModel, predict
from monitor.sdk import PredictionLogger

VERSION = "1"


def log_rows(
    logger: PredictionLogger,
    model: SyntheticModel,
    cols: Columns,
    rng: np.random.Generator,
    *,
    timestamps: Sequence[datetime],
    id_prefix: str,
    label_every: int = 4,
    first: int = 0,
    label_delay: timedelta = timedelta(0),
    label_of: Callable[[Any], Any] | None = None,
) -> int:
    """Log each row of ``cols`` as a prediction of ``model`` (the stand-in model's output
    and scores) at its timestamp, and the ground truth of the rows whose running number
    (from ``first``) is a multiple of ``label_every``, ``label_delay`` later: the
    prediction itself, or ``label_of(prediction)``. Returns the labels sent."""
    labels = 0
    for i, ts in enumerate(timestamps):
        row = {name: values[i] for name, values in cols.items()}
        prediction, scores = predict(model, row, rng)
        event_id = logger.log_prediction(
            model_id=model.model_id,
            model_version=VERSION,
            features=row,
            prediction=prediction,
            scores=scores,
            timestamp=ts,
            event_id=f"{id_prefix}-{i}-{uuid.uuid4().hex[:8]}",
        )
        if (first + i) % label_every == 0:
            logger.log_label(
                event_id=event_id,
                model_id=model.model_id,
                label=prediction if label_of is None else label_of(prediction),
                timestamp=ts + label_delay,
            )
            labels += 1
    return labels
