"""Checking an uploaded outcome file, whole, before anything is stored (pure: no database).

`validate_students` and `validate_aggregates` read the file's bytes and either return its
contents, column by column and ready to store, or raise `UploadRejected` with every problem
found: (row, column, message), rows numbered as a spreadsheet shows them (the header is row
1), the first 100 listed in file order and all of them counted.

A million rows must pass in a few seconds, so the file is parsed once by `csv.reader` in
chunks, and each chunk's columns are converted and checked as whole lists and numpy arrays
rather than cell by cell. The student key is hashed chunk by chunk (`pseudonymize`), so the
district's keys never outlive their chunk and no message ever repeats one.
"""

from __future__ import annotations

import csv
import gc
import io
import math
import re
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from itertools import repeat
from typing import Any, NamedTuple

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from pyarrow import csv as pa_csv

from analysis.regression import NEAR_PERFECT_FIT, near_perfect_fit_message, residual_share
from testbed.uploads.columns import (
    AGGREGATE_OPTIONAL,
    AGGREGATE_REQUIRED,
    STUDENT_KEY,
    SUBGROUP_FLAGS,
)
from testbed.uploads.pseudonymize import Pseudonymizer
from testbed.vocabulary import GENDER_CODES, RACE_ETHNICITY_CODES

MAX_PROBLEMS_LISTED = 100
CHUNK_ROWS = 20_000
MAX_KEY_LENGTH = 100
MAX_CLUSTER_LENGTH = 64


# Direct identifiers are refused by name (normalized: lower case, words joined by "_").
IDENTIFIER_NAMES = frozenset(
    {
        "name", "first_name", "firstname", "last_name", "lastname", "middle_name",
        "full_name", "fullname", "given_name", "family_name", "surname", "legal_name",
        "preferred_name", "student_name", "parent_name", "guardian_name", "email",
        "e_mail", "email_address", "birth_date", "birthdate", "date_of_birth", "dob",
        "birthday", "address", "street", "street_address", "home_address", "zip", "zip_code",
        "postal_code", "phone", "telephone", "phone_number", "mobile", "cell_phone", "ssn",
        "social_security", "social_security_number", "state_student_id", "state_id", "ssid",
        "sasid", "lasid", "sis_id", "student_id", "local_student_id", "student_number",
    }
)  # fmt: skip
# ... and by the words in them ("Guardian E-mail", "Student Birth Date", "home_phone").
IDENTIFIER_WORDS = frozenset(
    {"email", "mail", "phone", "telephone", "birth", "birthdate", "dob", "ssn", "address",
     "street", "surname", "firstname", "lastname"}
)  # fmt: skip
IDENTIFIER_PAIRS = (
    ("first", "name"),
    ("last", "name"),
    ("student", "name"),
    ("social", "security"),
)

FLAG_WORDS: dict[str, bool | None] = {
    "": None, "1": True, "0": False, "yes": True, "no": False, "y": True, "n": False,
    "true": True, "false": False,
}  # fmt: skip
# Exact spellings looked up first; anything else is trimmed and lower-cased, then looked up.
_FLAG_FAST = {
    spelling: value
    for word, value in FLAG_WORDS.items()
    for spelling in (word, word.upper(), word.capitalize())
}
_UNKNOWN = object()


class Problem(NamedTuple):
    row: int | None  # as a spreadsheet numbers it: the header is row 1
    column: str | None
    message: str

    def as_dict(self) -> dict[str, Any]:
        return {"row": self.row, "column": self.column, "message": self.message}

    def __str__(self) -> str:
        where = ", ".join(
            part
            for part in (
                f"row {self.row}" if self.row is not None else "",
                f"column {self.column}" if self.column else "",
            )
            if part
        )
        return f"{where}: {self.message}" if where else self.message


class UploadRejected(Exception):
    """The file has problems; nothing from it may be stored."""

    def __init__(self, problems: list[Problem], count: int):
        super().__init__(f"{count} problem(s) in the file")
        self.problems = problems
        self.count = count


@dataclass(frozen=True)
class OutcomeRule:
    name: str
    kind: str  # continuous | binary | count
    minimum: float | None = None
    maximum: float | None = None
    primary: bool = False


@dataclass(frozen=True)
class UploadRules:
    """What one pilot's registered design (and the site's randomization) asks of a file."""

    arms: tuple[str, ...]
    outcomes: tuple[OutcomeRule, ...]
    needs_cluster: bool = False
    has_baseline: bool = False
    # The site's randomization: unit → arm, the unit being the student key or the cluster.
    assignment: dict[str, str] | None = None
    assignment_unit: str = "student"  # student | cluster
    max_bytes: int = 50 * 1024 * 1024

    @property
    def arm_required(self) -> bool:
        return not self.assignment

    @property
    def primary_outcome(self) -> str:
        return next((o.name for o in self.outcomes if o.primary), self.outcomes[0].name)

    def student_columns(self) -> tuple[list[str], list[str]]:
        """(required, optional) column names, in template order."""
        required = [STUDENT_KEY]
        optional: list[str] = []
        (required if self.arm_required else optional).append("arm")
        (required if self.needs_cluster else optional).append("cluster")
        optional += [*SUBGROUP_FLAGS, "gender", "race_ethnicity"]
        if self.has_baseline:
            required.append("baseline")
        optional.append("dosage")
        required += [outcome.name for outcome in self.outcomes]
        return required, optional


