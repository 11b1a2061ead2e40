"""What a check is given (the upload rules), what it returns (the data, ready to store), and how
its problems are collected: (row, column, message), rows numbered as a spreadsheet shows them
(the header is row 1), the first `MAX_PROBLEMS_LISTED` listed in file order, all counted."""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np

from testbed.uploads.columns import (
    STUDENT_KEY,
    SUBGROUP_FLAGS,
)

MAX_PROBLEMS_LISTED = 100


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


class Problems:
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


def rejected(row: int | None, column: str | None, message: str) -> UploadRejected:
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
