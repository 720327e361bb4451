"""Training data files (CSV, Parquet) read as column batches for the profile builder.

Each source reads its file as often as asked (the profile builder reads it twice), one
bounded batch at a time: a CSV in blocks of ``block_bytes`` (pyarrow's streaming CSV
reader), a Parquet file by ``batch_rows`` rows (``ParquetFile.iter_batches``); no batch
holds more than ``batch_rows`` rows. Only the schema's features are read; other columns
are listed in ``ignored``. Values arrive converted as ingest stores them
(:mod:`monitor.detection.feature_values`): numbers as float64 with NaN for missing,
categories as strings or None.

CSV: every cell is read as text. An empty (or blank) cell is missing. A numerical cell is
parsed as a decimal number (``1.5``, ``-2e3``, ``inf``, ``nan``; surrounding blanks
ignored), and anything else is a :class:`SourceError` naming ``file:line``, the column and
the cell. Parquet: numerical columns may be integer, floating point, decimal or text
(parsed as in a CSV); categorical columns text, integer, boolean, whole-number floats or
dictionary-encoded ones of those.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

from monitor.detection.feature_values import FeatureValueError, categorical_values

Batch = tuple[dict[str, np.ndarray[Any, Any]], int]
SUFFIXES = {".csv": "csv", ".parquet": "parquet", ".pq": "parquet"}
BLOCK_BYTES = 1 << 20


class SourceError(ValueError):
    """Input that cannot become a baseline; the message names the file (and line, column
    and value)."""


def _arrow() -> Any:
    # pyarrow is imported only by the commands that read files.
    import pyarrow as pa  # type: ignore[import-untyped]  # noqa: PLC0415

    return pa


@dataclass
class FileSource:
    """A CSV or Parquet file as batches of the schema's features.

    ``unit`` says what :meth:`batches` counts as progress, out of ``total``: the file's
    bytes for a CSV, its rows for Parquet."""

    path: Path
    kinds: Mapping[str, str]
    format: Literal["csv", "parquet"]
    batch_rows: int = 50_000
    block_bytes: int = BLOCK_BYTES
    columns: tuple[str, ...] = ()
    ignored: tuple[str, ...] = field(default=())
    unit: Literal["bytes", "rows"] = "bytes"
    total: int = 0

    @property
    def description(self) -> str:
        return str(self.path)

    def batches(self) -> Iterator[Batch]:
        """``(columns, progress)`` per batch; ``progress`` is in ``unit``, out of
        ``total``."""
        if self.format == "csv":
            yield from _csv_batches(self)
        else:
            yield from _parquet_batches(self)


def open_file(
    path: Path,
    kinds: Mapping[str, str],
    *,
    batch_rows: int = 50_000,
    block_bytes: int = BLOCK_BYTES,
) -> FileSource:
    """Open ``path`` (.csv, .parquet or .pq) for the features ``kinds`` (name -> kind).
    SourceError when the format is unknown, the header cannot be read, or a feature is
    not a column of the file (naming them)."""
    if batch_rows < 1:
        raise SourceError(f"batch rows must be at least 1, got {batch_rows}")
    fmt = SUFFIXES.get(path.suffix.lower())
    if fmt == "csv":
        columns = _csv_header(path)
        unit: Literal["bytes", "rows"] = "bytes"
        total = path.stat().st_size
    elif fmt == "parquet":
        columns, total = _parquet_header(path)
        unit = "rows"
    else:
        raise SourceError(
            f"{path}: unknown file type {path.suffix!r}; expected one of {sorted(SUFFIXES)}"
        )
    missing = [name for name in kinds if name not in columns]
    if missing:
        raise SourceError(f"{path}: features of the schema missing from the file: {missing}")
    return FileSource(
        path,
        dict(kinds),
        fmt,  # type: ignore[arg-type]
        batch_rows=batch_rows,
        block_bytes=block_bytes,
        columns=columns,
        ignored=tuple(c for c in columns if c not in kinds),
        unit=unit,
        total=total,
    )


# --- CSV -----------------------------------------------------------------------------------


def _csv_header(path: Path) -> tuple[str, ...]:
    try:
        with path.open(newline="", encoding="utf-8-sig") as fh:
            header = next((row for row in csv.reader(fh) if row), None)
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise SourceError(f"{path}: cannot read the CSV header: {exc}") from None
    if header is None:
        raise SourceError(f"{path}: empty file, no header")
    dupes = sorted({c for c in header if header.count(c) > 1})
    if dupes:
        raise SourceError(f"{path}: column names appear twice in the header: {dupes}")
    return tuple(header)


def _csv_batches(source: FileSource) -> Iterator[Batch]:
    pa = _arrow()
    import pyarrow.csv as pacsv  # type: ignore[import-untyped]  # noqa: PLC0415

    names = list(source.kinds)
    with source.path.open("rb") as fh:
        try:
            # Arrow reads up to 32 blocks ahead of the consumer: memory is about
            # 32 * block_bytes of text plus the batch being converted.
            reader = pacsv.open_csv(
                fh,
                read_options=pacsv.ReadOptions(block_size=source.block_bytes),
                # Quoted values may hold line breaks (slower to split, but never wrong).
                parse_options=pacsv.ParseOptions(newlines_in_values=True),
                convert_options=pacsv.ConvertOptions(
                    include_columns=names,
                    column_types={n: pa.string() for n in names},
                    strings_can_be_null=False,
                ),
            )
            pieces: list[Any] = []
            held = first_row = 0
            for record_batch in reader:
                start = 0
                while start < record_batch.num_rows:
                    take = min(record_batch.num_rows - start, source.batch_rows - held)
                    pieces.append(record_batch.slice(start, take))
                    held, start = held + take, start + take
                    if held == source.batch_rows:
                        yield _csv_columns(source, pieces, first_row), fh.tell()
                        pieces, held, first_row = [], 0, first_row + held
            if held:
                yield _csv_columns(source, pieces, first_row), fh.tell()
        except pa.ArrowException as exc:
            raise SourceError(f"{source.path}: {exc}") from None


def _csv_columns(
    source: FileSource, pieces: list[Any], first_row: int
) -> dict[str, np.ndarray[Any, Any]]:
    """Record batches of one CSV batch (``first_row``: index of its first data record)
    as the converted columns."""
    pa = _arrow()
    return {
        n: _csv_column(source, n, pa.concat_arrays([p.column(n) for p in pieces]), first_row)
        for n in source.kinds
    }


def _csv_column(source: FileSource, name: str, text: Any, first_row: int) -> np.ndarray[Any, Any]:
    """One CSV column of text cells converted for its kind; ``first_row`` is the index of
    its first data record in the file (for the error's line number)."""
    pa = _arrow()
    import pyarrow.compute as pc  # type: ignore[import-untyped]  # noqa: PLC0415

    if source.kinds[name] == "categorical":
        # A blank cell ("  ") is missing too, as in numerical columns; a label keeps its
        # spaces otherwise.
        labels = pc.if_else(pc.equal(pc.utf8_trim_whitespace(text), ""), None, text)
        return labels.to_numpy(zero_copy_only=False)  # type: ignore[no-any-return]
    try:
        return _parse_numbers(text).to_numpy(zero_copy_only=False)  # type: ignore[no-any-return]
    except pa.ArrowInvalid:
        row = _first_unparsable(text)
        line = _csv_line(source.path, first_row + row)
        raise SourceError(
            f"{source.path}:{line}: {name}={text[row].as_py()!r} is not a number "
            "(numerical feature)"
        ) from None


def _parse_numbers(text: Any) -> Any:
    """Text cells as float64: blank -> null, else pyarrow's decimal parse (ArrowInvalid
    on a cell that is not a number)."""
    pa = _arrow()
    import pyarrow.compute as pc  # noqa: PLC0415

    trimmed = pc.utf8_trim_whitespace(text)
    return pc.cast(pc.if_else(pc.equal(trimmed, ""), None, trimmed), pa.float64())


def _first_unparsable(text: Any) -> int:
    """Index of the first cell :func:`_parse_numbers` refuses (bisection on prefixes: a
    few casts, not one per cell)."""
    pa = _arrow()
    good, bad = 0, len(text)  # text[:good] parses, text[:bad] does not
    while bad - good > 1:
        mid = (good + bad) // 2
        try:
            _parse_numbers(text.slice(0, mid))
            good = mid
        except pa.ArrowInvalid:
            bad = mid
    return bad - 1


def _csv_line(path: Path, record: int) -> int:
    """The line (1-based) where data record ``record`` (0-based, header excluded) starts.
    Found again with the csv module, which counts lines through quoted line breaks and,
    like pyarrow, skips empty lines; only ever run to report an error."""
    with path.open(newline="", encoding="utf-8-sig", errors="replace") as fh:
        reader = csv.reader(fh)
        index, start = -1, 1  # record -1 is the header
        for row in reader:
            if row:
                if index == record:
                    return start
                index += 1
            start = reader.line_num + 1
    return start


# --- Parquet -------------------------------------------------------------------------------


def _parquet_file(path: Path) -> Any:
    pa = _arrow()
    import pyarrow.parquet as pq  # type: ignore[import-untyped]  # noqa: PLC0415

    try:
        return pq.ParquetFile(path, buffer_size=1 << 20, pre_buffer=False)
    except (OSError, pa.ArrowException) as exc:
        raise SourceError(f"{path}: not a readable Parquet file: {exc}") from None


def _parquet_header(path: Path) -> tuple[tuple[str, ...], int]:
    pf = _parquet_file(path)
    return tuple(pf.schema_arrow.names), int(pf.metadata.num_rows)


def _parquet_batches(source: FileSource) -> Iterator[Batch]:
    pa = _arrow()
    pf = _parquet_file(source.path)
    names = list(source.kinds)
    done = 0
    try:
        for record_batch in pf.iter_batches(batch_size=source.batch_rows, columns=names):
            columns = {n: _parquet_column(source, n, record_batch.column(n), done) for n in names}
            done += record_batch.num_rows
            yield columns, done
    except pa.ArrowException as exc:
        raise SourceError(f"{source.path}: {exc}") from None


def _parquet_column(
    source: FileSource, name: str, values: Any, first_row: int
) -> np.ndarray[Any, Any]:
    pa = _arrow()
    import pyarrow.compute as pc  # noqa: PLC0415

    t = values.type
    if pa.types.is_dictionary(t):
        values = values.dictionary_decode()
        t = values.type
    text = pa.types.is_string(t) or pa.types.is_large_string(t)
    where = f"{source.path}: column {name!r} ({t})"
    if source.kinds[name] == "numerical":
        if text:
            try:
                return _parse_numbers(values).to_numpy(zero_copy_only=False)  # type: ignore[no-any-return]
            except pa.ArrowInvalid:
                row = _first_unparsable(values)
                raise SourceError(
                    f"{source.path}: row {first_row + row + 1}: {name}={values[row].as_py()!r} "
                    "is not a number (numerical feature)"
                ) from None
        if not (
            pa.types.is_integer(t)
            or pa.types.is_floating(t)
            or pa.types.is_decimal(t)
            or pa.types.is_null(t)
        ):
            raise SourceError(f"{where}: not a numerical type (integer, float, decimal, text)")
        return pc.cast(values, pa.float64()).to_numpy(zero_copy_only=False)  # type: ignore[no-any-return]
    if pa.types.is_integer(t) or pa.types.is_boolean(t):
        # As ingest spells them: "3", "true", "false".
        values = pc.cast(values, pa.string())
    elif not (text or pa.types.is_floating(t) or pa.types.is_null(t)):
        raise SourceError(f"{where}: not a categorical type (text, integer, boolean)")
    try:
        return categorical_values(
            name, values.to_numpy(zero_copy_only=False), first_row=first_row + 1
        )
    except FeatureValueError as exc:
        raise SourceError(f"{source.path}: {exc}") from None
