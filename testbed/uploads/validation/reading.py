"""Bytes to rows: size, encoding and shape checked first, then CSV records in chunks and the
header matched to the columns the rules expect."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np

from testbed.uploads.columns import (
    STUDENT_KEY,
)
from testbed.uploads.validation.identifiers import identifier_like
from testbed.uploads.validation.model import Problems, rejected

CHUNK_ROWS = 20_000


def _megabytes(size: int) -> str:
    return f"{size / (1024 * 1024):.1f} MB"


BYTE_ORDER_MARK = b"\xef\xbb\xbf"


def check_size(data: bytes, max_bytes: int) -> None:
    """The file is within the size limit."""
    if len(data) > max_bytes:
        raise rejected(
            None,
            None,
            f"The file is {_megabytes(len(data))}; the limit is {_megabytes(max_bytes)}. "
            "Split it by site, or ask the network to raise the limit.",
        )


def check_bytes(data: bytes, max_bytes: int) -> None:
    """The file is within the size limit, UTF-8 text (a byte order mark is fine), not empty."""
    check_size(data, max_bytes)
    skip = len(BYTE_ORDER_MARK) if data.startswith(BYTE_ORDER_MARK) else 0
    try:
        text = str(memoryview(data)[skip:], "utf-8")
    except UnicodeDecodeError as error:
        offset = error.start + skip
        row = data.count(b"\n", 0, offset) + 1
        raise rejected(
            row,
            None,
            f"The file is not UTF-8 text: byte {offset} (row {row}) is 0x{data[offset]:02X}. "
            "Save it as “CSV UTF-8” and upload it again.",
        ) from None
    if not text or text.isspace():
        raise rejected(None, None, "The file is empty.")
    nul = text.find("\x00")
    if nul >= 0:
        row = text.count("\n", 0, nul) + 1
        raise rejected(
            row,
            None,
            f"The file contains a NUL character (row {row}): it is not UTF-8 text (perhaps "
            "UTF-16). Save it as “CSV UTF-8” and upload it again.",
        )
    check_shape(data)


def check_shape(data: bytes) -> None:
    """At most MAX_COLUMNS columns and MAX_CELL_CHARACTERS characters a cell, checked before
    any row is parsed: a header of millions of columns, or a cell of megabytes, is refused at
    once instead of keeping a worker busy or failing deep in the CSV reader. (The file is
    already known to be UTF-8.)"""
    end = data.find(b"\n")
    header_line = data[: end if end >= 0 else len(data)].rstrip(b"\r").decode("utf-8-sig")
    if '"' in header_line:  # quoted names may hold commas: count the cells the reader sees
        columns = len(next(csv.reader([header_line]), []))
    else:
        columns = header_line.count(",") + 1
    if columns > MAX_COLUMNS:
        raise rejected(
            1,
            f"#{MAX_COLUMNS + 1}",
            f"The header has {columns:,} columns; a file may have at most {MAX_COLUMNS:,}. "
            "Keep only the columns of the template.",
        )
    # Cells are what lies between commas and line breaks (a quoted cell may also hold commas:
    # the reader's own limit catches those). Only a line longer than the limit can hold such a
    # cell, and numpy finds those at once; their cells are measured one by one.
    octets = np.frombuffer(data, dtype=np.uint8)
    bounds = np.concatenate(([-1], np.flatnonzero(octets == ord("\n")), [len(data)]))
    names: list[str] | None = None
    for index in np.flatnonzero(np.diff(bounds) - 1 > MAX_CELL_CHARACTERS):
        line_start = int(bounds[index]) + 1
        line = data[line_start : int(bounds[index + 1])]
        for position, cell in enumerate(line.split(b",")):
            if len(cell) <= MAX_CELL_CHARACTERS:  # bytes: a bound on characters
                continue
            if len(cell.decode("utf-8", errors="replace")) <= MAX_CELL_CHARACTERS:
                continue
            names = names or [normalize_header(name) for name in next(csv.reader([header_line]))]
            column = names[position] if position < len(names) and names[position] else None
            raise rejected(int(index) + 1, column or f"#{position + 1}", _TOO_LONG)


MAX_COLUMNS = 500
MAX_CELL_CHARACTERS = 10_000
_TOO_LONG = (
    f"This cell is longer than {MAX_CELL_CHARACTERS:,} characters, the most a cell may have."
)


def csv_records(data: bytes) -> Iterator[list[str]]:
    # Decoded as it is read: a million-row file never sits in memory as one string.
    stream = io.TextIOWrapper(io.BytesIO(data), encoding="utf-8-sig", newline="")
    reader = csv.reader(stream, strict=False)
    try:
        yield from reader
    except csv.Error as error:
        # The reader refuses a (quoted) cell over its own limit, far above MAX_CELL_CHARACTERS.
        message = _TOO_LONG if "field limit" in str(error) else f"This row is not CSV: {error}."
        raise rejected(reader.line_num, None, message) from None


def normalize_header(name: str) -> str:
    """How header cells are compared: trimmed and lower-cased."""
    return name.strip().lower()


@dataclass(frozen=True)
class Header:
    positions: dict[str, int]  # expected column name → cell index
    width: int
    identifiers: bool  # a column looked like a direct identifier


def check_header(
    cells: list[str], required: Sequence[str], optional: Sequence[str], problems: Problems
) -> Header:
    expected = [*required, *optional]
    positions: dict[str, int] = {}
    unknown: list[str] = []
    identifiers = False
    for index, cell in enumerate(cells):
        name = normalize_header(cell)
        if not name:
            problems.add(1, f"#{index + 1}", "This column has no name in the header row.")
        elif name in positions:
            problems.add(1, name, "This column appears more than once in the header row.")
        elif name in expected:
            positions[name] = index
        elif name != STUDENT_KEY and identifier_like(name):
            identifiers = True
            problems.add(
                1,
                cell.strip(),
                "This column looks like a direct identifier (a name, email, birth date, "
                "address, phone or student id) and is refused: Testbed never stores them. "
                "Remove the column; keep only the pseudonymous student_key.",
            )
        else:
            unknown.append(cell.strip())
    for name in unknown:
        problems.add(
            1, name, f"Unknown column. The columns this pilot takes are: {', '.join(expected)}."
        )
    for name in required:
        if name not in positions:
            problems.add(
                1, name, f"Missing column. The header must include: {', '.join(required)}."
            )
    return Header(positions=positions, width=len(cells), identifiers=identifiers)


def record_chunks(records: Iterator[list[str]]) -> Iterator[tuple[int, list[list[str]]]]:
    """(spreadsheet number of the chunk's first row, rows), skipping wholly blank rows."""
    first_row = 2
    chunk: list[list[str]] = []
    for record in records:
        chunk.append(record)
        if len(chunk) == CHUNK_ROWS:
            yield first_row, chunk
            first_row += len(chunk)
            chunk = []
    if chunk:
        yield first_row, chunk


def chunk_columns(
    first_row: int, chunk: list[list[str]], width: int, problems: Problems
) -> tuple[list[int], list[tuple[str, ...]]]:
    """The chunk's row numbers and its columns, after dropping blank rows and reporting rows
    with the wrong number of cells (their cells are still checked, padded or cut)."""
    if set(map(len, chunk)) == {width}:
        return list(range(first_row, first_row + len(chunk))), list(zip(*chunk, strict=True))
    numbers = []
    rows = []
    for offset, record in enumerate(chunk):
        if len(record) == width:
            numbers.append(first_row + offset)
            rows.append(record)
            continue
        if not any(cell.strip() for cell in record):
            continue  # a blank line, as spreadsheets leave at the end
        row = first_row + offset
        problems.add(row, None, f"This row has {len(record)} cells; the header has {width}.")
        numbers.append(row)
        rows.append((record + [""] * width)[:width])
    return numbers, list(zip(*rows, strict=True)) if rows else [()] * width
