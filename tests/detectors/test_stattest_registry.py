from __future__ import annotations

import numpy as np
import pytest

import detectors
from detectors import StatResult, UnknownStatTestError, available, stattest
from detectors.registry import register


def test_builtin_tests_are_registered_on_import() -> None:
    assert {"ks", "chisquare"} <= set(available())
    assert available() == sorted(available())
    assert stattest("ks").kinds == {"numerical"}
    assert stattest("chisquare").kinds == {"categorical"}


def test_stattest_is_callable() -> None:
    res = stattest("ks")(np.array([1.0, 2.0, 3.0]), np.array([1.0, 2.0, 3.0]))
    assert isinstance(res, StatResult)
    assert res.statistic == 0.0


def test_unknown_name_lists_known_names() -> None:
    with pytest.raises(UnknownStatTestError) as info:
        stattest("kolmogorov")
    message = str(info.value)
    assert "'kolmogorov'" in message
    for name in available():
        assert name in message
    # Catchable as either a failed lookup or bad input.
    assert isinstance(info.value, KeyError)
    assert isinstance(info.value, ValueError)


def test_duplicate_registration_is_refused() -> None:
    with pytest.raises(ValueError, match="'ks' is already registered"):
        register("ks", kinds={"numerical"}, default_min_effect=0.1)(detectors.stattest("ks").fn)


def test_unknown_kind_is_refused() -> None:
    with pytest.raises(ValueError, match="kinds"):
        register("x", kinds={"text"}, default_min_effect=0.1)
