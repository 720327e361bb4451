"""Mergeable window sketches: one small summary per column and time bucket, merged to any window.

A :class:`Sketch` holds counts over a fixed :class:`NumericLayout` or
:class:`CategoricalLayout` (built once from the reference), plus, for numbers, exact
:class:`Moments`. Merging adds counts and exact sums, so it is exact, associative and
commutative, and ``sketch(a ++ b) == merge(sketch(a), sketch(b))``: a month of 5-minute
buckets merges to the same sketch as the month's rows, and :func:`compare` costs the same
on either.

Numerical bins: the layout's edges ``e_0 < ... < e_m-1`` are reference values (quantiles
by the inverted CDF at ``1/bins, ..., (bins-1)/bins``, ties merged), so each bin holds about
``1/bins`` of the reference. The value bins are ``(-inf, e_0), [e_0, e_1), ...,
[e_m-1, +inf)`` (a value on an edge belongs to the bin it opens); then one bin counts +-inf
and one NaN/None. The distances use the value bins only: like the registered numerical
tests, they drop non-finite values; the two last bins keep the null and infinity rates for
data-quality checks. The moments of the finite values (the exact sum of each value bin,
the exact sum of squares, min, max) are integers in units of the smallest float (2**-1074;
2**-2148 for squares), which every float64 is a multiple of: adding them is exact, so the
mean and standard deviation do not depend on how a window was cut into buckets, and the
per-bin sums make the binned Wasserstein distance exact in every bin where the two CDFs
cannot cross.

Categorical bins: the reference's ``top_k`` categories (by count, ties by name) in that
order, then ``__other__`` (a category the reference has outside its top k), ``__unseen__``
(one it never had) and ``__missing__`` (None/NaN). Categories are compared as strings, as
in ``chisquare.category_counts``. To tell other from unseen the layout keeps 64-bit hashes
(BLAKE2b) of the reference's other categories when there are at most ``max_known``
(10,000; 80 KB); a hash collision (chance about 10^4 / 2^64 per new category) counts an
unseen category as other. Beyond ``max_known`` the layout is *open* (``known`` None): the
column is high-cardinality, every category outside the top k counts as ``__other__`` and
``__unseen__`` stays 0.

A sketch stores its layout's fingerprint (16 hex digits of a SHA-256 of the layout), not
the layout: :meth:`Sketch.to_bytes` / :meth:`Sketch.to_dict` (JSONB) hold counts and
moments, and reading one back needs the layout, whose fingerprint must match.
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
import struct
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any, ClassVar, Literal

import numpy as np
import numpy.typing as npt
from scipy import special

from detectors.binning import CountArray, FloatArray
from detectors.columns import convert, finite
from detectors.registry import UnknownStatTestError
from detectors.stattests.chisquare import MISSING, chisquare_from_counts, label_counts
from detectors.stattests.g_test import g_test_from_counts
from detectors.stattests.hellinger import hellinger_from_counts
from detectors.stattests.jensenshannon import jensenshannon_from_counts
from detectors.stattests.kl_div import kl_div_from_counts
from detectors.stattests.l_infinity import l_infinity_distance
from detectors.stattests.psi import psi_from_counts
from detectors.stattests.tvd import total_variation
from detectors.stattests.wasserstein import MIN_STD
from detectors.types import ColumnData, StatResult

OTHER = "__other__"
UNSEEN = "__unseen__"
DEFAULT_BINS = 20
DEFAULT_TOP_K = 50
MAX_KNOWN = 10_000
# Every float64 is an integer multiple of 2**SUM_EXP, every square of one of 2**SQ_EXP.
SUM_EXP = -1074
SQ_EXP = 2 * SUM_EXP

_FORMAT = 1
_MAGIC = b"DWSK"
_HEADER = struct.Struct("<4sBB8sBI")  # magic, format, kind, fingerprint, count width, bins
_MINMAX = struct.Struct("<dd")
_DYADIC = struct.Struct("<hH")  # exponent, byte length of the numerator
_KIND_CODES: dict[str, int] = {"numerical": 0, "categorical": 1}
_WIDTHS = (1, 2, 4, 8)
# Rows per pass of the exact sums: limb sums stay below 2**53, so float64 adds are exact.
_CHUNK = 1 << 20
_MASK26 = (1 << 26) - 1
_MASK27 = (1 << 27) - 1
IntArray = npt.NDArray[np.int64]


def _fingerprint(kind: str, payload: bytes) -> str:
    return hashlib.sha256(kind.encode() + b"\0" + payload).hexdigest()[:16]


def label_hash(label: str) -> int:
    """The 64-bit BLAKE2b hash that stands for a category in ``CategoricalLayout.known``
    (and in the data-quality profile's known categories, so both agree)."""
    digest = hashlib.blake2b(label.encode("utf-8", "surrogatepass"), digest_size=8).digest()
    return int.from_bytes(digest, "little")


# --- layouts -------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class NumericLayout:
    """Bins of a numerical column: value bins ``(-inf, e_0), [e_0, e_1), ..., [e_m-1, +inf)``
    over the strictly increasing finite ``edges``, then a +-inf bin and a NaN bin. Layouts
    are equal when their fingerprints are."""

    edges: FloatArray
    fingerprint: str = field(init=False)
    kind: ClassVar[Literal["numerical"]] = "numerical"

    def __post_init__(self) -> None:
        # + 0.0 turns -0.0 into 0.0: the two bin alike and must fingerprint alike.
        edges = np.array(self.edges, dtype=np.float64, copy=True).ravel() + 0.0
        if not np.isfinite(edges).all() or (np.diff(edges) <= 0).any():
            raise ValueError("layout edges must be finite and strictly increasing")
        edges.setflags(write=False)
        object.__setattr__(self, "edges", edges)
        object.__setattr__(
            self, "fingerprint", _fingerprint(self.kind, edges.astype("<f8").tobytes())
        )

    @classmethod
    def from_reference(cls, values: ColumnData, bins: int = DEFAULT_BINS) -> NumericLayout:
        """Edges at the reference's quantiles ``1/bins, ..., (bins-1)/bins`` of its finite
        values (inverted CDF, so edges are reference values; equal ones merged). No finite
        value: no edges, one value bin."""
        if bins < 1:
            raise ValueError(f"bins must be at least 1, got {bins}")
        x = finite(convert("reference", "numerical", values))
        if x.size == 0:
            return cls(np.zeros(0))
        probs = np.arange(1, bins) / bins
        return cls(np.unique(np.quantile(x, probs, method="inverted_cdf")))

    @property
    def n_value_bins(self) -> int:
        """Number of bins of finite values (the bins the distances compare)."""
        return self.edges.size + 1

    @property
    def size(self) -> int:
        """Length of a sketch's counts: value bins, the +-inf bin, the NaN bin."""
        return self.n_value_bins + 2

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "edges": self.edges.tolist(), "fingerprint": self.fingerprint}

    def __eq__(self, other: object) -> bool:
        return isinstance(other, NumericLayout) and other.fingerprint == self.fingerprint

    def __hash__(self) -> int:
        return hash(self.fingerprint)