@dataclass
class StudentData:
    """A valid student-level file, column by column (NaN marks a missing number)."""

    student_key: list[str]  # already pseudonymized
    arm: list[str]
    cluster: list[str]
    frl: list[bool | None]
    el: list[bool | None]
    swd: list[bool | None]
    gender: list[str]
    race_ethnicity: list[str]
    baseline: np.ndarray
    dosage: np.ndarray
    outcomes: dict[str, np.ndarray] = field(default_factory=dict)
    whole_outcomes: frozenset[str] = frozenset()  # binary and count outcomes
    columns_present: tuple[str, ...] = ()

    def __len__(self) -> int:
        return len(self.student_key)


@dataclass
class AggregateRow:
    arm: str
    outcome: str
    randomized: int
    n: int
    mean: float | None
    sd: float | None
    successes: int | None


# --- collecting problems ----------------------------------------------------------------------


class _Problems:
    """Every problem counted; the first ones (in file order) kept."""

    def __init__(self) -> None:
        self.kept: list[Problem] = []
        self.count = 0

    def add(self, row: int | None, column: str | None, message: str) -> None:
        self.count += 1
        self.kept.append(Problem(row, column, message))
        if len(self.kept) > 4 * MAX_PROBLEMS_LISTED:
            self._trim()

    def add_cells(
        self,
        indices: Sequence[int],
        numbers: Sequence[int],
        column: str,
        message: Callable[[int], str],
    ) -> None:
        """One problem per cell at `indices` of a chunk whose rows are numbered `numbers`;
        the message (of the cell's index) is written only for the ones kept."""
        self.count += len(indices)
        for index in indices[:MAX_PROBLEMS_LISTED]:
            self.kept.append(Problem(numbers[index], column, message(index)))
        if len(self.kept) > 4 * MAX_PROBLEMS_LISTED:
            self._trim()

    def _trim(self) -> None:
        self.kept = sorted(self.kept, key=_problem_order)[:MAX_PROBLEMS_LISTED]

    def raise_if_any(self) -> None:
        if self.count:
            self._trim()
            raise UploadRejected(self.kept, self.count)


def _problem_order(problem: Problem) -> tuple[int, int]:
    return (problem.row if problem.row is not None else 0, 0)


def _rejected(row: int | None, column: str | None, message: str) -> UploadRejected:
    return UploadRejected([Problem(row, column, message)], 1)


