"""POST /v1/events: the same validation and writer as Kafka ingest, over HTTP."""

from __future__ import annotations

import numpy as np
from api_support import Api
from factories import MODEL, events, recent_start, register
from sqlalchemy import Engine, text

from monitor.config import Settings


def test_good_events_are_stored_and_bad_ones_answered_by_index(
    db: Engine, settings: Settings
) -> None:
    register(db)
    good = events(recent_start(), 3, rng=np.random.default_rng(1))
    bad = {**good[0], "event_id": "bad-1", "features": {"income": "lots"}}
    label = {
        "event_id": good[0]["event_id"],
        "model_id": MODEL,
        "label": 1,
        "timestamp": recent_start().isoformat(),
    }
    api = Api(settings, scope="write")
    try:
        response = api(
            "POST",
            "/v1/events",
            json={
                "predictions": [good[0], bad, good[1], good[2], good[0]],
                "labels": [
                    label,
                    {
                        "event_id": "x",
                        "model_id": "ghost",
                        "label": 1,
                        "timestamp": recent_start().isoformat(),
                    },
                ],
            },
        )
        assert response.status_code == 200, response.text
        body = response.json()
        assert (body["stored"], body["duplicates"], body["labels"]) == (3, 1, 1)
        assert [(r["list"], r["index"], r["error_class"]) for r in body["refused"]] == [
            ("predictions", 1, "feature_type"),
            ("labels", 1, "unknown_model"),
        ]
        assert "features.income='lots'" in body["refused"][0]["error_message"]

        invalid = api("POST", "/v1/events", json={"predictions": "not a list"})
        assert invalid.status_code == 422
        assert invalid.headers["content-type"] == "application/problem+json"
        assert "predictions='not a list'" in invalid.json()["detail"]
        assert api("GET", "/healthz", auth=False).json() == {"status": "ok"}
    finally:
        api.close()
    with db.connect() as conn:
        assert conn.scalar(text("SELECT count(*) FROM predictions")) == 3
        letters = conn.execute(text('SELECT topic, "offset" FROM dead_letters ORDER BY 2')).all()
    assert [t.startswith("http/") for t, _ in letters] == [True, True]
    assert [o for _, o in letters] == [1, 6]  # positions in the request
