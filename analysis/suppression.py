"""Small-cell suppression for tables of student counts shown outside a district.

A count below the threshold (10 students) is hidden (primary suppression). Hiding one cell is
not enough when the table's totals are shown: the cell would be the total minus the others.
So in every row and column with a shown total, either no cell is hidden or at least two are
(complementary suppression: the smallest other cell is hidden too). A total below the
threshold is itself hidden, and the row and column totals obey the same rule against the
grand total.

Those rules alone can fail in larger tables: a complement may itself follow from another line
(a hidden zero in a column whose total is shown as 0), and then the small cell follows too. So
the rules' result is audited: for every hidden cell, the smallest and largest value a reader
could give it, from the cells and totals shown and counts being at least zero, by linear
programming (the audit of Cox, "Suppression methodology and statistical disclosure control",
JASA 75, 1980; the same idea as tau-ARGUS's audit). While a small hidden count is pinned to
one value, the smallest count shown in its row or column is hidden too (its total, when every
cell of the line is hidden already), and the audit runs again.

Cells the viewer may see anyway (their own district's rows) are never hidden and, being known
to the viewer, never help to hide another cell.

References: U.S. Department of Education, NCES, Statistical Methods for Protecting
Personally Identifiable Information in Aggregate Reporting (SLDS Technical Brief 3, 2010).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.optimize import linprog

DEFAULT_THRESHOLD = 10


@dataclass(frozen=True)
class SuppressedTable:
    """The table as it may be shown: None where a number is hidden."""

    cells: list[list[int | None]]
    row_totals: list[int | None]
    column_totals: list[int | None]
    total: int | None

    @property
    def hidden_cells(self) -> int:
        return sum(value is None for row in self.cells for value in row)


def _hide_complements(
    values: list[int], hidden: list[bool], known: list[bool], total_shown: bool
) -> bool:
    """In one line: if exactly one unknown cell is hidden and the total is shown, hide the
    smallest other unknown cell, a zero last (a hidden zero protects nothing), or report that
    only hiding the total helps: False."""
    if not total_shown:
        return True
    hidden_unknown = [i for i, h in enumerate(hidden) if h and not known[i]]
    if len(hidden_unknown) != 1:
        return True
    candidates = [i for i in range(len(values)) if not hidden[i] and not known[i]]
    if not candidates:
        return False
    hidden[min(candidates, key=lambda i: (values[i] == 0, values[i], i))] = True
    return True


def _hidden_ranges(
    table: list[list[int]],
    hidden: list[list[bool]],
    row_total_hidden: list[bool],
    column_total_hidden: list[bool],
    total_hidden: bool,
    targets: list[list[tuple[int, int]]],
) -> list[tuple[float, float]]:
    """For each target (a sum of hidden cells), the least and greatest value a reader could give
    it from what is shown: every shown total equals its line's cells, and counts are at least 0."""
    cells = [(i, j) for i, row in enumerate(hidden) for j, flag in enumerate(row) if flag]
    index = {cell: k for k, cell in enumerate(cells)}
    lines = [
        [(i, j) for j in range(len(row))] for i, row in enumerate(table) if not row_total_hidden[i]
    ]
    lines += [
        [(i, j) for i in range(len(table))]
        for j, flag in enumerate(column_total_hidden)
        if not flag
    ]
    if not total_hidden:
        lines.append([(i, j) for i, row in enumerate(table) for j in range(len(row))])
    # Each shown total: its line's hidden cells sum to the total minus the shown cells, which is
    # the sum of their true values.
    equations, sums = [], []
    for line in lines:
        coefficients = np.zeros(len(cells))
        rest = 0
        for i, j in line:
            if hidden[i][j]:
                coefficients[index[(i, j)]] = 1.0
            rest += table[i][j] if hidden[i][j] else 0
        if coefficients.any():
            equations.append(coefficients)
            sums.append(rest)
    ranges = []
    for target in targets:
        objective = np.zeros(len(cells))
        for cell in target:
            objective[index[cell]] = 1.0
        if not equations:
            ranges.append((0.0, float("inf")))
            continue
        least = linprog(objective, A_eq=np.array(equations), b_eq=np.array(sums), bounds=(0, None))
        most = linprog(-objective, A_eq=np.array(equations), b_eq=np.array(sums), bounds=(0, None))
        # Counts are at least 0, so the least is always found; the most may be unbounded.
        bounds = (least.fun, -most.fun if most.status == 0 else float("inf"))
        ranges.append((bounds[0], bounds[1]))
    return ranges


