"""Comparisons against R's documented examples for t.test, wilcox.test, fisher.test and
chisq.test (R stats package; outputs as printed by R and reproduced on the cited pages)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from analysis.comparisons import compare_binary, compare_continuous, compare_paired

# R's `sleep` data (Cushny & Peebles 1905): extra hours of sleep on two drugs, 10 patients.
SLEEP_DRUG_1 = [0.7, -1.6, -0.2, -1.2, -0.1, 3.4, 3.7, 0.8, 0.0, 2.0]
SLEEP_DRUG_2 = [1.9, 0.8, 1.1, 0.1, -0.1, 4.4, 5.5, 1.6, 4.6, 3.4]


def test_welch_t_test_on_the_sleep_data() -> None:
    """R: t.test(extra ~ group, data = sleep) -> t = -1.8608, df = 17.776,
    p-value = 0.07939, 95 percent CI -3.3654832 0.2054832 (example in ?t.test; output
    e.g. https://stat.ethz.ch/R-manual/R-devel/library/stats/html/t.test.html)."""
    result = compare_continuous(SLEEP_DRUG_1, SLEEP_DRUG_2)
    assert result.test.statistic == pytest.approx(-1.8608, abs=5e-5)
    assert result.test.df == pytest.approx(17.776, abs=5e-4)
    assert result.p == pytest.approx(0.07939, abs=5e-6)
    assert result.ci == pytest.approx((-3.3654832, 0.2054832), abs=5e-8)
    assert result.treatment.mean == pytest.approx(0.75)
    assert result.control.mean == pytest.approx(2.33)


def test_welch_t_test_help_page_example() -> None:
    """R: t.test(1:10, y = c(7:20)) -> t = -5.4349, df = 21.982, p-value = 1.855e-05
    (?t.test: "P = .00001855")."""
    result = compare_continuous(list(range(1, 11)), list(range(7, 21)))
    assert result.test.statistic == pytest.approx(-5.4349, abs=5e-5)
    assert result.test.df == pytest.approx(21.982, abs=5e-4)
    assert result.p == pytest.approx(1.855e-05, rel=1e-3)


def test_paired_t_test_on_the_sleep_data() -> None:
    """R: t.test(extra ~ group, data = sleep, paired = TRUE) -> t = -4.0621, df = 9,
    p-value = 0.002833, CI -2.4598858 -0.7001142 (drug 1 minus drug 2; here after minus
    before, so the signs flip)."""
    result = compare_paired(before=SLEEP_DRUG_1, after=SLEEP_DRUG_2)
    assert result.test.statistic == pytest.approx(4.0621, abs=5e-5)
    assert result.test.df == 9
    assert result.p == pytest.approx(0.002833, abs=5e-7)
    assert result.ci == pytest.approx((0.7001142, 2.4598858), abs=5e-8)
    assert result.mean_change == pytest.approx(1.58)


def test_rank_sum_test_hollander_wolfe() -> None:
    """R ?wilcox.test, two-sample example (Hollander & Wolfe 1973, p. 69):
    wilcox.test(x, y, alternative = "g") -> W = 35, p-value = 0.1272; the exact null
    distribution is symmetric, so the two-sided p-value is 0.2544."""
    x = [0.80, 0.83, 1.89, 1.04, 1.45, 1.38, 1.91, 1.64, 0.73, 1.46]
    y = [1.15, 0.88, 0.90, 0.74, 1.21]
    result = compare_continuous(x, y)
    assert result.sensitivity.statistic == 35
    assert result.sensitivity.p == pytest.approx(2 * 0.1272, abs=1e-4)
    assert "exact" in result.sensitivity.name


def test_signed_rank_test_hollander_wolfe() -> None:
    """R ?wilcox.test, paired example (Hollander & Wolfe 1973, p. 29f, Hamilton depression
    scale): wilcox.test(x, y, paired = TRUE, alternative = "greater") -> V = 40,
    p-value = 0.01953 (= 10/512); two-sided 20/512 = 0.0390625."""
    first_visit = [1.83, 0.50, 1.62, 2.48, 1.68, 1.88, 1.55, 3.06, 1.30]
    second_visit = [0.878, 0.647, 0.598, 2.05, 1.06, 1.29, 1.06, 3.14, 1.29]
    # V counts the ranks of positive x - y, i.e. after = first visit, before = second.
    result = compare_paired(before=second_visit, after=first_visit)
    assert result.sensitivity.statistic == 40
    assert result.sensitivity.p == pytest.approx(20 / 512)


def test_fisher_exact_test_on_tea_tasting() -> None:
    """R ?fisher.test, Fisher's tea drinker (Agresti 1990): TeaTasting = matrix(c(3,1,1,3));
    one-sided p = 0.2429 (documented); two-sided p = 34/70 = 0.4857. Expected counts are 2,
    so Fisher's test is used."""
    result = compare_binary(3, 4, 1, 4)
    assert "Fisher" in result.test.name
    assert result.p == pytest.approx(0.4857, abs=5e-5)
    assert result.p == pytest.approx(34 / 70)


def test_chi_squared_with_yates_correction_on_mtcars() -> None:
    """R: chisq.test(table(mtcars$am, mtcars$vs)) -> "Pearson's Chi-squared test with
    Yates' continuity correction", X-squared = 0.34754, df = 1, p-value = 0.5555
    (mtcars: manual 13 cars, 7 with straight engines; automatic 19 cars, 7 straight)."""
    result = compare_binary(7, 13, 7, 19)
    assert "chi-squared" in result.test.name
    assert result.test.statistic == pytest.approx(0.34754, abs=5e-6)
    assert result.test.df == 1
    assert result.p == pytest.approx(0.5555, abs=5e-5)


def test_binary_comparison_reports_the_cox_index_and_risk_difference() -> None:
    result = compare_binary(60, 100, 45, 100)
    assert result.difference == pytest.approx(0.15)
    assert result.effect_size is not None
    assert result.effect_size.g > 0
    assert result.notes == ()


def test_binary_comparison_without_events_explains_the_missing_effect_size() -> None:
    result = compare_binary(0, 30, 6, 30)
    assert result.effect_size is None
    assert "Cox index is not reported" in result.notes[0]
    assert 0 <= result.p <= 1


def test_large_arms_use_the_normal_approximation() -> None:
    rng = np.random.default_rng(7)
    treatment = rng.normal(0.05, 1.0, 20_000)
    control = rng.normal(0.0, 1.0, 20_000)
    result = compare_continuous(treatment, control)
    reference = stats.mannwhitneyu(treatment, control, method="asymptotic")
    assert result.sensitivity.p == pytest.approx(reference.pvalue)
    assert "normal approximation" in result.sensitivity.name
    welch = stats.ttest_ind(treatment, control, equal_var=False)
    assert result.test.statistic == pytest.approx(welch.statistic)
    assert result.p == pytest.approx(welch.pvalue)


def test_one_arm_without_spread_still_compares() -> None:
    result = compare_continuous([5.0, 5.0, 5.0, 5.0], [1.0, 2.0, 3.0, 4.0])
    assert result.test.df == pytest.approx(3)
    assert np.isfinite(result.effect_size.g)


@pytest.mark.parametrize(
    ("treatment", "control", "message"),
    [
        ([1.0], [1.0, 2.0], "treatment has 1 value"),
        ([1.0, float("nan"), 2.0], [1.0, 2.0], "treatment contains 1 missing"),
        ([1.0, 2.0], "abc", "control must be a sequence of numbers"),
        ([[1.0, 2.0]], [1.0, 2.0], "one-dimensional"),
        ([3.0, 3.0], [1.0, 1.0], "no spread"),
    ],
)
def test_compare_continuous_rejects_bad_input(treatment, control, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        compare_continuous(treatment, control)


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ((11, 10, 5, 10), "successes_t .* cannot exceed n_t"),
        ((5, 10, -1, 10), "successes_c must not be negative"),
        ((1, 1, 1, 10), "n_t must be at least 2"),
    ],
)
def test_compare_binary_rejects_bad_input(arguments: tuple, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        compare_binary(*arguments)


def test_compare_paired_rejects_unequal_lengths() -> None:
    with pytest.raises(ValueError, match="before has 4, after has 3"):
        compare_paired([1, 2, 3, 4], [1, 2, 3])


def test_binary_comparison_where_nobody_has_the_outcome() -> None:
    result = compare_binary(0, 12, 0, 15)
    assert result.p == 1.0
    assert result.test.statistic is None
    assert result.effect_size is None
