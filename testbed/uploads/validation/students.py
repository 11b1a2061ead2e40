"""Student-level files: read column-wise by Arrow when clean, row by row otherwise (which numbers
every problem); keys, clusters, arms and outcomes checked."""

from __future__ import annotations

import math
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from pyarrow import csv as pa_csv

from analysis.regression import NEAR_PERFECT_FIT, near_perfect_fit_message, residual_share
from testbed.uploads.columns import (
    STUDENT_KEY,
    SUBGROUP_FLAGS,
)
from testbed.uploads.pseudonymize import Pseudonymizer
from testbed.uploads.validation.cells import (
    FLAG_FAST,
    UNKNOWN,
    check_numbers,
    check_values,
    code_values,
    vocabulary_of,
)
from testbed.uploads.validation.identifiers import identifier_in
from testbed.uploads.validation.model import (
    Problem,
    Problems,
    StudentData,
    UploadRules,
    rejected,
    without_cycle_collection,
)
from testbed.uploads.validation.reading import (
    Header,
    check_bytes,
    check_header,
    chunk_columns,
    csv_records,
    record_chunks,
)
from testbed.vocabulary import GENDER_CODES, RACE_ETHNICITY_CODES

MAX_KEY_LENGTH = 100
MAX_CLUSTER_LENGTH = 64


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
    problems = Problems()
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
    header: Header
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
            *((flag, FLAG_FAST, flag_words) for flag in SUBGROUP_FLAGS),
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
    problems = Problems()
    try:
        header_cells = next(csv_records(data))
    except StopIteration:
        raise rejected(None, None, "The file is empty.") from None
    required, optional = rules.student_columns()
    header = check_header(header_cells, required, optional, problems)
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
        genders=vocabulary_of(GENDER_CODES),
        races=vocabulary_of(RACE_ETHNICITY_CODES),
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
    problems = Problems()
    numbers = range(2, size + 2)  # for the checks' messages, which are never shown from here

    def column(name: str) -> pa.Array | None:
        index = present.get(name)
        return None if index is None else table.column(names[index]).combine_chunks()

    def distinct(
        name: str,
        convert: Callable[[str], Any],
        blank: Any,
        refused: Callable[[Any], bool] = lambda value: value is UNKNOWN,
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
        # As code_values does: the exact spelling, else trimmed and lower-cased.
        def code(word: str) -> Any:
            return allowed.get(word, allowed.get(word.strip().lower(), UNKNOWN))

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
        arms = codes("arm", layout.arm_words, refused=lambda arm: arm is UNKNOWN or arm == "")
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
        check_values(values, [], numbers, name, problems, **_number_limits(name, layout.rules))
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
    records = csv_records(data)
    next(records)  # the header, checked already
    problems = Problems()
    for problem in layout.header_problems:
        problems.add(*problem)
    result = layout.empty_result()
    number_parts: dict[str, list[np.ndarray]] = {name: [] for name in layout.number_columns}
    first_row_of_key: dict[str, int] = {}
    rows_read = 0

    for first_row, chunk in record_chunks(records):
        numbers, columns = chunk_columns(first_row, chunk, layout.header.width, problems)
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

        given_arms = code_values(
            column("arm"), numbers, "arm", layout.arm_words, problems, layout.arm_description
        )
        units = keys if rules.assignment_unit == "student" else clusters
        result.arm.extend(_resolve_arms(given_arms, units, numbers, rules, problems))
        del keys

        for name, allowed, describe in layout.code_columns():
            getattr(result, name).extend(
                code_values(column(name), numbers, name, allowed, problems, describe)
            )
        for name in layout.number_columns:
            number_parts[name].append(
                check_numbers(column(name), numbers, name, problems, **_number_limits(name, rules))
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


def _check_keys(keys: list[str], numbers: list[int], problems: Problems) -> None:
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


def _check_clusters(
    clusters: list[str], numbers: list[int], required: bool, problems: Problems
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
    given: list[Any], units: list[str], numbers: list[int], rules: UploadRules, problems: Problems
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
        if arm is UNKNOWN:
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
