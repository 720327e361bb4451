"""Optional backends: established implementations run behind our result types.

Each backend module imports its library only when called, so ``import detectors`` never
needs it; a missing library raises :class:`BackendUnavailableError` naming the extra to
install.
"""

from __future__ import annotations


class BackendUnavailableError(ImportError):
    """The backend's library is not installed; the message names the extra."""

    def __init__(self, backend: str, extra: str) -> None:
        super().__init__(
            f"the {backend} backend needs the {extra!r} extra: pip install 'driftwarden[{extra}]'"
        )