@contextmanager
def without_cycle_collection() -> Iterator[None]:
    """Pause Python's cycle collector while a million rows are read or written.

    Every parsed row is a new list, and the collector would traverse the chunks and result
    columns held meanwhile over and over (a third of the checking time on a million rows);
    nothing made here forms reference cycles, so plain reference counting frees it all.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


# --- bytes to rows ---------------------------------------------------------------------------


def _megabytes(size: int) -> str:
    return f"{size / (1024 * 1024):.1f} MB"


BYTE_ORDER_MARK = b"\xef\xbb\xbf"


def check_size(data: bytes, max_bytes: int) -> None:
    """The file is within the size limit."""
    if len(data) > max_bytes:
        raise _rejected(
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
        raise _rejected(
            row,
            None,
            f"The file is not UTF-8 text: byte {offset} (row {row}) is 0x{data[offset]:02X}. "
            "Save it as “CSV UTF-8” and upload it again.",
        ) from None
    if not text or text.isspace():
        raise _rejected(None, None, "The file is empty.")
    nul = text.find("\x00")
    if nul >= 0:
        row = text.count("\n", 0, nul) + 1
        raise _rejected(
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
        raise _rejected(
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
            raise _rejected(int(index) + 1, column or f"#{position + 1}", _TOO_LONG)


MAX_COLUMNS = 500
MAX_CELL_CHARACTERS = 10_000
_TOO_LONG = (
    f"This cell is longer than {MAX_CELL_CHARACTERS:,} characters, the most a cell may have."
)


def _records(data: bytes) -> Iterator[list[str]]:
    # Decoded as it is read: a million-row file never sits in memory as one string.
    stream = io.TextIOWrapper(io.BytesIO(data), encoding="utf-8-sig", newline="")
    reader = csv.reader(stream, strict=False)
    try:
        yield from reader
    except csv.Error as error:
        # The reader refuses a (quoted) cell over its own limit, far above MAX_CELL_CHARACTERS.
        message = _TOO_LONG if "field limit" in str(error) else f"This row is not CSV: {error}."
        raise _rejected(reader.line_num, None, message) from None


def normalize_header(name: str) -> str:
    """How header cells are compared: trimmed and lower-cased."""
    return name.strip().lower()


def identifier_like(name: str) -> bool:
    """Whether a column name looks like a direct identifier (a name, email, birth date, ...)."""
    normalized = re.sub(r"[^a-z0-9]+", "_", name.strip().lower()).strip("_")
    if normalized in IDENTIFIER_NAMES:
        return True
    words = set(normalized.split("_"))
    if words & IDENTIFIER_WORDS:
        return True
    return any(first in words and second in words for first, second in IDENTIFIER_PAIRS)


@dataclass(frozen=True)
class _Header:
    positions: dict[str, int]  # expected column name → cell index
    width: int
    identifiers: bool  # a column looked like a direct identifier


def _check_header(
    cells: list[str], required: Sequence[str], optional: Sequence[str], problems: _Problems
) -> _Header:
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
    return _Header(positions=positions, width=len(cells), identifiers=identifiers)


def _chunks(records: Iterator[list[str]]) -> Iterator[tuple[int, list[list[str]]]]:
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


def _columns(
    first_row: int, chunk: list[list[str]], width: int, problems: _Problems
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


# --- converting columns ------------------------------------------------------------------------


def _numbers(cells: Sequence[str]) -> tuple[np.ndarray, list[int]]:
    """Cells as floats (NaN where blank) and the positions of cells that are not numbers."""
    try:
        values = np.fromiter(map(float, cells), np.float64, len(cells))
    except ValueError:
        values = None
    try:
        if values is None:
            blanks_as_nan = [cell or "nan" for cell in cells]
            values = np.fromiter(map(float, blanks_as_nan), np.float64, len(cells))
    except ValueError:
        values = np.empty(len(cells))
        for index, cell in enumerate(cells):
            try:
                values[index] = float(cell) if cell.strip() else math.nan
            except ValueError:
                values[index] = math.inf  # marked bad below
    # NaN is a blank cell unless the cell said "nan"; infinities are never numbers here.
    bad = [int(i) for i in np.flatnonzero(np.isnan(values)) if cells[i].strip()]
    bad += np.flatnonzero(np.isinf(values)).tolist()
    if bad:
        values[bad] = math.nan
    return values, sorted(bad)


def _check_numbers(
    cells: Sequence[str],
    numbers: list[int],
    column: str,
    problems: _Problems,
    *,
    minimum: float | None = None,
    maximum: float | None = None,
    whole: bool = False,
    allowed: str = "a number",
) -> np.ndarray:
    values, bad = _numbers(cells)
    _check_values(
        values, bad, numbers, column, problems,
        minimum=minimum, maximum=maximum, whole=whole, allowed=allowed,
    )  # fmt: skip
    return values


def _check_values(
    values: np.ndarray,
    bad: list[int],
    numbers: Sequence[int],
    column: str,
    problems: _Problems,
    *,
    minimum: float | None = None,
    maximum: float | None = None,
    whole: bool = False,
    allowed: str = "a number",
) -> None:
    """Report the cells that were not numbers (`bad`) and the numbers out of range."""

    def report(indices: list[int], words: str) -> None:
        problems.add_cells(indices, numbers, column, lambda _: f"{words}.")

    report(bad, f"Not {allowed}")
    with np.errstate(invalid="ignore"):
        if minimum is not None:
            report(np.flatnonzero(values < minimum).tolist(), f"Below the minimum, {minimum:g}")
        if maximum is not None:
            report(np.flatnonzero(values > maximum).tolist(), f"Above the maximum, {maximum:g}")
        if whole:
            fractional = ~np.isnan(values) & (values != np.floor(values))
            report(np.flatnonzero(fractional).tolist(), f"Not {allowed}")


def _codes(
    cells: Sequence[str],
    numbers: list[int],
    column: str,
    allowed: dict[str, Any],
    problems: _Problems,
    describe: str,
) -> list[Any]:
    """Cells mapped through `allowed` (exact spelling first, then trimmed and lower-cased);
    _UNKNOWN where a cell is none of them."""
    values = list(map(allowed.get, cells, repeat(_UNKNOWN, len(cells))))
    if _UNKNOWN not in values:
        return values
    bad = []
    for index, value in enumerate(values):
        if value is _UNKNOWN:
            values[index] = allowed.get(cells[index].strip().lower(), _UNKNOWN)
            if values[index] is _UNKNOWN:
                bad.append(index)
    problems.add_cells(bad, numbers, column, lambda _: f"Not {describe}.")
    return values


def _vocabulary(codes: Sequence[str]) -> dict[str, str]:
    return {"": "", **{code: code for code in codes}, **{code.upper(): code for code in codes}}


# --- student-level files ---------------------------------------------------------------------


def validate_students(
    data: bytes,
    rules: UploadRules,
    pseudonymize: Pseudonymizer,
    progress: Callable[[int], None] | None = None,
) -> StudentData:
    """The file's rows, checked and with keys pseudonymized; or UploadRejected.

    A file is read column-wise by Arrow's CSV reader first (`_read_columnar`), which turns a
    clean million-row file into checked columns in about a second. Anything that path is not
    sure of (quote characters, a cell that is not a number, any problem at all) sends the file
    to the row-by-row reader (`_read_by_rows`), which finds and numbers every problem. Both
    apply the same checks, so a file is stored the same whichever path read it.
    """
    with without_cycle_collection():
        layout = _student_layout(data, rules)
        students = _read_columnar(data, layout, pseudonymize)
        if students is None:
            students = _read_by_rows(data, layout, pseudonymize, progress)
        elif progress is not None:
            progress(len(students))
        _check_outcomes_are_not_the_baseline(students)
        return students


def _check_outcomes_are_not_the_baseline(students: StudentData) -> None:
    """Refuse an outcome column the baseline predicts exactly (a copy, or a copy plus a
    constant): the analysis could only report floating-point noise as an effect."""
    problems = _Problems()
    for name, values in students.outcomes.items():
        share = residual_share(values, students.baseline)
        if share < NEAR_PERFECT_FIT:
            message = near_perfect_fit_message(share, "the baseline")
            problems.add(None, name, f"The column {name}: {message}.")
    problems.raise_if_any()


@dataclass(frozen=True)
class _StudentLayout:
    """A student file's checked header and what its cells are checked against."""

    rules: UploadRules
    header: _Header
    header_problems: tuple[Problem, ...]  # that do not stop the rows being checked
    columns_present: tuple[str, ...]
    arm_words: dict[str, str]
    genders: dict[str, str]
    races: dict[str, str]

    def empty_result(self) -> StudentData:
        return StudentData(
            student_key=[], arm=[], cluster=[], frl=[], el=[], swd=[], gender=[],
            race_ethnicity=[], baseline=np.empty(0), dosage=np.empty(0), outcomes={},
            whole_outcomes=frozenset(
                o.name for o in self.rules.outcomes if o.kind in ("binary", "count")
            ),
            columns_present=self.columns_present,
        )  # fmt: skip

    def code_columns(self) -> tuple[tuple[str, dict[str, Any], str], ...]:
        """(column, spellings → value, words for "Not ...") of every coded column but arm."""
        flag_words = "yes, no, 1, 0 or blank"
        return (
            *((flag, _FLAG_FAST, flag_words) for flag in SUBGROUP_FLAGS),
            ("gender", self.genders, f"a gender code ({', '.join(GENDER_CODES)})"),
            (
                "race_ethnicity",
                self.races,
                f"a race/ethnicity code ({', '.join(RACE_ETHNICITY_CODES)})",
            ),
        )

    @property
    def arm_description(self) -> str:
        return f"an arm of this design ({', '.join(self.rules.arms)})"

    @property
    def number_columns(self) -> tuple[str, ...]:
        return ("baseline", "dosage", *(outcome.name for outcome in self.rules.outcomes))


