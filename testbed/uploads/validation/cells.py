"""Converting a chunk's columns: numbers, flags and codes checked as whole lists and numpy
arrays rather than cell by cell."""

from __future__ import annotations

import math
from collections.abc import Sequence
from itertools import repeat
from typing import Any

import numpy as np

from testbed.uploads.validation.model import Problems

FLAG_WORDS: dict[str, bool | None] = {
    "": None, "1": True, "0": False, "yes": True, "no": False, "y": True, "n": False,
    "true": True, "false": False,
}  # fmt: skip
# Exact spellings looked up first; anything else is trimmed and lower-cased, then looked up.
FLAG_FAST = {
    spelling: value
    for word, value in FLAG_WORDS.items()
    for spelling in (word, word.upper(), word.capitalize())
}
UNKNOWN = object()


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


def check_numbers(
    cells: Sequence[str],
    numbers: list[int],
    column: str,
    problems: Problems,
    *,
    minimum: float | None = None,
    maximum: float | None = None,
    whole: bool = False,
    allowed: str = "a number",
) -> np.ndarray:
    values, bad = _numbers(cells)
    check_values(
        values, bad, numbers, column, problems,
        minimum=minimum, maximum=maximum, whole=whole, allowed=allowed,
    )  # fmt: skip
    return values


def check_values(
    values: np.ndarray,
    bad: list[int],
    numbers: Sequence[int],
    column: str,
    problems: Problems,
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


def code_values(
    cells: Sequence[str],
    numbers: list[int],
    column: str,
    allowed: dict[str, Any],
    problems: Problems,
    describe: str,
) -> list[Any]:
    """Cells mapped through `allowed` (exact spelling first, then trimmed and lower-cased);
    UNKNOWN where a cell is none of them."""
    values = list(map(allowed.get, cells, repeat(UNKNOWN, len(cells))))
    if UNKNOWN not in values:
        return values
    bad = []
    for index, value in enumerate(values):
        if value is UNKNOWN:
            values[index] = allowed.get(cells[index].strip().lower(), UNKNOWN)
            if values[index] is UNKNOWN:
                bad.append(index)
    problems.add_cells(bad, numbers, column, lambda _: f"Not {describe}.")
    return values


def vocabulary_of(codes: Sequence[str]) -> dict[str, str]:
    return {"": "", **{code: code for code in codes}, **{code.upper(): code for code in codes}}
