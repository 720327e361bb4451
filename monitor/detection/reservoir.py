"""A bounded uniform sample of the rows of a stream (reservoir sampling, Algorithm R).

The reservoir chooses row *positions*; the caller copies the chosen rows of every column
into the same slots, so the sample is a sample of rows (features stay paired).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True, slots=True)
class Placement:
    """Rows of one batch that enter the reservoir: batch row ``rows[i]`` goes to slot
    ``slots[i]``. Slots are distinct, so the writes can be applied in any order."""

    slots: IntArray
    rows: IntArray


class RowReservoir:
    """Algorithm R (Vitter 1985) over row indices, vectorised per batch.

    Row ``i`` (0-based over the whole stream) fills slot ``i`` while ``i < size``; after
    that it replaces slot ``j = floor(u * (i + 1))`` when ``j < size``, ``u`` uniform on
    [0, 1) from ``numpy.random.default_rng(seed)``. After ``n`` rows every row is in the
    sample with probability ``size / n``, and every subset of ``size`` rows is equally
    likely (up to the 2**-53 resolution of ``u``: a relative bias below ``n / 2**53``).

    One ``u`` is drawn per row past the first ``size``, in row order, and numpy's
    ``random(k)`` yields the same doubles whether asked for at once or in pieces, so the
    sample depends on the seed and the rows only, never on how the stream was cut into
    batches.
    """

    def __init__(self, size: int, *, seed: int = 0) -> None:
        if size < 1:
            raise ValueError(f"sample size must be at least 1, got {size}")
        self.size = size
        self.seen = 0
        self._rng = np.random.default_rng(seed)
        # Stream index of the row held by each slot (-1: empty).
        self._source: IntArray = np.full(size, -1, dtype=np.int64)

    @property
    def filled(self) -> int:
        """Slots holding a row: ``min(size, seen)``."""
        return min(self.size, self.seen)

    @property
    def source_rows(self) -> IntArray:
        """Stream index of the row in each filled slot."""
        return self._source[: self.filled]

    def offer(self, n: int) -> Placement:
        """Account for the next ``n`` rows of the stream; return those that enter."""
        if n < 0:
            raise ValueError(f"a batch has at least 0 rows, got {n}")
        start = self.seen
        fill = max(0, min(n, self.size - start))
        slots = [np.arange(start, start + fill, dtype=np.int64)]
        rows = [np.arange(fill, dtype=np.int64)]
        rest = n - fill
        if rest:
            index = np.arange(start + fill, start + n, dtype=np.int64)
            u = self._rng.random(rest)
            j = (u * (index + 1).astype(np.float64)).astype(np.int64)
            hit = j < self.size
            slots.append(j[hit])
            rows.append(index[hit] - start)
        all_slots = np.concatenate(slots)
        all_rows = np.concatenate(rows)
        # A slot hit twice in one batch keeps the later row, as row-by-row replacement would.
        reverse_slots = all_slots[::-1]
        _, first_in_reverse = np.unique(reverse_slots, return_index=True)
        keep = all_slots.size - 1 - first_in_reverse
        placement = Placement(all_slots[keep], all_rows[keep])
        self._source[placement.slots] = placement.rows + start
        self.seen += n
        return placement
