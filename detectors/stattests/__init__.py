"""Built-in stat tests; importing this package registers them."""

from __future__ import annotations

from detectors.stattests import chisquare, ks

__all__ = ["chisquare", "ks"]