def _student_layout(data: bytes, rules: UploadRules) -> _StudentLayout:
    """Check the bytes and the header row; refuse the file at once if either is wrong."""
    check_bytes(data, rules.max_bytes)
    problems = _Problems()
    try:
        header_cells = next(_records(data))
    except StopIteration:
        raise _rejected(None, None, "The file is empty.") from None
    required, optional = rules.student_columns()
    header = _check_header(header_cells, required, optional, problems)
    if header.identifiers or not header.positions.keys() >= set(required):
        # Refused for privacy (the rows are not read, so none of their cells reach a message),
        # or rows that cannot be checked until the header has its required columns.
        problems.raise_if_any()
    arm_words = {"": "", **{arm: arm for arm in rules.arms}}
    arm_words.update({arm.upper(): arm for arm in rules.arms})
    arm_words.update({arm.capitalize(): arm for arm in rules.arms})
    return _StudentLayout(
        rules=rules,
        header=header,
        header_problems=tuple(problems.kept),
        columns_present=tuple(name for name in [*required, *optional] if name in header.positions),
        arm_words=arm_words,
        genders=_vocabulary(GENDER_CODES),
        races=_vocabulary(RACE_ETHNICITY_CODES),
    )


def _read_columnar(
    data: bytes, layout: _StudentLayout, pseudonymize: Pseudonymizer
) -> StudentData | None:
    """The file's checked columns, or None unless every cell is sure to be right.

    Without quote characters, CSV is lines split at commas, which Arrow and `csv.reader` read
    alike; numbers are parsed by Arrow (the same values as Python's `float`), codes are looked
    up once per distinct spelling. Any problem, or any cell Arrow cannot convert, returns None:
    the row-by-row reader then lists the problems with their rows.
    """
    if layout.header_problems or b'"' in data:
        return None
    present = layout.header.positions
    names = [f"c{index}" for index in range(layout.header.width)]
    number_columns = set(layout.number_columns)
    try:
        table = pa_csv.read_csv(
            pa.py_buffer(data),
            read_options=pa_csv.ReadOptions(column_names=names, skip_rows=1),
            parse_options=pa_csv.ParseOptions(newlines_in_values=False, ignore_empty_lines=True),
            convert_options=pa_csv.ConvertOptions(
                include_columns=[names[index] for index in present.values()],
                column_types={
                    names[index]: pa.float64() if name in number_columns else pa.string()
                    for name, index in present.items()
                },
                null_values=[""],
                strings_can_be_null=False,
            ),
        )
    except pa.ArrowException:
        return None
    size = table.num_rows
    if size == 0:
        return None
    problems = _Problems()
    numbers = range(2, size + 2)  # for the checks' messages, which are never shown from here

    def column(name: str) -> pa.Array | None:
        index = present.get(name)
        return None if index is None else table.column(names[index]).combine_chunks()

    def distinct(
        name: str,
        convert: Callable[[str], Any],
        blank: Any,
        refused: Callable[[Any], bool] = lambda value: value is _UNKNOWN,
    ) -> list[Any] | None:
        """The column's cells converted once per distinct spelling, and checked once per
        distinct value: None if one is refused."""
        cells = column(name)
        if cells is None:
            return None if refused(blank) else [blank] * size
        encoded = cells.dictionary_encode()
        values = [convert(word) for word in encoded.dictionary.to_pylist()]
        if any(map(refused, values)):
            return None
        # np.empty, not np.array: every value stays one Python object, whatever it is.
        lookup = np.empty(len(values), dtype=object)
        lookup[:] = values
        return lookup[encoded.indices.to_numpy(zero_copy_only=False)].tolist()

    def codes(name: str, allowed: dict[str, Any], **refused: Any) -> list[Any] | None:
        # As _codes does: the exact spelling, else trimmed and lower-cased.
        def code(word: str) -> Any:
            return allowed.get(word, allowed.get(word.strip().lower(), _UNKNOWN))

        return distinct(name, code, allowed[""], **refused)

    keys = list(map(str.strip, column(STUDENT_KEY).to_pylist()))
    _check_keys(keys, numbers, problems)
    if problems.count or len(set(keys)) != size:  # distinct keys have distinct hashes
        return None
    hashed = pseudonymize(keys)
    # One string object per classroom, as the row-by-row reader interns them; _check_clusters'
    # rules, checked once per classroom.
    clusters = distinct(
        "cluster",
        lambda word: sys.intern(word.strip()),
        "",
        refused=lambda name: (
            (layout.rules.needs_cluster and not name)
            or len(name) > MAX_CLUSTER_LENGTH
            or (bool(name) and identifier_in(name) is not None)
        ),
    )
    if clusters is None:
        return None
    result = layout.empty_result()
    result.student_key = hashed
    result.cluster = clusters
    if layout.rules.assignment:
        given_arms = codes("arm", layout.arm_words)
        if given_arms is None:
            return None
        units = keys if layout.rules.assignment_unit == "student" else clusters
        result.arm = _resolve_arms(given_arms, units, numbers, layout.rules, problems)
    else:
        # Without a randomization every arm is given: none may be blank (as _resolve_arms).
        arms = codes("arm", layout.arm_words, refused=lambda arm: arm is _UNKNOWN or arm == "")
        if arms is None:
            return None
        result.arm = arms
    for name, allowed, _ in layout.code_columns():
        values = codes(name, allowed)
        if values is None:
            return None
        setattr(result, name, values)
    numbers_of: dict[str, np.ndarray] = {}
    for name in layout.number_columns:
        cells = column(name)
        if cells is None:
            numbers_of[name] = np.full(size, math.nan)
            continue
        if pc.any(pc.is_nan(cells)).as_py() or pc.any(pc.is_inf(cells)).as_py():
            return None  # "nan" or "inf" written in a cell: not a number here
        values = cells.to_numpy(zero_copy_only=False).astype(np.float64, copy=True)
        _check_values(values, [], numbers, name, problems, **_number_limits(name, layout.rules))
        numbers_of[name] = values
    if problems.count:
        return None
    result.baseline = numbers_of["baseline"]
    result.dosage = numbers_of["dosage"]
    result.outcomes = {outcome.name: numbers_of[outcome.name] for outcome in layout.rules.outcomes}
    return result


