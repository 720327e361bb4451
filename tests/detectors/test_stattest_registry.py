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


def test_the_issue_s_tests_are_all_registered() -> None:
    numerical = {"ks", "wasserstein", "psi", "kl_div", "jensenshannon", "hellinger"}
    numerical |= {"anderson", "cramer_von_mises", "energy", "mannw", "t_test"}
    numerical |= {"epps_singleton", "empirical_mmd"}
    categorical = {"chisquare", "z", "fisher_exact", "g_test", "tvd", "psi"}
    categorical |= {"jensenshannon", "hellinger", "l_infinity", "kl_div"}  # kl_div: ours too
    assert {n for n in available() if stattest(n).supports("numerical")} == numerical
    assert {n for n in available() if stattest(n).supports("categorical")} == categorical


def test_docs_table_lists_every_registered_test_once() -> None:
    from pathlib import Path  # noqa: PLC0415

    docs = Path(__file__).parents[2] / "docs" / "detectors.md"
    section = docs.read_text().split("## Stat test registry")[1].split("\n## ")[0]
    rows = [line.split("`")[1] for line in section.splitlines() if line.startswith("| `")]
    assert sorted(rows) == available()
    for line in section.splitlines():
        if line.startswith("| `"):
            name = line.split("`")[1]
            cells = [c.strip() for c in line.split("|")[1:-1]]
            assert cells[2] == stattest(name).decision, name
            assert float(cells[3]) == stattest(name).default_threshold, name