@dataclass(frozen=True, eq=False)
class CategoricalLayout:
    """Bins of a categorical column: ``categories`` in order, then ``__other__``,
    ``__unseen__`` and ``__missing__``. ``known`` are the sorted 64-bit hashes of the
    reference's categories outside ``categories`` (those count as other, any other one as
    unseen); None makes the layout open: everything outside ``categories`` is other."""

    categories: tuple[str, ...]
    known: tuple[int, ...] | None = ()
    fingerprint: str = field(init=False)
    _index: dict[str, int] = field(init=False, repr=False)
    _known: frozenset[int] | None = field(init=False, repr=False)
    kind: ClassVar[Literal["categorical"]] = "categorical"

    def __post_init__(self) -> None:
        categories = tuple(str(c) for c in self.categories)
        if len(set(categories)) != len(categories) or MISSING in categories:
            raise ValueError(f"categories must be distinct and exclude {MISSING!r}")
        known = None if self.known is None else tuple(int(h) for h in self.known)
        if known is not None and (
            any(not 0 <= h < 2**64 for h in known) or list(known) != sorted(set(known))
        ):
            raise ValueError("known must be sorted distinct 64-bit hashes")
        object.__setattr__(self, "categories", categories)
        object.__setattr__(self, "known", known)
        object.__setattr__(self, "_index", {c: i for i, c in enumerate(categories)})
        object.__setattr__(self, "_known", None if known is None else frozenset(known))
        payload = json.dumps(categories).encode() + b"\0" + self._known_bytes()
        object.__setattr__(self, "fingerprint", _fingerprint(self.kind, payload))

    @classmethod
    def from_reference(
        cls, values: ColumnData, top_k: int = DEFAULT_TOP_K, max_known: int = MAX_KNOWN
    ) -> CategoricalLayout:
        """The reference's ``top_k`` categories by count (ties by name; missing excluded),
        and the hashes of its other categories if there are at most ``max_known`` of them
        (else an open layout)."""
        if top_k < 0 or max_known < 0:
            raise ValueError("top_k and max_known must not be negative")
        counts = label_counts(convert("reference", "categorical", values))
        counts.pop(MISSING, None)
        ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
        rest = [label for label, _ in ranked[top_k:]]
        known = tuple(sorted({label_hash(x) for x in rest})) if len(rest) <= max_known else None
        return cls(tuple(label for label, _ in ranked[:top_k]), known)

    @property
    def labels(self) -> tuple[str, ...]:
        """The label of each bin, in the order of a sketch's counts."""
        return (*self.categories, OTHER, UNSEEN, MISSING)

    @property
    def size(self) -> int:
        return len(self.categories) + 3

    def bin_of(self, label: str) -> int:
        """The bin of one category label (``str`` of the value; ``MISSING`` for None/NaN)."""
        index = self._index.get(label)
        if index is not None:
            return index
        k = len(self.categories)
        if label == MISSING:
            return k + 2
        if self._known is None or label_hash(label) in self._known:
            return k
        return k + 1

    def to_dict(self) -> dict[str, Any]:
        known = None if self.known is None else base64.b64encode(self._known_bytes()).decode()
        return {
            "kind": self.kind,
            "categories": list(self.categories),
            "known": known,
            "fingerprint": self.fingerprint,
        }

    def _known_bytes(self) -> bytes:
        if self.known is None:
            return b"open"
        return np.array(self.known, dtype="<u8").tobytes()

    def __eq__(self, other: object) -> bool:
        return isinstance(other, CategoricalLayout) and other.fingerprint == self.fingerprint

    def __hash__(self) -> int:
        return hash(self.fingerprint)