def _hide_one_more(
    table: list[list[int]],
    hidden: list[list[bool]],
    known: list[bool],
    row: int,
    column: int | None,
) -> bool:
    """Hide the smallest shown count (not of a known row) in the row or column, a zero last;
    False when there is none."""
    candidates = [(row, j) for j in range(len(table[row])) if not hidden[row][j]]
    if column is not None:
        candidates += [(i, column) for i in range(len(table)) if not hidden[i][column]]
    candidates = [(i, j) for i, j in candidates if not known[i]]
    if not candidates:
        return False
    i, j = min(candidates, key=lambda c: (table[c[0]][c[1]] == 0, table[c[0]][c[1]], c))
    hidden[i][j] = True
    return True


def suppress_small_cells(
    counts: Sequence[Sequence[int]],
    threshold: int = DEFAULT_THRESHOLD,
    known_rows: Sequence[bool] | None = None,
    zero_is_small: bool = True,
) -> SuppressedTable:
    """Hide counts below `threshold` in a table of counts with row, column and grand totals.

    `counts` is a list of rows of non-negative integers, all of one length. `known_rows[i]`
    true means the viewer may see row i in full (their own district's site). With
    `zero_is_small` false a count of 0 is shown (students lost: nobody to protect), and only
    1 to threshold - 1 is hidden.
    """
    if threshold < 1:
        raise ValueError(f"threshold must be at least 1, got {threshold}")
    table = [[int(value) for value in row] for row in counts]
    width = len(table[0]) if table else 0
    if any(len(row) != width for row in table):
        raise ValueError("every row of counts must have the same number of cells")
    if any(value < 0 for row in table for value in row):
        raise ValueError("counts cannot be negative")
    known = list(known_rows) if known_rows is not None else [False] * len(table)
    if len(known) != len(table):
        raise ValueError("known_rows must have one entry per row of counts")

    row_totals = [sum(row) for row in table]
    column_totals = [sum(row[j] for row in table) for j in range(width)]
    total = sum(row_totals)
    everything_known = all(known)

    lowest = 0 if zero_is_small else 1

    def small(value: int) -> bool:
        return lowest <= value < threshold

    hidden = [[not known[i] and small(value) for value in row] for i, row in enumerate(table)]
    row_total_hidden = [not known[i] and small(t) for i, t in enumerate(row_totals)]
    column_total_hidden = [not everything_known and small(t) for t in column_totals]
    total_hidden = not everything_known and small(total)

    def apply_rules() -> None:
        nonlocal total_hidden
        changed = True
        while changed:
            before = (
                [list(row) for row in hidden],
                list(row_total_hidden),
                list(column_total_hidden),
                total_hidden,
            )
            for i, row in enumerate(table):
                if not _hide_complements(
                    row, hidden[i], [known[i]] * width, not row_total_hidden[i]
                ):
                    row_total_hidden[i] = True
            for j in range(width):
                column = [row[j] for row in table]
                flags = [hidden[i][j] for i in range(len(table))]
                if not _hide_complements(column, flags, known, not column_total_hidden[j]):
                    column_total_hidden[j] = True
                for i in range(len(table)):
                    hidden[i][j] = flags[i]
            if not _hide_complements(row_totals, row_total_hidden, known, not total_hidden):
                total_hidden = True
            known_columns = [everything_known] * width
            if not _hide_complements(
                column_totals, column_total_hidden, known_columns, not total_hidden
            ):
                total_hidden = True
            # A hidden total whose cells are all shown is their sum: hide its smallest cell too.
            for i, row in enumerate(table):
                if row_total_hidden[i] and width and not any(hidden[i]):
                    hidden[i][
                        min(range(width), key=lambda j, row=row: (row[j] == 0, row[j], j))
                    ] = True
            for j in range(width):
                if column_total_hidden[j] and table and not any(row[j] for row in hidden):
                    unknown = [i for i in range(len(table)) if not known[i]]
                    if unknown:
                        smallest = min(
                            unknown, key=lambda i, j=j: (table[i][j] == 0, table[i][j], i)
                        )
                        hidden[smallest][j] = True
            changed = before != (hidden, row_total_hidden, column_total_hidden, total_hidden)

    apply_rules()
    # The audit: a small count hidden in a cell or a row total must not be pinned to one value.
    last_pinned, last_state = None, None
    while True:
        sensitive = [
            ((i, j), [(i, j)])
            for i, row in enumerate(table)
            for j, value in enumerate(row)
            if hidden[i][j] and not known[i] and small(value)
        ] + [
            ((i, None), [(i, j) for j in range(width) if hidden[i][j]])
            for i, value in enumerate(row_totals)
            if row_total_hidden[i] and not known[i] and small(value) and any(hidden[i])
        ]
        ranges = _hidden_ranges(table, hidden, row_total_hidden, column_total_hidden,
                                total_hidden, [target for _, target in sensitive])  # fmt: skip
        pinned = [where for (where, _), (low, high) in zip(sensitive, ranges, strict=True)
                  if high - low < 1 - 1e-9]  # fmt: skip
        state = ([list(row) for row in hidden], list(row_total_hidden), list(column_total_hidden))
        if not pinned or (pinned == last_pinned and state == last_state):
            break
        last_pinned, last_state = pinned, state
        for i, j in pinned:
            if not _hide_one_more(table, hidden, known, i, j):
                row_total_hidden[i] = True
                if j is not None:
                    column_total_hidden[j] = True
                total_hidden = True
        apply_rules()

    return SuppressedTable(
        cells=[
            [None if hidden[i][j] else table[i][j] for j in range(width)] for i in range(len(table))
        ],
        row_totals=[None if h else t for h, t in zip(row_total_hidden, row_totals, strict=True)],
        column_totals=[
            None if h else t for h, t in zip(column_total_hidden, column_totals, strict=True)
        ],
        total=None if total_hidden else total,
    )