def _read_by_rows(
    data: bytes,
    layout: _StudentLayout,
    pseudonymize: Pseudonymizer,
    progress: Callable[[int], None] | None,
) -> StudentData:
    """Every row read by `csv.reader`, chunk by chunk; every problem found and numbered."""
    rules = layout.rules
    present = layout.header.positions
    records = _records(data)
    next(records)  # the header, checked already
    problems = _Problems()
    for problem in layout.header_problems:
        problems.add(*problem)
    result = layout.empty_result()
    number_parts: dict[str, list[np.ndarray]] = {name: [] for name in layout.number_columns}
    first_row_of_key: dict[str, int] = {}
    rows_read = 0

    for first_row, chunk in _chunks(records):
        numbers, columns = _columns(first_row, chunk, layout.header.width, problems)
        size = len(numbers)
        if size == 0:
            continue
        rows_read += size

        def column(name: str, columns=columns, size=size) -> Sequence[str]:
            index = present.get(name)
            return columns[index] if index is not None else ("",) * size

        keys = list(map(str.strip, column(STUDENT_KEY)))
        _check_keys(keys, numbers, problems)
        hashed = pseudonymize(keys)
        for row, key_hash in zip(numbers, hashed, strict=True):
            earlier = first_row_of_key.setdefault(key_hash, row)
            if earlier != row:
                problems.add(row, STUDENT_KEY, f"The same student key as row {earlier}.")
        result.student_key.extend(hashed)

        clusters = list(map(str.strip, column("cluster")))
        _check_clusters(clusters, numbers, rules.needs_cluster, problems)
        result.cluster.extend(map(sys.intern, clusters))  # one string per classroom

        given_arms = _codes(
            column("arm"), numbers, "arm", layout.arm_words, problems, layout.arm_description
        )
        units = keys if rules.assignment_unit == "student" else clusters
        result.arm.extend(_resolve_arms(given_arms, units, numbers, rules, problems))
        del keys

        for name, allowed, describe in layout.code_columns():
            getattr(result, name).extend(
                _codes(column(name), numbers, name, allowed, problems, describe)
            )
        for name in layout.number_columns:
            number_parts[name].append(
                _check_numbers(column(name), numbers, name, problems, **_number_limits(name, rules))
            )
        if progress is not None:
            progress(rows_read)

    if rows_read == 0:
        problems.add(None, None, "The file has a header but no rows of data.")
    problems.raise_if_any()
    result.baseline = np.concatenate(number_parts["baseline"])
    result.dosage = np.concatenate(number_parts["dosage"])
    result.outcomes = {
        outcome.name: np.concatenate(number_parts[outcome.name]) for outcome in rules.outcomes
    }
    return result


