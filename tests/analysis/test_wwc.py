"""WWC baseline equivalence, attrition boundary and clustering correction."""

from __future__ import annotations

import math

import pytest
from scipy import stats

from analysis.wwc import (
    ATTRITION_BOUNDARIES,
    attrition,
    baseline_equivalence,
    cluster_adjusted,
    max_low_differential,
)


@pytest.mark.parametrize(
    ("g", "category"),
    [
        (0.0, "satisfied"),
        (0.05, "satisfied"),
        (-0.05, "satisfied"),
        (0.051, "requires_adjustment"),
        (-0.25, "requires_adjustment"),
        (0.2501, "not_satisfied"),
        (-0.8, "not_satisfied"),
    ],
)
def test_baseline_equivalence_thresholds(g: float, category: str) -> None:
    """WWC Standards Handbook 4.1: |g| <= 0.05 satisfied; 0.05 < |g| <= 0.25 requires
    statistical adjustment; |g| > 0.25 not satisfied."""
    assert baseline_equivalence(g) == category


def test_boundary_table_covers_overall_attrition_0_to_65() -> None:
    """Standards Handbook 4.1, Table II.1: rows 0-65 % overall attrition; the cautious
    column ends at 57 % (0.0 points) and the optimistic column at 65 % (0.3 points)."""
    assert len(ATTRITION_BOUNDARIES["optimistic"]) == 66
    assert len(ATTRITION_BOUNDARIES["cautious"]) == 58
    spot_checks = {
        "cautious": {0: 5.7, 10: 6.3, 20: 5.4, 30: 4.1, 40: 2.6, 50: 1.0, 57: 0.0},
        "optimistic": {0: 10.0, 10: 10.9, 20: 10.0, 30: 8.2, 40: 6.0, 50: 3.7, 60: 1.4, 65: 0.3},
    }
    for boundary, rows in spot_checks.items():
        for overall, limit in rows.items():
            assert ATTRITION_BOUNDARIES[boundary][overall] == limit


def test_optimistic_boundary_is_never_stricter_than_cautious() -> None:
    for cautious, optimistic in zip(
        ATTRITION_BOUNDARIES["cautious"], ATTRITION_BOUNDARIES["optimistic"], strict=False
    ):
        assert optimistic > cautious


def test_attrition_examples() -> None:
    """8 % overall with 3 points differential is low (cautious); 30 % with 6 points is high
    under the cautious boundary and low under the optimistic one. Examples from the
    attrition_boundary() documentation of the CRAN package baselinr 0.6.0, which encodes
    the same Table II.1."""
    # 200 randomized per arm; 13 and 19 lost: 8 % overall, 3 points differential.
    low = attrition(200, 187, 200, 181)
    assert (low.overall, low.differential) == pytest.approx((0.08, 0.03))
    assert low.rating == "low"
    # 30 % overall, 6 points differential.
    assert attrition(100, 73, 100, 67, "cautious").rating == "high"
    assert attrition(100, 73, 100, 67, "optimistic").rating == "low"


def test_attrition_exactly_on_the_boundary_is_low() -> None:
    # 2000 per arm, 263 and 137 lost: 10 % overall, 6.3 points differential (the limit).
    result = attrition(2000, 1737, 2000, 1863)
    assert result.overall == pytest.approx(0.10)
    assert result.differential == pytest.approx(0.063)
    assert result.rating == "low"
    assert attrition(2000, 1736, 2000, 1864).rating == "high"


def test_between_rows_the_stricter_limit_applies() -> None:
    # 9.5 % overall lies between rows 9 (6.3) and 10 (6.3) for cautious; 17.5 % between
    # 17 (5.8) and 18 (5.7): the stricter 5.7 applies.
    assert max_low_differential(0.175, "cautious") == pytest.approx(0.057)
    assert max_low_differential(0.58, "cautious") is None
    assert max_low_differential(0.66, "optimistic") is None
    assert max_low_differential(0.65, "optimistic") == pytest.approx(0.003)