@dataclass(frozen=True)
class AttritionTables:
    """Randomized and analyzed counts (sites by arms) as they may be shown side by side."""

    randomized: SuppressedTable
    analyzed: SuppressedTable

    @property
    def hidden_cells(self) -> int:
        return self.randomized.hidden_cells + self.analyzed.hidden_cells


def suppress_attrition(
    randomized: Sequence[Sequence[int]],
    analyzed: Sequence[Sequence[int]],
    threshold: int = DEFAULT_THRESHOLD,
    known_rows: Sequence[bool] | None = None,
) -> AttritionTables:
    """Hide what a reader could subtract: randomized minus analyzed is the number of students
    lost, itself a count that must not be 1 to `threshold` - 1.

    The analyzed table and the table of students lost are each suppressed on their own (with
    their complements); a randomized count (cell or total) is shown only when both its analyzed
    count and its students lost are, since either one follows from the other two.
    """
    if len(randomized) != len(analyzed) or any(
        len(r) != len(a) for r, a in zip(randomized, analyzed, strict=True)
    ):
        raise ValueError("randomized and analyzed must have the same shape")
    lost = [
        [int(r) - int(a) for r, a in zip(r_row, a_row, strict=True)]
        for r_row, a_row in zip(randomized, analyzed, strict=True)
    ]
    if any(value < 0 for row in lost for value in row):
        raise ValueError("a site cannot analyze more students than it randomized")
    shown_analyzed = suppress_small_cells(analyzed, threshold, known_rows)
    shown_lost = suppress_small_cells(lost, threshold, known_rows, zero_is_small=False)

    def both(value: int, first: int | None, second: int | None) -> int | None:
        return None if first is None or second is None else value

    shown_randomized = SuppressedTable(
        cells=[
            [
                both(int(value), shown_analyzed.cells[i][j], shown_lost.cells[i][j])
                for j, value in enumerate(row)
            ]
            for i, row in enumerate(randomized)
        ],
        row_totals=[
            both(sum(int(v) for v in row), shown_analyzed.row_totals[i], shown_lost.row_totals[i])
            for i, row in enumerate(randomized)
        ],
        column_totals=[
            both(
                sum(int(row[j]) for row in randomized),
                shown_analyzed.column_totals[j],
                shown_lost.column_totals[j],
            )
            for j in range(len(randomized[0]) if randomized else 0)
        ],
        total=both(
            sum(int(v) for row in randomized for v in row), shown_analyzed.total, shown_lost.total
        ),
    )
    return AttritionTables(randomized=shown_randomized, analyzed=shown_analyzed)