def _check_keys(keys: list[str], numbers: list[int], problems: _Problems) -> None:
    # Messages name the row only: a district's key is never repeated back or stored.
    def report(indices: list[int], message: str) -> None:
        problems.add_cells(indices, numbers, STUDENT_KEY, lambda _: message)

    if "" in keys:
        report([i for i, key in enumerate(keys) if not key], "The student key is blank.")
    if max(map(len, keys)) > MAX_KEY_LENGTH:
        report(
            [i for i, key in enumerate(keys) if len(key) > MAX_KEY_LENGTH],
            f"The student key is longer than {MAX_KEY_LENGTH} characters.",
        )
    if "@" in "\n".join(keys):
        report(
            [i for i, key in enumerate(keys) if "@" in key],
            "The student key looks like an email address; use a pseudonymous key.",
        )


# A cluster label is stored as given and shown to the pilot's team: it must be a code for a
# classroom or school, never something that identifies a person (docs/data-format.md).
_MONTHS = (
    "jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec|january|february|march|april|june|"
    "july|august|september|october|november|december"
)
_IDENTIFIERS = (
    ("an email address", re.compile(r"\S@\S")),
    ("a Social Security number", re.compile(r"(?<!\d)\d{3}[- .]\d{2}[- .]\d{4}(?!\d)")),
    (
        "a date",
        re.compile(
            r"(?<!\d)(\d{4}[-/.]\d{1,2}[-/.]\d{1,2}|\d{1,2}[-/.]\d{1,2}[-/.]\d{2,4})(?!\d)"
            rf"|(?i:\b(?:{_MONTHS})\.?\s+\d{{1,2}}\b|\b\d{{1,2}}\s+(?:{_MONTHS})\b)"
        ),
    ),
    # Two or more capitalized words and nothing else ("Jane Doe", "Mary-Ann O'Neil"), or a
    # title and a name ("Ms. Lopez").
    (
        "a person's name",
        re.compile(
            r"^(?:[A-Z][a-z]*(?:['’-][A-Z]?[a-z]+)*\s+)+[A-Z][a-z]*(?:['’-][A-Z]?[a-z]+)*$"
            r"|^(?:Mr|Mrs|Ms|Miss|Mx|Dr)\.?\s+[A-Z]"
        ),
    ),
)
_TITLE = re.compile(r"(?:Mr|Mrs|Ms|Miss|Mx|Dr)\.?\s")
# Words of places and groups, not of people: "North Campus" or "Science Lab" is a code.
_PLACE_WORDS = frozenset(
    [
        "room",
        "class",
        "classroom",
        "campus",
        "school",
        "grade",
        "block",
        "hall",
        "wing",
        "north",
        "south",
        "east",
        "west",
        "central",
        "elementary",
        "middle",
        "high",
        "academy",
        "building",
        "team",
        "group",
        "section",
        "period",
        "homeroom",
        "lab",
        "library",
        "annex",
        "unit",
        "cohort",
        "pod",
        "house",
        "track",
        "morning",
        "afternoon",
        "science",
        "math",
        "reading",
        "art",
        "music",
    ]
)


