"""What a CBPE estimate returns: frozen, self-explaining."""

from __future__ import annotations

from dataclasses import dataclass

from detectors.estimation.interval import Interval
from detectors.estimation.metrics import METRICS, ExpectedConfusion


@dataclass(frozen=True, slots=True)
class MetricEstimate:
    """One metric of an unlabelled window: the estimate, its interval and, beside it, the
    value realized on the labelled reference (same threshold, raw scores).

    ``lower``/``upper`` bound the window's realized metric with the result's
    ``confidence`` if the calibration holds (see :class:`EstimationResult`). NaN: the
    metric is undefined here (precision with no predicted positive, for example).
    """

    metric: str
    value: float
    lower: float
    upper: float
    reference: float

    @property
    def change(self) -> float:
        """``value - reference``: the estimated change from the reference."""
        return self.value - self.reference


@dataclass(frozen=True, slots=True)
class EstimationResult:
    """CBPE's estimate of a window's performance, with every number it was made from.

    ``confusion`` holds the expected counts; the five metrics are estimated from them
    (ratios of expectations). Their intervals are central percentile intervals at
    ``confidence`` of the same metric over ``draws`` labellings of the window drawn from
    the calibrated probabilities (``interval``: "exact" Bernoulli draws or the "normal"
    approximation of their sums), spread over ``resamples`` bootstrap calibrators (0: the
    fitted calibrator alone), seeded by ``seed``.

    ``outside_reference`` is the share of the window's scores outside the reference's
    score range, where the calibration is extrapolated as a constant: when it is large,
    trust the estimate less. ``threshold`` and ``calibration`` are the fitted estimator's.
    """

    method: str
    n: int
    n_reference: int
    threshold: float
    calibration: str
    confidence: float
    interval: Interval
    draws: int
    resamples: int
    seed: int
    outside_reference: float
    confusion: ExpectedConfusion
    accuracy: MetricEstimate
    precision: MetricEstimate
    recall: MetricEstimate
    f1: MetricEstimate
    roc_auc: MetricEstimate

    @property
    def metrics(self) -> tuple[MetricEstimate, ...]:
        """The five metric estimates, in the order accuracy, precision, recall, f1,
        roc_auc."""
        return tuple(self.by_metric(m) for m in METRICS)

    def by_metric(self, name: str) -> MetricEstimate:
        """The estimate of metric ``name``; KeyError naming it and the known metrics."""
        if name not in METRICS:
            raise KeyError(f"no metric {name!r}; known: {', '.join(METRICS)}")
        estimate: MetricEstimate = getattr(self, name)
        return estimate
