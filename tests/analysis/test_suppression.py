"""Small-cell suppression: primary, complementary, totals, and the viewer's own rows."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from analysis.suppression import suppress_small_cells


def _recoverable(counts, shown) -> bool:
    """Whether some hidden cell equals a shown total minus the shown cells of its line."""
    for i, row in enumerate(shown.cells):
        hidden = [j for j, value in enumerate(row) if value is None]
        if len(hidden) == 1 and shown.row_totals[i] is not None:
            return True
    for j in range(len(shown.column_totals)):
        hidden = [i for i, row in enumerate(shown.cells) if row[j] is None]
        if len(hidden) == 1 and shown.column_totals[j] is not None:
            return True
    return False


def test_nothing_is_hidden_when_every_cell_is_large():
    shown = suppress_small_cells([[30, 20], [12, 13], [40, 50]])
    assert shown.cells == [[30, 20], [12, 13], [40, 50]]
    assert shown.row_totals == [50, 25, 90] and shown.column_totals == [82, 83]
    assert shown.total == 165 and shown.hidden_cells == 0


def test_a_small_cell_and_its_complements_are_hidden():
    shown = suppress_small_cells([[5, 40], [30, 40], [40, 50]])
    assert shown.cells[0][0] is None
    assert shown.hidden_cells >= 3
    assert not _recoverable([[5, 40], [30, 40], [40, 50]], shown)
    # Totals of 10 or more stay shown.
    assert shown.total == 205


def test_totals_under_the_threshold_are_hidden_too():
    shown = suppress_small_cells([[3, 4], [30, 40]])
    assert shown.row_totals[0] is None
    assert shown.cells[0] == [None, None]
    assert not _recoverable([[3, 4], [30, 40]], shown)


def test_the_viewers_own_rows_are_shown_and_do_not_count_as_hidden():
    shown = suppress_small_cells([[7, 8], [30, 40], [25, 35]], known_rows=[True, False, False])
    assert shown.cells[0] == [7, 8]
    assert shown.cells[1:] == [[30, 40], [25, 35]]


def test_zero_counts_are_small_cells():
    assert suppress_small_cells([[0, 30], [30, 30]]).cells[0][0] is None


@pytest.mark.parametrize("seed", range(40))
def test_no_hidden_cell_can_be_recomputed_from_a_line(seed):
    import random

    generator = random.Random(seed)
    counts = [[generator.choice([0, 2, 5, 9, 10, 15, 40]) for _ in range(3)] for _ in range(4)]
    shown = suppress_small_cells(counts)
    assert not _recoverable(counts, shown)
    for i, j in itertools.product(range(4), range(3)):
        if counts[i][j] < 10:
            assert shown.cells[i][j] is None


def test_bad_input_is_refused():
    with pytest.raises(ValueError, match="negative"):
        suppress_small_cells([[-1, 3]])
    with pytest.raises(ValueError, match="same number of cells"):
        suppress_small_cells([[1, 2], [3]])
    with pytest.raises(ValueError, match="threshold"):
        suppress_small_cells([[1]], threshold=0)


# --- randomized and analyzed side by side (students lost = randomized - analyzed) ----------


def test_randomized_is_hidden_where_it_would_give_a_small_number_lost():
    from analysis.suppression import suppress_attrition

    shown = suppress_attrition(
        randomized=[[143, 151], [167, 171]], analyzed=[[139, 149], [163, 164]]
    )
    # Every site lost 2 to 7 students per arm: no randomized count may stand beside its
    # analyzed count, nor any total of them; the analyzed counts (all 10 or more) stay.
    assert shown.analyzed.cells == [[139, 149], [163, 164]]
    assert shown.randomized.cells == [[None, None], [None, None]]
    assert shown.randomized.column_totals == [None, None]  # 8 and 9 lost per arm
    assert shown.randomized.total == 632  # 17 lost in all: not a small count


def test_nobody_lost_is_shown_and_one_small_loss_hides_a_complement():
    from analysis.suppression import suppress_attrition

    # Lost: [[0, 12], [3, 15]]. Zero needs no protection; the 3 is hidden, and since the
    # column and row totals of students lost are shown, one more cell in each line goes too.
    shown = suppress_attrition(randomized=[[50, 62], [53, 75]], analyzed=[[50, 50], [50, 60]])
    assert shown.randomized.cells[1][0] is None
    hidden = [(i, j) for i in range(2) for j in range(2) if shown.randomized.cells[i][j] is None]
    assert len(hidden) >= 3  # the 3, a complement in its row and one in its column
    for i, row in enumerate(shown.randomized.cells):  # no line with a total has one hidden
        if shown.randomized.row_totals[i] is not None:
            assert sum(value is None for value in row) != 1


def test_a_site_cannot_analyze_more_than_it_randomized():
    from analysis.suppression import suppress_attrition

    with pytest.raises(ValueError, match="more students than it randomized"):
        suppress_attrition(randomized=[[10, 10]], analyzed=[[11, 10]])


def _integer_values(shown, hidden_cells, bound):
    """Every integer value each hidden cell can take, by brute force over 0..bound, given the
    shown cells and totals: an exact check that does not use the code's linear programming.
    A hidden cell in a row or column whose shown total is 0 is 0, as a reader would see."""
    zero = {
        (i, j) for i, j in hidden_cells if shown.row_totals[i] == 0 or shown.column_totals[j] == 0
    }
    open_cells = [cell for cell in hidden_cells if cell not in zero]
    shown = type(shown)(
        cells=[
            [0 if (i, j) in zero else v for j, v in enumerate(row)]
            for i, row in enumerate(shown.cells)
        ],
        row_totals=shown.row_totals,
        column_totals=shown.column_totals,
        total=shown.total,
    )
    options = {cell: {0} for cell in zero}
    if open_cells:
        options.update(_brute_force(shown, open_cells, bound))
    return options


def _brute_force(shown, hidden_cells, bound):
    k = len(hidden_cells)
    grid = np.indices((bound + 1,) * k, dtype=np.int16).reshape(k, -1)
    filled = {
        (i, j): np.full(grid.shape[1], value, dtype=np.int16)
        for i, row in enumerate(shown.cells)
        for j, value in enumerate(row)
        if value is not None
    }
    for position, cell in enumerate(hidden_cells):
        filled[cell] = grid[position]
    rows, width = len(shown.cells), len(shown.cells[0])
    ok = np.ones(grid.shape[1], dtype=bool)
    for i, total in enumerate(shown.row_totals):
        if total is not None:
            ok &= sum(filled[(i, j)].astype(np.int32) for j in range(width)) == total
    for j, total in enumerate(shown.column_totals):
        if total is not None:
            ok &= sum(filled[(i, j)].astype(np.int32) for i in range(rows)) == total
    if shown.total is not None:
        ok &= sum(value.astype(np.int32) for value in filled.values()) == shown.total
    return {cell: set(grid[p][ok].tolist()) for p, cell in enumerate(hidden_cells)}


def test_a_complement_that_another_line_pins_does_not_count():
    """An attacker's case from /network/decisions (decisions by evidence strength, zeros shown):
    the rules hid a zero beside a 1 in a column whose total was shown as 0, so the zero was
    known, the stop row's total gave its hidden cell, and the weak column's total gave the 1.
    The linear-programming audit (Cox 1980) must leave every small count with more than one
    possible value; checked here by brute force over the integers."""
    counts = [[0, 0, 0, 1, 5], [0, 0, 0, 0, 5], [0, 0, 0, 10, 0]]
    shown = suppress_small_cells(counts, zero_is_small=False)
    hidden = [(i, j) for i, row in enumerate(shown.cells) for j, v in enumerate(row) if v is None]
    options = _integer_values(shown, hidden, 12)
    for i, j in hidden:
        if 1 <= counts[i][j] < 10:
            assert len(options[(i, j)]) > 1, ((i, j), options[(i, j)])


@pytest.mark.parametrize("seed", range(40))
def test_no_small_count_is_pinned_in_random_tables(seed):
    """Random 2x3 and 3x3 tables of small and large counts: after suppression, every hidden
    small count can take at least two integer values (brute force, not the code's audit)."""
    import random

    chooser = random.Random(seed)
    rows = chooser.choice([2, 3])
    counts = [[chooser.choice([0, 1, 2, 4, 9, 11, 14]) for _ in range(3)] for _ in range(rows)]
    for zero_is_small in (True, False):
        shown = suppress_small_cells(counts, zero_is_small=zero_is_small)
        hidden = [
            (i, j) for i, row in enumerate(shown.cells) for j, v in enumerate(row) if v is None
        ]
        if not hidden or len(hidden) > 5:
            continue
        options = _integer_values(shown, hidden, 20)
        lowest = 0 if zero_is_small else 1
        for i, j in hidden:
            if lowest <= counts[i][j] < 10:
                assert len(options[(i, j)]) > 1, (counts, zero_is_small, (i, j))