Layout = NumericLayout | CategoricalLayout


def layout_from_dict(data: dict[str, Any]) -> Layout:
    """A layout from its ``to_dict()``; ValueError if a stored fingerprint does not match."""
    layout: Layout
    if data.get("kind") == "numerical":
        layout = NumericLayout(np.array(data["edges"], dtype=np.float64))
    elif data.get("kind") == "categorical":
        raw = data.get("known")
        known = None if raw is None else np.frombuffer(base64.b64decode(raw), dtype="<u8")
        layout = CategoricalLayout(
            tuple(data["categories"]), None if known is None else tuple(known.tolist())
        )
    else:
        raise ValueError(f"unknown layout kind {data.get('kind')!r}")
    stored = data.get("fingerprint")
    if stored is not None and stored != layout.fingerprint:
        raise ValueError(f"layout fingerprint {stored} does not match its content")
    return layout


# --- exact moments -------------------------------------------------------------------------


def exact_sums(values: FloatArray, bins: IntArray, k: int) -> tuple[list[int], int]:
    """Exact sums of finite float64 ``values`` per bin (``bins[i]`` in 0..k-1 is the bin of
    ``values[i]``), in units of 2**SUM_EXP, and their exact sum of squares in 2**SQ_EXP.

    Each float is ``m * 2**(e - 53)`` with an integer ``|m| < 2**53``. Sums are taken per
    bin and exponent over 26/27-bit pieces of ``m`` (and of the partial products of
    ``m**2``) by numpy's float64 ``bincount``, which adds them exactly because every partial
    sum is an integer below 2**53 (at most 2**20 rows a pass); the totals per exponent are
    then combined in Python ints.
    """
    sums = [0] * k
    total_sq = 0
    for start in range(0, values.size, _CHUNK):
        frac, exp = np.frexp(values[start : start + _CHUNK])
        m = (frac * 2.0**53).astype(np.int64)
        low = int(exp.min())
        span = int(exp.max()) - low + 1
        e = (exp - low).astype(np.int64)
        # In units: the value is m * 2**(e + base), its square m**2 * 2**(2 * (e + base)).
        base = low - 53 - SUM_EXP
        keys = bins[start : start + _CHUNK] * span + e
        by_key = _limb_sums(keys, k * span, [(m >> 26, 26), (m & _MASK26, 0)])
        for key, total in by_key.items():
            g, j = divmod(key, span)
            sums[g] += _shift(total, j + base)
        # m = a * 2**27 + b, so m**2 = a*a * 2**54 + a*b * 2**28 + b*b, each below 2**54.
        a, b = m >> 27, m & _MASK27
        limbs: list[tuple[IntArray, int]] = []
        for product, shift in ((a * a, 54), (a * b, 28), (b * b, 0)):
            limbs += [(product >> 27, shift + 27), (product & _MASK27, shift)]
        for j, total in _limb_sums(e, span, limbs).items():
            total_sq += _shift(total, 2 * (j + base))
    return sums, total_sq


def _limb_sums(keys: IntArray, length: int, limbs: list[tuple[IntArray, int]]) -> dict[int, int]:
    """Per key in 0..length-1 that has a non-zero total: the exact sum over rows of
    ``sum(limb[row] << shift for limb, shift in limbs)``, each limb below 2**27."""
    columns = [np.bincount(keys, weights=limb, minlength=length) for limb, _ in limbs]
    table = np.vstack(columns)
    out: dict[int, int] = {}
    for key in np.flatnonzero(table.any(axis=0)).tolist():
        out[key] = sum(
            int(s) << shift for s, (_, shift) in zip(table[:, key].tolist(), limbs, strict=True)
        )
    return out


def _shift(value: int, by: int) -> int:
    # A right shift here only drops zero bits: every sum of floats is a whole number of units.
    return value << by if by >= 0 else value >> -by


