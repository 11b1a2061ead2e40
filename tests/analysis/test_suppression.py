"""analysis.suppression: primary and complementary suppression of small cells."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from analysis.suppression import suppress_small_cells


def test_nothing_hidden_when_every_cell_is_large():
    table = suppress_small_cells([[50, 40], [40, 30]])
    assert table.cells == ((50, 40), (40, 30))
    assert table.row_totals == (90, 70) and table.column_totals == (90, 70)
    assert table.total == 160 and not table.suppressed_any


def test_one_small_cell_hides_a_complement_in_its_row_and_column():
    table = suppress_small_cells([[50, 8, 70], [40, 30, 90]])
    hidden = {(r, c) for r, c in itertools.product(range(2), range(3)) if table.cells[r][c] is None}
    # The small cell, the smallest other cell of its row (50) and of its column (30),
    # and then the cell that keeps row 2 from having a single hidden cell (40).
    assert hidden == {(0, 1), (0, 0), (1, 1), (1, 0)}
    assert table.row_totals == (128, 160)


def test_single_row_hides_the_next_smallest_and_the_matching_column_totals():
    table = suppress_small_cells([5, 40, 60])
    assert table.cells == ((None, None, 60),)
    assert table.column_totals == (None, None, 60)
    assert table.total == 105


def test_zero_is_a_small_cell():
    assert suppress_small_cells([0, 30, 30]).cells[0][0] is None


def test_small_totals_are_hidden():
    table = suppress_small_cells([[3, 4], [20, 30]])
    assert table.row_totals == (None, 50)


def test_threshold_is_configurable():
    assert suppress_small_cells([5, 6], threshold=5).cells == ((5, 6),)


@pytest.mark.parametrize("bad", ["text", [[1, 2], [3]], [-1, 20], [1.5, 20], []])
def test_rejects_impossible_tables(bad):
    with pytest.raises(ValueError):
        suppress_small_cells(bad)


@given(
    st.lists(
        st.lists(st.integers(min_value=0, max_value=60), min_size=2, max_size=4),
        min_size=2,
        max_size=4,
    ).filter(lambda rows: len({len(row) for row in rows}) == 1)
)
def test_no_row_or_column_has_exactly_one_hidden_cell(rows):
    table = suppress_small_cells(rows)
    lines = [list(row) for row in table.cells] + [
        list(col) for col in zip(*table.cells, strict=True)
    ]
    for line in lines:
        assert sum(value is None for value in line) != 1
    for r, row in enumerate(rows):
        for c, value in enumerate(row):
            if value < 10:
                assert table.cells[r][c] is None