def test_attrition_beyond_the_table_is_high_even_without_differential() -> None:
    # 60 % overall: past the cautious column (ends at 57 %), inside the optimistic one.
    assert attrition(100, 40, 100, 40).rating == "high"
    assert attrition(100, 40, 100, 40, "optimistic").rating == "low"
    # 70 % overall: past both columns.
    assert attrition(100, 30, 100, 30, "optimistic").rating == "high"


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ((100, 101, 100, 90), "analyzed_t .* cannot exceed randomized_t"),
        ((0, 0, 100, 90), "randomized_t must be at least 1"),
        ((100, -1, 100, 90), "analyzed_t must not be negative"),
        ((100, 90, 100, 90, "pessimistic"), "boundary must be one of"),
    ],
)
def test_attrition_rejects_impossible_input(arguments: tuple, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        attrition(*arguments)


def test_cluster_correction_without_clustering_is_the_ordinary_t_test() -> None:
    """With icc = 0 the corrected t equals the t ignoring clustering and h = N - 2.
    Hedges (2007), J. Educ. Behav. Stat. 32(2): "The corrected statistic reduces to the t
    statistic computed by ignoring clustering when rho = 0"."""
    result = cluster_adjusted(0.3, 200, 200, 20, icc=0.0)
    t = 0.3 * math.sqrt(200 * 200 / 400)
    assert result.t == pytest.approx(t)
    assert result.t_unadjusted == pytest.approx(t)
    assert result.df == pytest.approx(398)
    assert result.p == pytest.approx(2 * stats.t.sf(t, 398))


def test_cluster_correction_with_full_clustering_uses_cluster_means() -> None:
    """With icc = 1 the test is the one on cluster means: h = M - 2 clusters (Hedges 2007)."""
    result = cluster_adjusted(0.3, 200, 200, 20, icc=1.0)
    assert result.df == pytest.approx(18)
    assert result.average_cluster_size == pytest.approx(20)
    # t_a = t sqrt((N - 2m) / ((N - 2) m)) when icc = 1.
    assert result.t == pytest.approx(result.t_unadjusted * math.sqrt(360 / (398 * 20)))


def test_cluster_correction_formula() -> None:
    """WWC Procedures and Standards Handbook 2.0, Appendix C, and Handbook 4.1, Appendix E:
    t_a = t sqrt(((N-2) - 2(m-1)rho) / ((N-2)(1+(m-1)rho))) and
    h = ((N-2) - 2(m-1)rho)^2 / ((N-2)(1-rho)^2 + m(N-2m)rho^2 + 2(N-2m)rho(1-rho))."""
    result = cluster_adjusted(0.25, 120, 130, 10, icc=0.2)
    n, m, rho = 250, 25.0, 0.2
    t = 0.25 * math.sqrt(120 * 130 / 250)
    shrunk = (n - 2) - 2 * (m - 1) * rho
    assert result.t == pytest.approx(t * math.sqrt(shrunk / ((n - 2) * (1 + (m - 1) * rho))))
    h = shrunk**2 / (
        (n - 2) * (1 - rho) ** 2 + m * (n - 2 * m) * rho**2 + 2 * (n - 2 * m) * rho * (1 - rho)
    )
    assert result.df == pytest.approx(h)
    assert result.p > 2 * stats.t.sf(t, n - 2)  # clustering can only weaken significance


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ((0.2, 10, 10, 2), "n_clusters must be at least 3"),
        ((0.2, 10, 10, 30), "n_clusters .* cannot exceed the number of students"),
        ((0.2, 10, 10, 4, 1.5), "icc must be a proportion"),
        ((float("inf"), 10, 10, 4), "g must be a finite number"),
    ],
)
def test_cluster_correction_rejects_impossible_input(arguments: tuple, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        cluster_adjusted(*arguments)
