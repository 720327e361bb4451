"""Optional backends without their library: a clear error naming the extra to install.

Alibi Detect pins numpy<2, so it is never in this environment (its own tests are in
tests_alibi/, run by ``make test-alibi``). Should it ever be installed here, its absence is
simulated: a None in sys.modules makes ``import alibi_detect`` fail as if it were missing.
"""

from __future__ import annotations

import sys
from collections.abc import Callable

import numpy as np
import pytest

from detectors.backends import BackendUnavailableError, alibi


@pytest.mark.parametrize(
    "run", [alibi.ks_drift, alibi.chisquare_drift, alibi.tabular_drift, alibi.mmd_drift]
)
def test_alibi_backend_without_alibi_detect_names_the_extra(
    monkeypatch: pytest.MonkeyPatch, run: Callable[..., object]
) -> None:
    for name in [m for m in sys.modules if m.startswith("alibi_detect.")]:
        monkeypatch.setitem(sys.modules, name, None)
    monkeypatch.setitem(sys.modules, "alibi_detect", None)
    data = {"x": np.arange(10.0)}

    with pytest.raises(BackendUnavailableError, match=r"pip install 'driftwarden\[alibi\]'"):
        run(data, data)
