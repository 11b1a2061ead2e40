"""Small-cell suppression for tables of student counts shown outside a pilot's district.

A cell counting fewer than `threshold` students is hidden (primary suppression). Because
row and column totals are shown, a row or column with exactly one hidden cell would let a
reader recompute it by subtraction, so the smallest other cell there is hidden too
(complementary suppression), repeated until no row or column has a single hidden cell.
Totals below the threshold are hidden as well. This follows the U.S. Department of
Education's Privacy Technical Assistance Center, "Frequently Asked Questions: Disclosure
Avoidance" (2012), and NCES Statistical Standard 4-2.
"""

from __future__ import annotations

from dataclasses import dataclass

from analysis import _validation as check

DEFAULT_THRESHOLD = 10


@dataclass(frozen=True)
class SuppressedTable:
    """The table as it may be shown: None where a count is hidden."""

    cells: tuple[tuple[int | None, ...], ...]
    row_totals: tuple[int | None, ...]
    column_totals: tuple[int | None, ...]
    total: int | None
    suppressed_any: bool


def _shown(value: int, threshold: int) -> int | None:
    return value if value >= threshold else None


def suppress_small_cells(counts: object, threshold: int = DEFAULT_THRESHOLD) -> SuppressedTable:
    """Suppress a table of counts (a list of rows, or one row) with complementary suppression.

    Zero cells count as small: "no student in this group" is itself a disclosure.
    """
    threshold = check.count("threshold", threshold, minimum=1)
    if isinstance(counts, str | bytes):
        raise ValueError("counts must be a table of whole numbers, not text")
    rows = [list(row) for row in counts] if counts and _is_nested(counts) else [list(counts)]
    if not rows or not rows[0]:
        raise ValueError("counts must have at least one cell")
    width = len(rows[0])
    if any(len(row) != width for row in rows):
        raise ValueError("every row of counts must have the same number of cells")
    table = [[check.count("count", value) for value in row] for row in rows]
    hidden = [[value < threshold for value in row] for row in table]

    def lines() -> list[list[tuple[int, int]]]:
        by_row = [[(r, c) for c in range(width)] for r in range(len(table))]
        by_column = [[(r, c) for r in range(len(table))] for c in range(width)]
        return [line for line in by_row + by_column if len(line) > 1]

    changed = True
    while changed:
        changed = False
        for line in lines():
            hidden_here = [cell for cell in line if hidden[cell[0]][cell[1]]]
            if len(hidden_here) != 1:
                continue
            # Hide the smallest visible cell of the line, first in reading order on a tie.
            r, c = min(
                (cell for cell in line if not hidden[cell[0]][cell[1]]),
                key=lambda cell: (table[cell[0]][cell[1]], cell),
            )
            hidden[r][c] = True
            changed = True

    # A total over a single cell is that cell: it is hidden with it.
    row_totals = tuple(
        None if width == 1 and hidden[r][0] else _shown(sum(row), threshold)
        for r, row in enumerate(table)
    )
    column_totals = tuple(
        None
        if len(table) == 1 and hidden[0][c]
        else _shown(sum(row[c] for row in table), threshold)
        for c in range(width)
    )
    total = _shown(sum(map(sum, table)), threshold)
    cells = tuple(
        tuple(None if hidden[r][c] else table[r][c] for c in range(width))
        for r in range(len(table))
    )
    return SuppressedTable(
        cells=cells,
        row_totals=row_totals,
        column_totals=column_totals,
        total=total,
        suppressed_any=any(any(row) for row in hidden),
    )


def _is_nested(counts: object) -> bool:
    first = next(iter(counts))  # type: ignore[call-overload]
    return not isinstance(first, int | float) and hasattr(first, "__iter__")
