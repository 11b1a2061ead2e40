"""Reading the CSV files districts upload for a design: randomization rosters (pseudonymous keys,
optional strata) and baseline-equivalence groups. The whole file is checked before anything is
used, and every problem is reported with its row and column; nothing is stored when any is found.
Rows are numbered as a spreadsheet shows them: the header is row 1.
"""

from __future__ import annotations

import csv
import io
import math
import re
from dataclasses import dataclass

from testbed.errors import InvalidInput

MAX_UPLOAD_BYTES = 5_000_000
# Room for the multipart envelope around the largest accepted file.
UPLOAD_BODY_LIMIT = MAX_UPLOAD_BYTES + 64_000
MAX_ROWS = 200_000
MAX_KEY_LENGTH = 64
PROBLEMS_LISTED = 100

# Direct identifiers never belong in a roster: the file is refused, naming the column.
IDENTIFIER_COLUMNS = frozenset(
    {
        "name",
        "first_name",
        "firstname",
        "last_name",
        "lastname",
        "middle_name",
        "full_name",
        "student_name",
        "parent_name",
        "guardian_name",
        "email",
        "email_address",
        "birth_date",
        "birthdate",
        "date_of_birth",
        "dob",
        "address",
        "street_address",
        "phone",
        "phone_number",
        "ssn",
        "social_security_number",
        "state_student_id",
        "student_id",
    }
)
IDENTIFIER_PARTS = ("email", "phone", "birth", "address", "ssn")

ROSTER_COLUMNS = ("key", "stratum")
BASELINE_COLUMNS = ("key", "group", "baseline")
BASELINE_GROUPS = {"treatment": "treatment", "comparison": "comparison", "control": "comparison"}


@dataclass(frozen=True)
class Problem:
    row: int | None
    column: str | None
    message: str

    def as_error(self) -> dict:
        where = ", ".join(
            part
            for part in (
                f"row {self.row}" if self.row else "",
                f'column "{self.column}"' if self.column else "",
            )
            if part
        )
        text = f"{where[:1].upper()}{where[1:]}: {self.message}" if where else self.message
        return {"row": self.row, "column": self.column, "message": text}


def refuse(problems: list[Problem], what: str) -> InvalidInput:
    shown = problems[:PROBLEMS_LISTED]
    more = len(problems) - len(shown)
    detail = (
        f"The {what} has {len(problems)} problem{'s' if len(problems) != 1 else ''}; "
        "nothing was stored."
    )
    if more:
        detail += f" The first {PROBLEMS_LISTED} are listed; {more} more are not shown."
    return InvalidInput(detail, errors=[problem.as_error() for problem in shown])


def _normal_column(name: str) -> str:
    return re.sub(r"[\s\-]+", "_", name.strip().lower())


def _looks_like_identifier(column: str) -> bool:
    return column in IDENTIFIER_COLUMNS or any(part in column for part in IDENTIFIER_PARTS)


def _decode(data: bytes) -> tuple[str, list[Problem]]:
    """UTF-8 text (a byte-order mark is dropped), or a problem for every line that is not."""
    problems = []
    lines = data.split(b"\n")
    for number, line in enumerate(lines, start=1):
        try:
            line.decode("utf-8")
        except UnicodeDecodeError as error:
            problems.append(
                Problem(
                    number,
                    None,
                    f"this line is not UTF-8 text (byte 0x{line[error.start]:02x}). Save the "
                    'file as "CSV UTF-8" and upload it again.',
                )
            )
    if problems:
        return "", problems
    return data.decode("utf-8-sig"), []


