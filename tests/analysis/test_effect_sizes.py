"""Effect sizes against the WWC handbooks' formulas and worked figures."""

from __future__ import annotations

import math

import pytest

from analysis.effect_sizes import (
    cox_index,
    hedges_g,
    improvement_index,
    small_sample_correction,
)


def test_hedges_g_worked_example() -> None:
    """Means 6 vs 5, SDs 1, three students per arm: d = 1, omega = 1 - 3/(4*6 - 9) = 0.8.

    Source: the README example of the CRAN package baselinr 0.6.0 (WWC baseline
    equivalence, https://github.com/zl1212-ship-it/baselinr), pretest 5,6,7 vs 4,5,6 ->
    effect size 0.80; formula: WWC Procedures Handbook 4.1, Appendix E.
    """
    result = hedges_g(6.0, 1.0, 3, 5.0, 1.0, 3)
    assert result.g == pytest.approx(0.80)
    # Variance N/(n_t n_c) + g^2/(2N) (WWC Procedures Handbook 4.1, Appendix E): 6/9 + 0.64/12.
    assert result.variance == pytest.approx(6 / 9 + 0.64 / 12)
    assert result.se == pytest.approx(math.sqrt(result.variance))
    assert result.ci == pytest.approx((0.8 - 1.959964 * result.se, 0.8 + 1.959964 * result.se))


def test_hedges_g_pools_unequal_arms() -> None:
    """Pooled SD sqrt(((n_t-1)s_t^2 + (n_c-1)s_c^2)/(N-2)).

    Source: WWC Procedures Handbook 4.1, Appendix E."""
    result = hedges_g(110.0, 12.0, 40, 100.0, 15.0, 60)
    pooled = math.sqrt((39 * 144 + 59 * 225) / 98)
    assert result.g == pytest.approx((1 - 3 / (4 * 100 - 9)) * 10 / pooled)


def test_cox_index_formula() -> None:
    """d_Cox = omega * (logit p_t - logit p_c) / 1.65 (WWC Procedures Handbook 4.1,
    Appendix E): for 2/3 vs 1/3 with 3 per arm, 0.8 * ln(4) / 1.65."""
    result = cox_index(2 / 3, 1 / 3, 3, 3)
    assert result.g == pytest.approx(0.8 * math.log(4) / 1.65)
    # Variance of a log odds ratio, sum of 1/cell (Sanchez-Meca et al. 2003), scaled.
    cells = 1 / 2 + 1 / 1 + 1 / 1 + 1 / 2
    assert result.variance == pytest.approx((0.8 / 1.65) ** 2 * cells)


def test_improvement_index_matches_wwc_example() -> None:
    """An effect size of 0.25 is an improvement index of about 10 percentile points.

    Source: WWC Procedures and Standards Handbook 2.0 (2008), Appendix F, "Computation of
    the Improvement Index" (ies.ed.gov/ncee/wwc/references/iDocViewer/Doc.aspx?docId=19&tocId=12).
    """
    assert improvement_index(0.25) == pytest.approx(9.87, abs=0.01)
    assert round(improvement_index(0.25)) == 10
    assert improvement_index(0.0) == 0.0
    assert improvement_index(-0.25) == pytest.approx(-improvement_index(0.25))


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ((1.0, 0.0, 10, 0.0, 1.0, 10), "sd_t must be greater than 0"),
        ((1.0, 1.0, 10, 0.0, -2.0, 10), "sd_c must be greater than 0"),
        ((1.0, 1.0, -5, 0.0, 1.0, 10), "n_t must not be negative"),
        ((1.0, 1.0, 1, 0.0, 1.0, 10), "n_t must be at least 2"),
        ((float("nan"), 1.0, 10, 0.0, 1.0, 10), "mean_t must be a finite number"),
        ((1.0, 1.0, 10.5, 0.0, 1.0, 10), "n_t must be a whole number"),
    ],
)
def test_hedges_g_rejects_impossible_input(arguments: tuple, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        hedges_g(*arguments)


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ((0.0, 0.5, 20, 20), "p_t is exactly 0"),
        ((0.5, 1.0, 20, 20), "p_c is exactly 1"),
        ((1.2, 0.5, 20, 20), "p_t must be a proportion between 0 and 1"),
        ((0.4, 0.5, 20, 0), "n_c must be at least 2"),
    ],
)
def test_cox_index_rejects_impossible_input(arguments: tuple, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        cox_index(*arguments)


def test_improvement_index_rejects_nan() -> None:
    with pytest.raises(ValueError, match="g must be a finite number"):
        improvement_index(float("nan"))


@pytest.mark.parametrize("n_total", [2, 3])
def test_the_small_sample_correction_is_refused_below_four_students(n_total: int) -> None:
    """omega = 1 - 3/(4N - 9) is 4 at N = 2 and 0 at N = 3 (found by an outside check)."""
    with pytest.raises(ValueError, match="at least 4 students"):
        small_sample_correction(n_total)
    assert small_sample_correction(4) == pytest.approx(1 - 3 / 7)
