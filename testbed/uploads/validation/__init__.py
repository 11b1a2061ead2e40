"""Checking an uploaded outcome file, whole, before anything is stored (pure: no database).

`validate_students` and `validate_aggregates` read the file's bytes and either return its
contents, column by column and ready to store, or raise `UploadRejected` with every problem
found: (row, column, message), rows numbered as a spreadsheet shows them (the header is row
1), the first 100 listed in file order and all of them counted.

A million rows must pass in a few seconds, so the file is parsed once by `csv.reader` in
chunks, and each chunk's columns are converted and checked as whole lists and numpy arrays
rather than cell by cell. The student key is hashed chunk by chunk (`pseudonymize`), so the
district's keys never outlive their chunk and no message ever repeats one.

One module a job: `model` (rules, data, problems), `reading` (bytes to rows and the header),
`cells` (converting columns), `identifiers` (direct identifiers refused), `students` and
`aggregates`. Callers import from here.
"""

from testbed.uploads.validation.aggregates import validate_aggregates
from testbed.uploads.validation.identifiers import identifier_like
from testbed.uploads.validation.model import (
    MAX_PROBLEMS_LISTED,
    AggregateRow,
    OutcomeRule,
    Problem,
    StudentData,
    UploadRejected,
    UploadRules,
    without_cycle_collection,
)
from testbed.uploads.validation.reading import MAX_CELL_CHARACTERS, MAX_COLUMNS, check_size
from testbed.uploads.validation.students import validate_students

__all__ = [
    "AggregateRow",
    "MAX_CELL_CHARACTERS",
    "MAX_COLUMNS",
    "MAX_PROBLEMS_LISTED",
    "OutcomeRule",
    "Problem",
    "StudentData",
    "UploadRejected",
    "UploadRules",
    "check_size",
    "identifier_like",
    "validate_aggregates",
    "validate_students",
    "without_cycle_collection",
]
