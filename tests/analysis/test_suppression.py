"""Small-cell suppression: primary, complementary, totals, and the viewer's own rows."""

from __future__ import annotations

import itertools

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
