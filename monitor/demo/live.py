"""`driftwarden traffic`: the demo's two synthetic models as live traffic, for trying a
deployed stack (``docker compose --profile traffic up``).

Unlike `driftwarden demo`, which replays twelve past hours into embedded services and
exits, this registers the models, their training baselines and short-window monitors in
the configured database (once: a restart keeps them), then produces events stamped
with the current time to the configured topics until SIGTERM, the drifting features
shifting ``drift_after`` after the start. The running ingest, detect and alert roles do
the rest, so the dashboards fill in as they would with a real model.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from importlib import resources

import numpy as np
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from monitor.config import Settings
from monitor.db.models import Baseline
from monitor.demo.runner import configure_model
from monitor.demo.send import VERSION, log_rows
from monitor.demo.traffic import ETA, FRAUD, SyntheticModel
from monitor.detection.monitors_apply import apply_monitors
from monitor.detection.monitors_file import parse_monitors
from monitor.sdk import PredictionLogger

log = logging.getLogger(__name__)

MODELS = (FRAUD, ETA)
MONITORS_FILE = "live_monitors.yaml"  # next to this module; shipped as package data
# One label per this many predictions, sent at once: the performance panels get data
# without waiting for a real delay.
LABEL_EVERY = 4
TICK_S = 0.1
CONNECT_TIMEOUT_S = 30.0


def register_live_models(engine: Engine, *, seed: int = 7) -> list[str]:
    """The demo models, their training baselines and the live monitors, in one
    transaction. A model that already has its baseline keeps it (re-saving one would
    have every stored sketch of the model rebuilt). Returns the models registered now."""
    text = resources.files("monitor.demo").joinpath(MONITORS_FILE).read_text(encoding="utf-8")
    added = []
    with Session(engine) as session, session.begin():
        for model in MODELS:
            has_baseline = session.scalar(
                select(Baseline.id).where(
                    Baseline.model_id == model.model_id, Baseline.model_version == VERSION
                )
            )
            if has_baseline is None:
                configure_model(session, model, seed)
                added.append(model.model_id)
        apply_monitors(session, parse_monitors(text, source=f"monitor/demo/{MONITORS_FILE}"))
    return added


@dataclass
class LiveCounts:
    predictions: int = 0
    labels: int = 0
    dropped: int = 0


def produce_live(
    settings: Settings,
    stop: threading.Event,
    *,
    rate: float,
    drift_after: timedelta,
    seed: int = 7,
    on_minute: Callable[[LiveCounts, bool], None] | None = None,
) -> LiveCounts:
    """Produce ``rate`` predictions per second per model, stamped now, until ``stop``;
    the drifting models' shifted features from ``drift_after`` on."""
    rng = np.random.default_rng(seed)
    logger = PredictionLogger(
        bootstrap_servers=settings.bootstrap_servers,
        predictions_topic=settings.predictions_topic,
        labels_topic=settings.labels_topic,
        features_topic=settings.features_topic,
    )
    counts = LiveCounts()
    try:
        # The logger drops what is sent before it has connected; start the clock once it
        # has, so the first ticks are not lost and every count printed is of sent events.
        if not logger.wait_connected(CONNECT_TIMEOUT_S, stop=stop):
            if stop.is_set():
                return counts
            raise RuntimeError(
                f"the broker at {settings.kafka_bootstrap_servers} did not accept the producer "
                f"in {CONNECT_TIMEOUT_S:g} s"
            )
        started = last = time.monotonic()
        minute = started
        owed = dict.fromkeys((m.model_id for m in MODELS), 0.0)
        while not stop.wait(TICK_S):
            now_m = time.monotonic()
            drifting = now_m - started >= drift_after.total_seconds()
            for model in MODELS:
                owed[model.model_id] += rate * (now_m - last)
                n = int(owed[model.model_id])
                owed[model.model_id] -= n
                if n:
                    _send(
                        logger,
                        model,
                        rng,
                        n,
                        drift=drifting and bool(model.drifted_features),
                        counts=counts,
                    )
            last = now_m
            if on_minute is not None and now_m - minute >= 60:
                minute = now_m
                counts.dropped = logger.dropped
                on_minute(counts, drifting)
    finally:
        logger.flush()
        logger.close()
        counts.dropped = logger.dropped
    return counts


def _send(
    logger: PredictionLogger,
    model: SyntheticModel,
    rng: np.random.Generator,
    n: int,
    *,
    drift: bool,
    counts: LiveCounts,
) -> None:
    cols = model.generate(rng, n, drift)
    counts.labels += log_rows(
        logger,
        model,
        cols,
        rng,
        timestamps=[datetime.now(UTC)] * n,
        id_prefix=f"{model.model_id}-live-{counts.predictions}",
        label_every=LABEL_EVERY,
        first=counts.predictions,
    )
    counts.predictions += n