def identifier_in(label: str) -> str | None:
    """What a cluster label looks like if it could identify a person (None: a plain code)."""
    for words, pattern in _IDENTIFIERS:
        if not pattern.search(label):
            continue
        if words == "a person's name" and not _TITLE.match(label):
            parts = {part.strip(".").lower() for part in label.split()}
            if parts & _PLACE_WORDS or any(len(part) == 1 for part in parts):
                continue
        return words
    return None


def _check_clusters(
    clusters: list[str], numbers: list[int], required: bool, problems: _Problems
) -> None:
    flagged = [(i, identifier_in(name)) for i, name in enumerate(clusters) if name]
    flagged = [(i, words) for i, words in flagged if words]
    looks = dict(flagged)
    problems.add_cells(
        [i for i, _ in flagged],
        numbers,
        "cluster",
        lambda i: (
            f"The cluster looks like {looks[i]}; give each classroom or school a code "
            "(such as room-12) that names no person."
        ),
    )
    if required:
        problems.add_cells(
            [i for i, name in enumerate(clusters) if not name],
            numbers,
            "cluster",
            lambda _: "The cluster is blank; this design assigns clusters.",
        )
    problems.add_cells(
        [i for i, name in enumerate(clusters) if len(name) > MAX_CLUSTER_LENGTH],
        numbers,
        "cluster",
        lambda _: f"The cluster is longer than {MAX_CLUSTER_LENGTH} characters.",
    )


def _resolve_arms(
    given: list[Any], units: list[str], numbers: list[int], rules: UploadRules, problems: _Problems
) -> list[str]:
    """Each row's arm: as given, or from the randomization, which a given arm must match."""
    if not rules.assignment:
        blank = [i for i, arm in enumerate(given) if arm == ""]
        problems.add_cells(blank, numbers, "arm", lambda _: "The arm is blank.")
        return [arm if isinstance(arm, str) else "" for arm in given]
    unit_words = "this student" if rules.assignment_unit == "student" else "this cluster"
    assigned = [rules.assignment.get(unit) for unit in units]
    arms = []
    for index, (arm, randomized) in enumerate(zip(given, assigned, strict=True)):
        if arm is _UNKNOWN:
            arms.append("")
        elif arm == "":
            if randomized is None:
                problems.add(
                    numbers[index],
                    "arm",
                    f"The arm is blank and the randomization has no entry for {unit_words}.",
                )
            arms.append(randomized or "")
        else:
            if randomized is not None and randomized != arm:
                problems.add(
                    numbers[index],
                    "arm",
                    f"The randomization assigned {unit_words} to {randomized}.",
                )
            arms.append(arm)
    return arms


def _number_limits(name: str, rules: UploadRules) -> dict[str, Any]:
    """What a number column of this design must hold: bounds, whole numbers, and the words
    for "Not ..." (baseline, dosage, or an outcome)."""
    if name == "dosage":
        return {"minimum": 0, "allowed": "a number of minutes or sessions"}
    outcome = next((o for o in rules.outcomes if o.name == name), None)
    if outcome is None:  # the baseline
        return {}
    if outcome.kind == "binary":
        return {"minimum": 0, "maximum": 1, "whole": True, "allowed": "0 or 1"}
    if outcome.kind == "count":
        return {
            "minimum": 0 if outcome.minimum is None else max(0.0, outcome.minimum),
            "maximum": outcome.maximum,
            "whole": True,
            "allowed": "a whole number of 0 or more",
        }
    return {"minimum": outcome.minimum, "maximum": outcome.maximum}


# --- aggregate files -------------------------------------------------------------------------