def read_rows(
    data: bytes, *, allowed: tuple[str, ...], required: tuple[str, ...], what: str
) -> tuple[list[dict[str, str]], list[Problem]]:
    """The file's well-formed rows as {column: text} and the problems found in its size,
    encoding, header and shape. A file that cannot be read at all is refused at once."""
    if len(data) > MAX_UPLOAD_BYTES:
        raise refuse(
            [Problem(None, None, f"the file is larger than {MAX_UPLOAD_BYTES // 1_000_000} MB.")],
            what,
        )
    if not data.strip():
        raise refuse([Problem(None, None, "the file is empty.")], what)
    text, problems = _decode(data)
    if problems:
        raise refuse(problems, what)
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader)
    except (StopIteration, csv.Error):
        raise refuse([Problem(1, None, "the header row cannot be read.")], what) from None
    columns = [_normal_column(name) for name in header]
    for raw, column in zip(header, columns, strict=True):
        if _looks_like_identifier(column):
            problems.append(
                Problem(
                    1,
                    raw.strip(),
                    "this looks like a direct identifier of a student. Remove the column: "
                    "files here carry pseudonymous keys only.",
                )
            )
        elif column not in allowed:
            problems.append(
                Problem(
                    1,
                    raw.strip(),
                    f"this column is not used. The columns are: {', '.join(allowed)}.",
                )
            )
    for column in required:
        if column not in columns:
            problems.append(Problem(1, column, "this column is missing."))
    if len(set(columns)) != len(columns):
        problems.append(Problem(1, None, "a column name appears twice."))
    rows: list[dict[str, str]] = []
    try:
        for number, values in enumerate(reader, start=2):
            if not any(value.strip() for value in values):
                continue
            if len(values) != len(columns):
                problems.append(
                    Problem(
                        number,
                        None,
                        f"this row has {len(values)} values but the header has {len(columns)}.",
                    )
                )
                continue
            rows.append({"_row": str(number), **dict(zip(columns, values, strict=True))})
            if len(rows) > MAX_ROWS:
                problems.append(Problem(number, None, f"a file holds at most {MAX_ROWS:,} rows."))
                break
    except csv.Error as error:
        problems.append(Problem(reader.line_num, None, f"the CSV cannot be read here ({error})."))
    if not rows and not problems:
        problems.append(Problem(None, None, "the file has a header but no rows."))
    if any(column not in columns for column in required):
        raise refuse(problems, what)  # the rows cannot be checked without their columns
    return rows, problems


def _position(problem: Problem) -> tuple[int, int]:
    return (problem.row or 0, 0 if problem.column is None else 1)


def _key_problems(rows: list[dict[str, str]]) -> list[Problem]:
    problems = []
    first_row: dict[str, int] = {}
    for row in rows:
        number = int(row["_row"])
        key = row["key"].strip()
        if not key:
            problems.append(Problem(number, "key", "the key is empty."))
        elif len(key) > MAX_KEY_LENGTH:
            problems.append(
                Problem(number, "key", f"the key is longer than {MAX_KEY_LENGTH} characters.")
            )
        elif "@" in key:
            problems.append(
                Problem(number, "key", "this looks like an email address, not a pseudonymous key.")
            )
        elif key in first_row:
            problems.append(
                Problem(number, "key", f"the key {key!r} is also on row {first_row[key]}.")
            )
        else:
            first_row[key] = number
    return problems


@dataclass(frozen=True)
class Roster:
    keys: list[str]
    strata: dict[str, str]  # empty when the file has no stratum column


def parse_roster(data: bytes) -> Roster:
    rows, problems = read_rows(data, allowed=ROSTER_COLUMNS, required=("key",), what="roster")
    problems += _key_problems(rows)
    with_strata = bool(rows) and "stratum" in rows[0]
    if with_strata:
        for row in rows:
            stratum = row["stratum"].strip()
            if not stratum:
                problems.append(
                    Problem(
                        int(row["_row"]),
                        "stratum",
                        "the stratum is empty; fill it in, or remove the column.",
                    )
                )
            elif len(stratum) > MAX_KEY_LENGTH:
                problems.append(
                    Problem(
                        int(row["_row"]),
                        "stratum",
                        f"the stratum is longer than {MAX_KEY_LENGTH} characters.",
                    )
                )
    if problems:
        raise refuse(sorted(problems, key=_position), "roster")
    keys = [row["key"].strip() for row in rows]
    strata = {row["key"].strip(): row["stratum"].strip() for row in rows} if with_strata else {}
    return Roster(keys=keys, strata=strata)


@dataclass(frozen=True)
class BaselineGroups:
    treatment: list[float]
    comparison: list[float]


def parse_baseline_groups(data: bytes) -> BaselineGroups:
    rows, problems = read_rows(
        data, allowed=BASELINE_COLUMNS, required=BASELINE_COLUMNS, what="file"
    )
    problems += _key_problems(rows)
    groups: dict[str, list[float]] = {"treatment": [], "comparison": []}
    for row in rows:
        number = int(row["_row"])
        group = BASELINE_GROUPS.get(row["group"].strip().lower())
        if group is None:
            problems.append(
                Problem(number, "group", "the group is either treatment or comparison.")
            )
        text = row["baseline"].strip()
        try:
            value = float(text)
        except ValueError:
            problems.append(Problem(number, "baseline", f"{text!r} is not a number."))
            continue
        if not math.isfinite(value):
            problems.append(Problem(number, "baseline", "the baseline must be a finite number."))
        elif group is not None:
            groups[group].append(value)
    if not problems:
        for group, values in groups.items():
            if len(values) < 2:
                problems.append(
                    Problem(None, "group", f"the {group} group needs at least 2 students.")
                )
    if problems:
        raise refuse(sorted(problems, key=_position), "file")
    return BaselineGroups(**groups)
