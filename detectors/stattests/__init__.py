"""Built-in stat tests, one module per test; importing this package registers them all."""

from __future__ import annotations

import importlib
import pkgutil

# Every module in this package is a stat test: a new file is registered without an
# edit here (and the registry refuses a name registered twice).
for _module in pkgutil.iter_modules(__path__):
    importlib.import_module(f"{__name__}.{_module.name}")
