"""Benjamini-Hochberg adjustment (R's p.adjust(p, "BH"))."""

from __future__ import annotations

import pytest
from scipy import stats

from analysis.multiplicity import benjamini_hochberg

# Benjamini & Hochberg (1995), JRSS B 57(1), section 4: the 15 p-values of Neuhaus et al.
BH_1995 = [0.0001, 0.0004, 0.0019, 0.0095, 0.0201, 0.0278, 0.0298, 0.0344, 0.0459,
           0.3240, 0.4262, 0.5719, 0.6528, 0.7590, 1.0000]  # fmt: skip


def test_published_example_rejects_the_four_smallest() -> None:
    """BH (1995): at q = 0.05 the step-up procedure rejects exactly the four smallest."""
    adjusted = benjamini_hochberg(BH_1995)
    assert [p <= 0.05 for p in adjusted] == [True] * 4 + [False] * 11


def test_published_example_adjusted_values() -> None:
    """By the definition p.adjust uses, min over j >= i of m p_(j) / j with m = 15:
    15 * 0.0001 / 1, 15 * 0.0004 / 2, 15 * 0.0019 / 3, 15 * 0.0095 / 4, 15 * 0.0201 / 5;
    ranks 6 and 7 share 15 * 0.0298 / 7; then 15 * 0.0344 / 8 and 15 * 0.0459 / 9."""
    adjusted = benjamini_hochberg(BH_1995)
    assert adjusted[:5] == pytest.approx([0.0015, 0.0030, 0.0095, 0.035625, 0.0603])
    assert adjusted[5:9] == pytest.approx([15 * 0.0298 / 7] * 2 + [0.0645, 0.0765])
    assert adjusted[-1] == 1.0


def test_small_example_in_input_order() -> None:
    """p.adjust(c(0.01, 0.04, 0.03, 0.005), "BH") = 0.02 0.04 0.04 0.02."""
    assert benjamini_hochberg([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.02, 0.04, 0.04, 0.02])


def test_agrees_with_scipy() -> None:
    assert benjamini_hochberg(BH_1995) == pytest.approx(
        list(stats.false_discovery_control(BH_1995, method="bh"))
    )


@pytest.mark.parametrize(
    ("pvalues", "message"),
    [
        ([], "at least 1"),
        ([0.2, 1.2], "between 0 and 1"),
        ([0.2, float("nan")], "missing"),
        ([-0.1], "between 0 and 1"),
    ],
)
def test_rejects_bad_pvalues(pvalues: list, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        benjamini_hochberg(pvalues)
