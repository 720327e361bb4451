"""Synthetic models and traffic with drift injected into known features at a known time."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

Columns = dict[str, list[Any]]


@dataclass(frozen=True)
class SyntheticModel:
    model_id: str
    task_type: str
    kinds: dict[str, str]
    generate: Callable[[np.random.Generator, int, bool], Columns]
    # Features whose distribution changes once drift starts (empty: a stable model).
    drifted_features: frozenset[str] = field(default_factory=frozenset)


def _fraud(rng: np.random.Generator, n: int, drift: bool) -> Columns:
    merchants = [
        "grocery",
        "fuel",
        "travel",
        "electronics",
        "fashion",
        "gaming",
        "pharmacy",
        "food",
    ]
    p_merchant = np.array([0.25, 0.15, 0.1, 0.1, 0.15, 0.05, 0.1, 0.1])
    if drift:  # a campaign moves spend towards electronics and gaming
        p_merchant = np.array([0.12, 0.1, 0.08, 0.25, 0.1, 0.17, 0.08, 0.1])
    amount = rng.lognormal(mean=3.2, sigma=0.9, size=n) * (1.8 if drift else 1.0)
    age = rng.gamma(shape=2.0, scale=300.0, size=n)
    # 2% of device values are missing, in training and in production alike.
    device = rng.choice(["ios", "android", "web"], p=[0.4, 0.45, 0.15], size=n).astype(object)
    device[rng.random(n) < 0.02] = None
    return {
        "amount": np.round(amount, 2).tolist(),
        "account_age_days": np.round(age, 1).tolist(),
        "tx_last_24h": rng.poisson(3.0, size=n).tolist(),
        "distance_from_home_km": np.round(rng.exponential(12.0, size=n), 2).tolist(),
        "hour_of_day": rng.integers(0, 24, size=n).tolist(),
        "merchant_category": rng.choice(merchants, p=p_merchant, size=n).tolist(),
        "country": rng.choice(["DE", "FR", "NL", "ES", "IT", "PL"], size=n).tolist(),
        "device": device.tolist(),
    }


def _eta(rng: np.random.Generator, n: int, drift: bool) -> Columns:
    return {
        "distance_km": np.round(rng.gamma(2.5, 3.0, size=n), 2).tolist(),
        "traffic_index": np.round(rng.beta(2, 5, size=n), 3).tolist(),
        "driver_rating": np.round(np.clip(rng.normal(4.6, 0.25, size=n), 1, 5), 2).tolist(),
        "items": rng.integers(1, 8, size=n).tolist(),
        "weather": rng.choice(
            ["clear", "rain", "snow", "fog"], p=[0.6, 0.3, 0.05, 0.05], size=n
        ).tolist(),
        "vehicle": rng.choice(["bike", "scooter", "car"], p=[0.3, 0.4, 0.3], size=n).tolist(),
    }


FRAUD = SyntheticModel(
    "fraud-detector",
    "binary_classification",
    {
        "amount": "numerical",
        "account_age_days": "numerical",
        "tx_last_24h": "numerical",
        "distance_from_home_km": "numerical",
        "hour_of_day": "numerical",
        "merchant_category": "categorical",
        "country": "categorical",
        "device": "categorical",
    },
    _fraud,
    frozenset({"amount", "merchant_category"}),
)

ETA = SyntheticModel(
    "eta-regressor",
    "regression",
    {
        "distance_km": "numerical",
        "traffic_index": "numerical",
        "driver_rating": "numerical",
        "items": "numerical",
        "weather": "categorical",
        "vehicle": "categorical",
    },
    _eta,
)


def predict(
    model: SyntheticModel, row: dict[str, Any], rng: np.random.Generator
) -> tuple[Any, dict[str, float] | None]:
    """A stand-in model's (prediction, class scores): plausible, not the point of the demo."""
    if model.task_type == "regression":
        value = 5 + 2.2 * float(row["distance_km"]) + 10 * float(row["traffic_index"])
        return round(value, 1), None
    score = min(0.99, float(row["amount"]) / 400 + 0.05 * rng.random())
    return int(score > 0.5), {"0": round(1 - score, 4), "1": round(score, 4)}