def validate_aggregates(data: bytes, rules: UploadRules) -> list[AggregateRow]:
    """Per arm and outcome: randomized, n, mean and sd (or successes); or UploadRejected."""
    check_bytes(data, rules.max_bytes)
    records = _records(data)
    problems = _Problems()
    try:
        header_cells = next(records)
    except StopIteration:
        raise _rejected(None, None, "The file is empty.") from None
    header = _check_header(header_cells, AGGREGATE_REQUIRED, AGGREGATE_OPTIONAL, problems)
    kinds = {outcome.name: outcome for outcome in rules.outcomes}
    rows: list[AggregateRow] = []
    seen: dict[tuple[str, str], int] = {}
    randomized_of_arm: dict[str, tuple[int, int]] = {}

    for row_number, record in enumerate(records, start=2):
        if not any(cell.strip() for cell in record):
            continue
        if len(record) != header.width:
            problems.add(
                row_number,
                None,
                f"This row has {len(record)} cells; the header has {header.width}.",
            )
            record = (record + [""] * header.width)[: header.width]
        cell = {name: record[index].strip() for name, index in header.positions.items()}
        row = _aggregate_row(row_number, cell, rules, kinds, problems)
        if row is None:
            continue
        pair = (row.arm, row.outcome)
        if pair in seen:
            problems.add(
                row_number,
                "outcome",
                f"Arm {row.arm} and this outcome also appear in row {seen[pair]}.",
            )
        seen.setdefault(pair, row_number)
        earlier = randomized_of_arm.setdefault(row.arm, (row.randomized, row_number))
        if earlier[0] != row.randomized:
            problems.add(
                row_number,
                "randomized",
                f"Row {earlier[1]} says {earlier[0]} students were randomized to {row.arm}.",
            )
        rows.append(row)

    if not rows and problems.count == 0:
        problems.add(None, None, "The file has a header but no rows of data.")
    elif problems.count == 0:
        for arm in rules.arms:
            for outcome in rules.outcomes:
                if (arm, outcome.name) not in seen:
                    problems.add(None, None, f"No row for arm {arm} and outcome {outcome.name}.")
    problems.raise_if_any()
    return rows


def _whole(text: str, row: int, column: str, problems: _Problems, *, required: bool) -> int | None:
    if not text:
        if required:
            problems.add(row, column, "This cell is blank.")
        return None
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value < 0 or value != int(value):
        problems.add(row, column, "Not a whole number of 0 or more.")
        return None
    return int(value)


def _real(text: str, row: int, column: str, problems: _Problems) -> float | None:
    if not text:
        return None
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value):
        problems.add(row, column, "Not a number.")
        return None
    return value


def _aggregate_row(
    row: int,
    cell: dict[str, str],
    rules: UploadRules,
    kinds: dict[str, OutcomeRule],
    problems: _Problems,
) -> AggregateRow | None:
    count_before = problems.count
    arm = cell.get("arm", "").lower()
    if arm not in rules.arms:
        problems.add(row, "arm", f"Not an arm of this design ({', '.join(rules.arms)}).")
    name = cell.get("outcome", "").lower()
    outcome = kinds.get(name)
    if outcome is None:
        problems.add(row, "outcome", f"Not an outcome of this design ({', '.join(kinds)}).")
    randomized = _whole(cell.get("randomized", ""), row, "randomized", problems, required=True)
    n = _whole(cell.get("n", ""), row, "n", problems, required=True)
    mean = _real(cell.get("mean", ""), row, "mean", problems)
    sd = _real(cell.get("sd", ""), row, "sd", problems)
    successes = _whole(cell.get("successes", ""), row, "successes", problems, required=False)
    if randomized is not None and randomized < 1:
        problems.add(row, "randomized", "At least one student must have been randomized.")
    if randomized is not None and n is not None and n > randomized:
        problems.add(row, "n", f"n ({n}) is more than the students randomized ({randomized}).")
    if outcome is not None and n is not None:
        if outcome.kind == "binary":
            if mean is not None or sd is not None:
                problems.add(row, "mean", "A binary outcome takes successes, not mean and sd.")
            if successes is None:
                problems.add(row, "successes", "A binary outcome needs the number of successes.")
            elif successes > n:
                problems.add(row, "successes", f"Successes ({successes}) are more than n ({n}).")
        else:
            if successes is not None:
                problems.add(row, "successes", "Only binary outcomes take successes.")
            if n >= 1 and mean is None:
                problems.add(row, "mean", "The mean is blank.")
            if n >= 2 and sd is None:
                problems.add(row, "sd", "The standard deviation is blank.")
            if sd is not None and sd <= 0:
                problems.add(row, "sd", "The standard deviation must be more than 0.")
            if mean is not None and outcome.minimum is not None and mean < outcome.minimum:
                problems.add(row, "mean", f"The mean is below the minimum, {outcome.minimum:g}.")
            if mean is not None and outcome.maximum is not None and mean > outcome.maximum:
                problems.add(row, "mean", f"The mean is above the maximum, {outcome.maximum:g}.")
    if problems.count != count_before or outcome is None or randomized is None or n is None:
        return None
    return AggregateRow(
        arm=arm, outcome=name, randomized=randomized, n=n, mean=mean, sd=sd, successes=successes
    )
