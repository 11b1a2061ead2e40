"""Reproducible blocked randomization."""

from __future__ import annotations

import random

import pytest

from analysis.randomization import assign

UNITS = [f"s{i:02d}" for i in range(10)]
SITES = ["north"] * 5 + ["south"] * 5


def test_assignment_is_pinned() -> None:
    """The stream of numpy's PCG64 bit generator is fixed across platforms and versions,
    so this assignment must never change; a change would break every registered
    pilot's reproducibility."""
    result = assign(UNITS, ["pilot", "control"], 20250901, blocks=SITES)
    assert result.mapping == {
        "s00": "pilot", "s01": "control", "s02": "pilot", "s03": "control", "s04": "control",
        "s05": "pilot", "s06": "pilot", "s07": "pilot", "s08": "control", "s09": "control",
    }  # fmt: skip
    assert result.counts == {
        "north": {"pilot": 2, "control": 3},
        "south": {"pilot": 3, "control": 2},
    }
    assert result.seed == 20250901
    assert "PCG64" in result.algorithm and "blocked by site" in result.algorithm


def test_input_order_does_not_matter() -> None:
    shuffled = list(zip(UNITS, SITES, strict=True))
    random.Random(3).shuffle(shuffled)
    units, sites = zip(*shuffled, strict=True)
    original = assign(UNITS, ["pilot", "control"], 77, blocks=SITES)
    reordered = assign(list(units), ["pilot", "control"], 77, blocks=list(sites))
    assert original.mapping == reordered.mapping


def test_blocks_as_mapping_equal_blocks_as_list() -> None:
    as_list = assign(UNITS, ["a", "b", "c"], 5, blocks=SITES)
    as_mapping = assign(UNITS, ["a", "b", "c"], 5, blocks=dict(zip(UNITS, SITES, strict=True)))
    assert as_list == as_mapping


def test_remainders_spread_across_blocks() -> None:
    # Five blocks of 3 units into 2 arms: each block has one extra; totals differ by <= 1.
    units = list(range(15))
    blocks = [unit // 3 for unit in units]
    result = assign(units, ["pilot", "control"], 123, blocks=blocks)
    totals = {arm: sum(c[arm] for c in result.counts.values()) for arm in ("pilot", "control")}
    assert abs(totals["pilot"] - totals["control"]) <= 1


def test_different_seeds_give_different_assignments() -> None:
    units = list(range(40))
    assert assign(units, ["a", "b"], 1).mapping != assign(units, ["a", "b"], 2).mapping


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ((["a", "a"], ["x", "y"], 1), "'a' appears more than once"),
        ((["a", "b"], ["x"], 1), "at least two arms"),
        ((["a", "b"], ["x", "x"], 1), "arms must be distinct"),
        ((["a", "b"], ["x", "y"], -1), "seed must be a non-negative whole number"),
        ((["a", "b"], ["x", "y"], 1.5), "seed must be a non-negative whole number"),
        (([], ["x", "y"], 1), "nothing to assign"),
        ((["a", "b"], ["x", "y"], 1, ["s1"]), "blocks lists 1 block"),
        ((["a", "b"], ["x", "y"], 1, {"a": "s1"}), "no block for unit 'b'"),
        (("ab", ["x", "y"], 1), "units must be a list"),
    ],
)
def test_rejects_bad_input(arguments: tuple, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        assign(*arguments)


def test_unblocked_assignment_says_so() -> None:
    result = assign(list(range(9)), ["a", "b", "c"], 42)
    assert "unblocked" in result.algorithm
    assert sorted(result.counts["all units"].values()) == [3, 3, 3]