def _units(value: float) -> int:
    """A finite float as an integer number of 2**SUM_EXP."""
    num, den = value.as_integer_ratio()
    return num * ((1 << -SUM_EXP) // den)


def _sqrt(value: Fraction) -> float:
    """Square root of a non-negative fraction, without overflowing through a float."""
    if value <= 0:
        return 0.0
    num, den = value.numerator, value.denominator
    # Scale so the integer root has at least 64 bits. It cannot overflow: a standard
    # deviation is at most the largest |value|, itself a float.
    k = max(0, 64 - (num.bit_length() - den.bit_length()) // 2)
    return math.ldexp(float(math.isqrt((num << (2 * k)) // den)), -k)


@dataclass(frozen=True, slots=True)
class Moments:
    """Exact moments of the finite values of a numerical sketch: ``count``, ``bin_sums``
    (the sum of the values in each value bin, in units of 2**SUM_EXP), ``sum_sq`` (the sum
    of squares, in units of 2**SQ_EXP), ``min`` and ``max`` (+inf and -inf when empty)."""

    count: int
    bin_sums: tuple[int, ...]
    sum_sq: int
    min: float
    max: float

    @classmethod
    def of(cls, values: FloatArray, bins: IntArray, k: int) -> Moments:
        """Moments of finite float64 ``values`` whose value bins (0..k-1) are ``bins``."""
        if values.size == 0:
            return cls.empty(k)
        sums, total_sq = exact_sums(values, bins, k)
        return cls(
            int(values.size), tuple(sums), total_sq, float(values.min()), float(values.max())
        )

    @classmethod
    def empty(cls, k: int) -> Moments:
        return cls(0, (0,) * k, 0, math.inf, -math.inf)

    @classmethod
    def total(cls, parts: Sequence[Moments]) -> Moments:
        """The moments of all the parts' values together (exact; int additions only)."""
        return cls(
            sum(m.count for m in parts),
            tuple(map(sum, zip(*(m.bin_sums for m in parts), strict=True))),
            sum(m.sum_sq for m in parts),
            min(m.min for m in parts),
            max(m.max for m in parts),
        )

    def __add__(self, other: Moments) -> Moments:
        return Moments.total((self, other))

    @property
    def sum(self) -> Fraction:
        """Exact sum of the finite values."""
        return Fraction(sum(self.bin_sums), 1 << -SUM_EXP)

    @property
    def mean(self) -> float | None:
        """Mean of the finite values (correctly rounded); None without any."""
        return float(self.sum / self.count) if self.count else None

    @property
    def std(self) -> float | None:
        """Population standard deviation (ddof=0, as ``np.std``); None without any value."""
        if not self.count:
            return None
        # n**2 * var, in units of 2**SQ_EXP: n * sum(x**2) - sum(x)**2, exactly.
        total = sum(self.bin_sums)
        return _sqrt(Fraction(self.count * self.sum_sq - total * total, self.count**2 << -SQ_EXP))


# --- sketches ------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class Sketch:
    """Counts of one column over a layout's bins (``layout.size`` of them, int64), and the
    exact :class:`Moments` of its finite values when it is numerical (None otherwise).
    Equal when layout, counts and moments are."""

    layout: Layout
    counts: CountArray
    moments: Moments | None = None

    def __post_init__(self) -> None:
        counts = np.array(self.counts, dtype=np.int64, copy=True).ravel()
        if counts.size != self.layout.size or (counts < 0).any():
            raise ValueError(
                f"a sketch of this layout has {self.layout.size} non-negative counts, "
                f"got {counts.size}"
            )
        counts.setflags(write=False)
        object.__setattr__(self, "counts", counts)
        if isinstance(self.layout, NumericLayout):
            value_counts = counts[: self.layout.n_value_bins].tolist()
            m = self.moments
            if (
                m is None
                or m.count != sum(value_counts)
                or len(m.bin_sums) != len(value_counts)
                or any(s != 0 for s, c in zip(m.bin_sums, value_counts, strict=True) if c == 0)
            ):
                raise ValueError("a numerical sketch needs moments matching its value bins")
        elif self.moments is not None:
            raise ValueError("a categorical sketch has no moments")

    @classmethod
    def empty(cls, layout: Layout) -> Sketch:
        """The sketch of no rows: the identity of :func:`merge`."""
        moments = None
        if isinstance(layout, NumericLayout):
            moments = Moments.empty(layout.n_value_bins)
        return cls(layout, np.zeros(layout.size, dtype=np.int64), moments)

    @property
    def fingerprint(self) -> str:
        return self.layout.fingerprint

    @property
    def kind(self) -> Literal["numerical", "categorical"]:
        return self.layout.kind

    @property
    def n(self) -> int:
        """Rows counted, missing and infinite values included."""
        return int(self.counts.sum())

    @property
    def n_missing(self) -> int:
        """Rows that were None or NaN."""
        return int(self.counts[-1])

    @property
    def n_infinite(self) -> int:
        """Rows that were +-inf (always 0 for a categorical sketch)."""
        return int(self.counts[-2]) if isinstance(self.layout, NumericLayout) else 0

    @property
    def value_counts(self) -> CountArray:
        """The counts the distances compare: the value bins of a numerical sketch (its
        finite values), every bin of a categorical one (missing included)."""
        if isinstance(self.layout, NumericLayout):
            return self.counts[: self.layout.n_value_bins]
        return self.counts

    def __add__(self, other: Sketch) -> Sketch:
        return merge(self, other)

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, Sketch)
            and other.layout == self.layout
            and np.array_equal(other.counts, self.counts)
            and other.moments == self.moments
        )

    def __hash__(self) -> int:
        return hash((self.fingerprint, self.counts.tobytes(), self.moments))

    def to_bytes(self) -> bytes:
        """Compact binary form: a 19-byte header (magic, format, kind, fingerprint, count
        width, bin count), the counts as little-endian unsigned integers of the smallest
        width of 1, 2, 4 or 8 bytes that holds them; for numbers then min and max (float64)
        and the exact sums, per value bin and of squares, each as int16 exponent, uint16
        length and a signed little-endian numerator (``numerator * 2**exponent``)."""
        top = int(self.counts.max()) if self.counts.size else 0
        width = next(w for w in _WIDTHS if top < 1 << (8 * w))
        out = [
            _HEADER.pack(
                _MAGIC,
                _FORMAT,
                _KIND_CODES[self.kind],
                bytes.fromhex(self.fingerprint),
                width,
                self.counts.size,
            ),
            self.counts.astype(f"<u{width}").tobytes(),
        ]
        if self.moments is not None:
            out.append(_MINMAX.pack(self.moments.min, self.moments.max))
            out.extend(_pack_dyadic(v, SUM_EXP) for v in self.moments.bin_sums)
            out.append(_pack_dyadic(self.moments.sum_sq, SQ_EXP))
        return b"".join(out)

    @classmethod
    def from_bytes(cls, data: bytes, layout: Layout) -> Sketch:
        """The sketch of :meth:`to_bytes` over ``layout``; ValueError if the bytes are
        malformed or were written for another layout."""
        try:
            magic, fmt, kind, fingerprint, width, k = _HEADER.unpack_from(data, 0)
            if magic != _MAGIC or fmt != _FORMAT or width not in _WIDTHS:
                raise ValueError("not a sketch of this format")
            _check_layout(fingerprint.hex(), layout)
            if kind != _KIND_CODES[layout.kind] or k != layout.size:
                raise ValueError("sketch kind or size does not match its layout")
            offset = _HEADER.size + k * width
            if offset > len(data):
                raise ValueError("truncated counts")
            counts = np.frombuffer(data, dtype=f"<u{width}", count=k, offset=_HEADER.size)
            moments = None
            if isinstance(layout, NumericLayout):
                lo, hi = _MINMAX.unpack_from(data, offset)
                offset += _MINMAX.size
                sums = []
                for _ in range(layout.n_value_bins):
                    value, offset = _unpack_dyadic(data, offset, SUM_EXP)
                    sums.append(value)
                total_sq, offset = _unpack_dyadic(data, offset, SQ_EXP)
                n = int(counts[: layout.n_value_bins].sum())
                moments = Moments(n, tuple(sums), total_sq, lo, hi)
            if offset != len(data):
                raise ValueError("trailing bytes")
        except struct.error as exc:
            raise ValueError(f"malformed sketch bytes: {exc}") from exc
        return cls(layout, counts.astype(np.int64), moments)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (for JSONB). Exact sums are strings ``"<hex numerator>p<exponent>"``
        (``numerator * 2**exponent``; as JSON numbers they would lose digits in most
        readers); min and max are floats, null when there is no finite value."""
        out: dict[str, Any] = {
            "format": _FORMAT,
            "kind": self.kind,
            "layout": self.fingerprint,
            "counts": self.counts.tolist(),
        }
        if self.moments is not None:
            empty = self.moments.count == 0
            out["moments"] = {
                "min": None if empty else self.moments.min,
                "max": None if empty else self.moments.max,
                "bin_sums": [_dyadic_str(v, SUM_EXP) for v in self.moments.bin_sums],
                "sum_sq": _dyadic_str(self.moments.sum_sq, SQ_EXP),
            }
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any], layout: Layout) -> Sketch:
        """The sketch of :meth:`to_dict` over ``layout``; ValueError for another layout."""
        if data.get("format") != _FORMAT:
            raise ValueError(f"unknown sketch format {data.get('format')!r}")
        _check_layout(str(data.get("layout")), layout)
        counts = np.array(data["counts"], dtype=np.int64)
        moments = None
        if isinstance(layout, NumericLayout):
            raw = data["moments"]
            moments = Moments(
                int(counts[: layout.n_value_bins].sum()),
                tuple(_parse_dyadic(v, SUM_EXP) for v in raw["bin_sums"]),
                _parse_dyadic(raw["sum_sq"], SQ_EXP),
                math.inf if raw["min"] is None else float(raw["min"]),
                -math.inf if raw["max"] is None else float(raw["max"]),
            )
        return cls(layout, counts, moments)


def _check_layout(fingerprint: str, layout: Layout) -> None:
    if fingerprint != layout.fingerprint:
        raise ValueError(f"sketch of layout {fingerprint} read with layout {layout.fingerprint}")


def _dyadic_parts(units: int, unit_exp: int) -> tuple[int, int]:
    """``units * 2**unit_exp`` as (odd numerator, exponent); (0, 0) for zero."""
    if units == 0:
        return 0, 0
    zeros = (units & -units).bit_length() - 1
    return units >> zeros, unit_exp + zeros


def _from_parts(num: int, exp: int, unit_exp: int) -> int:
    if num == 0:
        return 0
    if exp < unit_exp:
        raise ValueError(f"exact sum below its unit 2**{unit_exp}")
    return num << (exp - unit_exp)


def _pack_dyadic(units: int, unit_exp: int) -> bytes:
    num, exp = _dyadic_parts(units, unit_exp)
    raw = num.to_bytes((num.bit_length() + 8) // 8, "little", signed=True) if num else b""
    return _DYADIC.pack(exp, len(raw)) + raw


def _unpack_dyadic(data: bytes, offset: int, unit_exp: int) -> tuple[int, int]:
    exp, length = _DYADIC.unpack_from(data, offset)
    start = offset + _DYADIC.size
    if start + length > len(data):
        raise ValueError("truncated exact sum")
    num = int.from_bytes(data[start : start + length], "little", signed=True)
    return _from_parts(num, exp, unit_exp), start + length


def _dyadic_str(units: int, unit_exp: int) -> str:
    num, exp = _dyadic_parts(units, unit_exp)
    return f"{num:#x}p{exp}"


def _parse_dyadic(text: str, unit_exp: int) -> int:
    num, sep, exp = text.partition("p")
    if not sep:
        raise ValueError(f"not an exact sum: {text!r}")
    return _from_parts(int(num, 16), int(exp), unit_exp)


def sketch(values: ColumnData, layout: Layout) -> Sketch:
    """The sketch of one batch of a column's values over ``layout``.

    Numerical: values convert to float64 (None -> NaN); finite ones are placed by one
    ``np.searchsorted`` on the edges and counted by ``np.bincount``. Categorical: values are
    counted per distinct label by ``chisquare.label_counts`` (hashing in C: faster than
    ``np.unique`` on strings, which sorts every row) and each distinct label is placed once.
    """
    if isinstance(layout, CategoricalLayout):
        counts = np.zeros(layout.size, dtype=np.int64)
        for label, n in label_counts(convert("sketch", "categorical", values)).items():
            counts[layout.bin_of(label)] += n
        return Sketch(layout, counts)
    arr = convert("sketch", "numerical", values)
    is_finite = np.isfinite(arr)
    x = arr if is_finite.all() else arr[is_finite]
    n_nan = int(np.isnan(arr).sum())
    k = layout.n_value_bins
    bins = np.searchsorted(layout.edges, x, side="right").astype(np.int64)
    value_counts = np.bincount(bins, minlength=k).astype(np.int64)
    tail = np.array([arr.size - x.size - n_nan, n_nan], dtype=np.int64)
    return Sketch(layout, np.concatenate([value_counts, tail]), Moments.of(x, bins, k))


def merge(first: Sketch, *rest: Sketch) -> Sketch:
    """The sketch of all the sketches' rows together: exact, associative, commutative.

    ValueError naming both fingerprints if a sketch has another layout than ``first``.
    """
    for other in rest:
        if other.fingerprint != first.fingerprint:
            raise ValueError(
                f"cannot merge sketches of different layouts: {first.fingerprint} and "
                f"{other.fingerprint}"
            )
    if not rest:
        return first
    sketches = (first, *rest)
    counts: CountArray = np.vstack([s.counts for s in sketches]).sum(axis=0)
    parts = [s.moments for s in sketches if s.moments is not None]
    return Sketch(first.layout, counts, Moments.total(parts) if parts else None)


# --- comparing sketches --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SketchResult(StatResult):
    """A :class:`StatResult` computed on sketches. ``bounds`` (ks and wasserstein only) is
    the interval ``(lower, upper)`` certain to contain the statistic the registered test of
    the same name gives on the raw finite values; None for the methods defined on the bins
    themselves."""

    bounds: tuple[float, float] | None = None

    @property
    def error_bound(self) -> float | None:
        """Largest distance from ``statistic`` to the raw-sample statistic (ks, wasserstein)."""
        if self.bounds is None:
            return None
        return max(self.statistic - self.bounds[0], self.bounds[1] - self.statistic)


_CountTest = Callable[[CountArray, CountArray], StatResult]


def _as_distance(fn: Callable[[CountArray, CountArray], float]) -> _CountTest:
    def run(ref_counts: CountArray, cur_counts: CountArray) -> StatResult:
        d = fn(ref_counts, cur_counts)
        return StatResult(statistic=d, p_value=None, effect_size=d)

    return run


_ON_BINS: dict[str, _CountTest] = {
    "chisquare": chisquare_from_counts,
    "g_test": g_test_from_counts,
    "hellinger": _as_distance(hellinger_from_counts),
    "jensenshannon": _as_distance(jensenshannon_from_counts),
    "kl_div": _as_distance(kl_div_from_counts),
    "l_infinity": _as_distance(l_infinity_distance),
    "psi": _as_distance(psi_from_counts),
    "tvd": _as_distance(total_variation),
}
METHODS: tuple[str, ...] = tuple(sorted([*_ON_BINS, "ks", "wasserstein"]))


def compare(reference: Sketch, current: Sketch, method: str) -> SketchResult:
    """The drift statistic ``method`` between two sketches of one layout.

    psi, kl_div, jensenshannon, hellinger, chisquare, g_test, tvd and l_infinity: the same
    formula as the registered test of that name (the count-vector function of its module),
    applied to the ``value_counts`` of the two sketches over the bins where either side
    has a count (as the registered tests use the categories of either side). On a
    categorical layout that covers the data this is the registered test's result; on
    numbers the bins are the layout's quantile bins, not the bins the registered test
    chooses per pair of samples, so the values differ from the raw-sample tests.

    ks and wasserstein (numerical only) are binned approximations with ``bounds``
    certain to contain the raw-sample value: see :func:`binned_ks` and
    :func:`binned_wasserstein`. An empty side gives the registered test's "no evidence"
    result (statistic 0, p-value 1 or None, effect 0). Decide drift with
    ``detectors.stattest(method).drifted(result)``.
    """
    if method == "ks":
        return binned_ks(reference, current)
    if method == "wasserstein":
        return binned_wasserstein(reference, current)
    _check_pair(reference, current)
    fn = _ON_BINS.get(method)
    if fn is None:
        raise UnknownStatTestError(method, METHODS)
    ref_counts, cur_counts = reference.value_counts, current.value_counts
    seen = (ref_counts + cur_counts) > 0
    res = fn(ref_counts[seen], cur_counts[seen])
    return SketchResult(res.statistic, res.p_value, res.effect_size)


def _check_pair(reference: Sketch, current: Sketch) -> None:
    if current.fingerprint != reference.fingerprint:
        raise ValueError(
            f"cannot compare sketches of different layouts: {reference.fingerprint} and "
            f"{current.fingerprint}"
        )


def _numeric_pair(
    reference: Sketch, current: Sketch, method: str
) -> tuple[NumericLayout, Moments, Moments]:
    _check_pair(reference, current)
    layout = reference.layout
    if (
        not isinstance(layout, NumericLayout)
        or reference.moments is None
        or current.moments is None
    ):
        raise ValueError(f"{method!r} needs numerical sketches")
    return layout, reference.moments, current.moments


def _cdfs_at_edges(reference: Sketch, current: Sketch) -> tuple[FloatArray, FloatArray]:
    """Share of each side's finite values below each bin boundary: k + 1 values from 0 to 1
    for k value bins (the CDF just left of each edge, exact from the counts)."""
    out = []
    for s in (reference, current):
        counts = s.value_counts
        cum = np.concatenate([[0], np.cumsum(counts)])
        out.append(cum / cum[-1])
    return out[0], out[1]


def binned_ks(reference: Sketch, current: Sketch) -> SketchResult:
    """KS distance from the binned CDFs, and bounds on the exact one.

    ``statistic`` = max over the edges of ``|G_ref(e) - G_cur(e)|``, G(e) the share of
    values below e, known exactly from the counts. Each G(e) is a left limit of the ECDF,
    so ``statistic <= D_exact``. Within bin i = [e_i-1, e_i) each ECDF lies between its G
    at the two ends, so ``|F_ref - F_cur| <= max(G_ref(e_i) - G_cur(e_i-1), G_cur(e_i) -
    G_ref(e_i-1)) <= statistic + min(r_i, c_i)``, r_i and c_i the two shares of the bin:
    ``bounds = (statistic, max over bins of the former)``, and ``D_exact <= statistic +
    max_i min(r_i, c_i)``. Quantile bins of 1/bins of the reference keep the gap near
    1/bins. p-value: Kolmogorov's limit distribution at ``D * sqrt(n m / (n + m))``
    (``scipy.special.kolmogorov``; scipy's ``ks_2samp(method="asymp")`` uses the finite-n
    ``kstwo``, which agrees to a few percent where it matters and can take 0.2 s a call).
    The binned D is at most the exact one, so the p-value errs high (conservative). Effect
    size is the statistic. A side without finite values: statistic 0, p-value 1, effect 0.
    """
    _, ref_m, cur_m = _numeric_pair(reference, current, "ks")
    n_ref, n_cur = ref_m.count, cur_m.count
    if n_ref == 0 or n_cur == 0:
        return SketchResult(0.0, 1.0, 0.0, (0.0, 0.0))
    g_ref, g_cur = _cdfs_at_edges(reference, current)
    d = float(np.max(np.abs(g_ref - g_cur)))
    within = max(float(np.max(g_ref[1:] - g_cur[:-1])), float(np.max(g_cur[1:] - g_ref[:-1])))
    upper = min(max(within, d), 1.0)
    p = float(np.clip(special.kolmogorov(d * math.sqrt(n_ref * n_cur / (n_ref + n_cur))), 0, 1))
    return SketchResult(d, p, d, (d, upper))


def binned_wasserstein(reference: Sketch, current: Sketch) -> SketchResult:
    """Wasserstein-1 distance from the binned CDFs and per-bin sums, over the reference's
    standard deviation, with bounds on the exact one.

    The distance is the area between the two ECDFs. Bin i is [a_i, b_i]: [e_i-1, e_i)
    clipped to [lo, hi], the running min and max of both sides (exact, from the moments),
    so the outer bins are finite. Per side, with S_i its share below the bin and E_i =
    sum over its values in the bin of (b_i - x) / n (exact, from the bin's exact sum), the
    integral of F over the bin is S_i * width_i + E_i; so the signed area ``A_i = integral
    of (F_ref - F_cur)`` is known (to float rounding), and the area between the curves is
    ``|A_i| + 2 * min(P_i, N_i)``, P_i and N_i the parts where F_ref is above and below.
    Where the CDFs cannot cross in the bin (``G_ref(a_i) >= G_cur(b_i)`` or the reverse)
    that is exactly ``|A_i|``. Elsewhere P_i is at most ``width_i * (G_ref(b_i) -
    G_cur(a_i))`` and at most what F_ref above G_cur(a_i), or F_cur below G_ref(b_i), can
    enclose (both exact from the sums); N_i likewise: ``bounds`` sums ``|A_i|`` and
    ``|A_i| + 2 * min(P_i bound, N_i bound)``. ``statistic`` adds to each ``|A_i|`` the
    crossing area of CDFs taken linear between the bin's edges (0 unless they cross),
    clipped to the bound. All three are divided by ``max(std_ref, 0.001)``, the reference's
    exact population standard deviation, as the registered ``wasserstein`` does. A side
    without finite values: statistic 0, effect 0.
    """
    layout, ref_m, cur_m = _numeric_pair(reference, current, "wasserstein")
    if ref_m.count == 0 or cur_m.count == 0:
        return SketchResult(0.0, None, 0.0, (0.0, 0.0))
    lo, hi = min(ref_m.min, cur_m.min), max(ref_m.max, cur_m.max)
    ends = [lo, *np.clip(layout.edges, lo, hi).tolist(), hi]
    width = np.diff(ends)
    g_ref, g_cur = _cdfs_at_edges(reference, current)
    below_ref, below_cur, upto_ref, upto_cur = g_ref[:-1], g_cur[:-1], g_ref[1:], g_cur[1:]
    e_ref, h_ref = _spreads(reference.value_counts, ref_m, ends)
    e_cur, h_cur = _spreads(current.value_counts, cur_m, ends)
    signed = (below_ref - below_cur) * width + (e_ref - e_cur)
    pos = np.minimum.reduce(
        [
            np.maximum(below_ref - below_cur, 0.0) * width + e_ref,
            np.maximum(upto_ref - upto_cur, 0.0) * width + h_cur,
            np.maximum(upto_ref - below_cur, 0.0) * width,
        ]
    )
    neg = np.minimum.reduce(
        [
            np.maximum(below_cur - below_ref, 0.0) * width + e_cur,
            np.maximum(upto_cur - upto_ref, 0.0) * width + h_ref,
            np.maximum(upto_cur - below_ref, 0.0) * width,
        ]
    )
    lower = np.abs(signed)
    slack = 2.0 * np.minimum(pos, neg)
    d0, d1 = below_ref - below_cur, upto_ref - upto_cur
    with np.errstate(invalid="ignore", divide="ignore"):
        # Lines from d0 to d1 crossing zero enclose two triangles, more than |their sum|.
        crossing = width * ((d0 * d0 + d1 * d1) / (2.0 * (np.abs(d0) + np.abs(d1))))
    extra = np.where(d0 * d1 < 0, crossing - np.abs(width * (d0 + d1) / 2.0), 0.0)
    area = lower + np.clip(extra, 0.0, slack)
    norm = max(ref_m.std or 0.0, MIN_STD)
    d = float(np.sum(area)) / norm
    bounds = (float(np.sum(lower)) / norm, float(np.sum(lower + slack)) / norm)
    return SketchResult(d, None, d, bounds)


def _spreads(
    counts: CountArray, moments: Moments, ends: list[float]
) -> tuple[FloatArray, FloatArray]:
    """Per bin [a, b] = [ends[i], ends[i+1]]: sum of (b - x) and of (x - a) over the side's
    values x in the bin, over its count of finite values. Exact integers until the one
    correctly rounded division."""
    scale = moments.count << -SUM_EXP
    to_right, to_left = [], []
    for c, s, a, b in zip(counts.tolist(), moments.bin_sums, ends[:-1], ends[1:], strict=True):
        if c == 0:
            to_right.append(0.0)
            to_left.append(0.0)
        else:
            to_right.append(_ratio(c * _units(b) - s, scale))
            to_left.append(_ratio(s - c * _units(a), scale))
    return np.array(to_right), np.array(to_left)


def _ratio(num: int, den: int) -> float:
    # A bin wider than the float range (values near +-1.8e308 on both sides) has no finite
    # spread; the registered test overflows on such data too.
    try:
        return num / den
    except OverflowError:
        return math.inf
