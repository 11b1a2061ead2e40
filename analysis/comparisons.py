"""Two-arm comparisons for continuous, binary and paired outcomes.

Defaults follow R's stats package so results can be checked against it:
- continuous: Welch's t test (t.test, var.equal = FALSE); the Wilcoxon-Mann-Whitney
  test as a sensitivity analysis (wilcox.test: exact when both arms have fewer than
  50 students and no ties, otherwise the normal approximation with continuity and
  tie corrections); Hedges' g with the WWC correction.
- binary: Fisher's exact test when any expected cell count is below 5 (Cochran's rule),
  otherwise Pearson's chi-squared test with Yates' continuity correction (chisq.test
  on a 2 x 2 table); the WWC Cox index.
- paired: the paired t test and the Wilcoxon signed-rank test on the changes; the
  standardized mean change (Becker 1988) standardized by the baseline SD.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import stats

from analysis import _validation as check
from analysis.effect_sizes import (
    EffectSize,
    cox_index,
    hedges_g_from_pooled,
    pooled_sd,
)

# R's wilcox.test computes exact p-values below this many observations per arm.
EXACT_RANK_TEST_LIMIT = 50
# Cochran's rule: an expected count below 5 makes the chi-squared approximation unsafe.
MINIMUM_EXPECTED_COUNT = 5.0


@dataclass(frozen=True)
class Descriptives:
    n: int
    mean: float
    sd: float
    median: float
    minimum: float
    maximum: float


@dataclass(frozen=True)
class SignificanceTest:
    """One hypothesis test: its name, statistic, degrees of freedom (if any) and p-value."""

    name: str
    statistic: float | None
    p: float
    df: float | None = None


@dataclass(frozen=True)
class ContinuousComparison:
    treatment: Descriptives
    control: Descriptives
    difference: float
    ci: tuple[float, float]
    test: SignificanceTest
    sensitivity: SignificanceTest
    effect_size: EffectSize

    @property
    def p(self) -> float:
        return self.test.p


@dataclass(frozen=True)
class ArmProportion:
    n: int
    successes: int
    proportion: float


@dataclass(frozen=True)
class BinaryComparison:
    treatment: ArmProportion
    control: ArmProportion
    difference: float
    ci: tuple[float, float]
    test: SignificanceTest
    effect_size: EffectSize | None
    notes: tuple[str, ...]

    @property
    def p(self) -> float:
        return self.test.p


@dataclass(frozen=True)
class PairedComparison:
    before: Descriptives
    after: Descriptives
    mean_change: float
    ci: tuple[float, float]
    test: SignificanceTest
    sensitivity: SignificanceTest
    effect_size: EffectSize

    @property
    def p(self) -> float:
        return self.test.p


def _descriptives(values: np.ndarray) -> tuple[Descriptives, float]:
    """Descriptives of one arm, plus its sample variance for the tests."""
    n = values.size
    mean = float(values.mean())
    centered = values - mean
    variance = float(centered @ centered) / (n - 1)
    described = Descriptives(
        n=n,
        mean=mean,
        sd=math.sqrt(variance),
        median=float(np.median(values)),
        minimum=float(values.min()),
        maximum=float(values.max()),
    )
    return described, variance


def _two_sided_t_p(t_value: float, df: float) -> float:
    return 2.0 * float(stats.t.sf(abs(t_value), df))


def _has_ties(values: np.ndarray) -> bool:
    return np.unique(values).size < values.size


def _rank_sum_test(treatment: np.ndarray, control: np.ndarray) -> SignificanceTest:
    small = treatment.size < EXACT_RANK_TEST_LIMIT and control.size < EXACT_RANK_TEST_LIMIT
    exact = small and not _has_ties(np.concatenate([treatment, control]))
    result = stats.mannwhitneyu(
        treatment,
        control,
        alternative="two-sided",
        use_continuity=True,
        method="exact" if exact else "asymptotic",
    )
    approach = "exact" if exact else "normal approximation"
    return SignificanceTest(
        name=f"Wilcoxon-Mann-Whitney rank-sum test ({approach})",
        statistic=float(result.statistic),
        p=float(result.pvalue),
    )


def compare_continuous(
    treatment: object, control: object, level: float = 0.95
) -> ContinuousComparison:
    """Compare a continuous outcome between two independent arms (treatment minus control)."""
    treatment = check.numeric_array("treatment", treatment, minimum_size=2)
    control = check.numeric_array("control", control, minimum_size=2)
    level = check.level("level", level)
    treated, var_t = _descriptives(treatment)
    compared, var_c = _descriptives(control)
    if var_t == 0 and var_c == 0:
        raise ValueError(
            "treatment and control have no spread (every student in each arm has the "
            "same score), so no test or effect size can be computed"
        )
    difference = treated.mean - compared.mean
    share_t = var_t / treated.n
    share_c = var_c / compared.n
    se = math.sqrt(share_t + share_c)
    df = (share_t + share_c) ** 2 / (share_t**2 / (treated.n - 1) + share_c**2 / (compared.n - 1))
    t_value = difference / se
    half_width = float(stats.t.ppf(0.5 + level / 2.0, df)) * se
    welch = SignificanceTest(
        name="Welch two-sample t test",
        statistic=t_value,
        p=_two_sided_t_p(t_value, df),
        df=df,
    )
    effect = hedges_g_from_pooled(
        difference,
        pooled_sd(treated.sd, treated.n, compared.sd, compared.n),
        treated.n,
        compared.n,
        level,
    )
    return ContinuousComparison(
        treatment=treated,
        control=compared,
        difference=difference,
        ci=(difference - half_width, difference + half_width),
        test=welch,
        sensitivity=_rank_sum_test(treatment, control),
        effect_size=effect,
    )


def _binary_test(table: np.ndarray) -> SignificanceTest:
    row_totals = table.sum(axis=1, keepdims=True)
    column_totals = table.sum(axis=0, keepdims=True)
    expected = row_totals * column_totals / table.sum()
    if (column_totals == 0).any():
        # Every student in both arms had the same outcome: nothing differs.
        return SignificanceTest(
            name="no test: every student had the same outcome", statistic=None, p=1.0
        )
    if expected.min() < MINIMUM_EXPECTED_COUNT:
        # Fisher's test has no statistic worth showing; its sample odds ratio can be infinite.
        _, p = stats.fisher_exact(table, alternative="two-sided")
        return SignificanceTest(
            name="Fisher's exact test (an expected count is below 5)",
            statistic=None,
            p=float(p),
        )
    chi2, p, df, _ = stats.chi2_contingency(table, correction=True)
    return SignificanceTest(
        name="Pearson's chi-squared test with Yates' continuity correction",
        statistic=float(chi2),
        p=float(p),
        df=float(df),
    )


def compare_binary(
    successes_t: int, n_t: int, successes_c: int, n_c: int, level: float = 0.95
) -> BinaryComparison:
    """Compare a binary outcome (counts of students with it) between two independent arms."""
    n_t = check.count("n_t", n_t, minimum=2)
    n_c = check.count("n_c", n_c, minimum=2)
    successes_t = check.count("successes_t", successes_t)
    successes_c = check.count("successes_c", successes_c)
    if successes_t > n_t:
        raise ValueError(f"successes_t ({successes_t}) cannot exceed n_t ({n_t})")
    if successes_c > n_c:
        raise ValueError(f"successes_c ({successes_c}) cannot exceed n_c ({n_c})")
    level = check.level("level", level)
    p_t = successes_t / n_t
    p_c = successes_c / n_c
    difference = p_t - p_c
    se = math.sqrt(p_t * (1 - p_t) / n_t + p_c * (1 - p_c) / n_c)
    half_width = float(stats.norm.ppf(0.5 + level / 2.0)) * se
    table = np.array([[successes_t, n_t - successes_t], [successes_c, n_c - successes_c]])
    notes: list[str] = []
    effect: EffectSize | None = None
    if 0 < successes_t < n_t and 0 < successes_c < n_c:
        effect = cox_index(p_t, p_c, n_t, n_c, level)
    else:
        notes.append(
            "The Cox index is not reported: in at least one arm every student or no student "
            "had the outcome, so its log odds ratio is infinite."
        )
    return BinaryComparison(
        treatment=ArmProportion(n=n_t, successes=successes_t, proportion=p_t),
        control=ArmProportion(n=n_c, successes=successes_c, proportion=p_c),
        difference=difference,
        ci=(difference - half_width, difference + half_width),
        test=_binary_test(table),
        effect_size=effect,
        notes=tuple(notes),
    )


def _signed_rank_test(changes: np.ndarray) -> SignificanceTest:
    nonzero = changes[changes != 0]
    if nonzero.size == 0:
        return SignificanceTest(name="no test: no student changed", statistic=0.0, p=1.0)
    exact = nonzero.size < EXACT_RANK_TEST_LIMIT and nonzero.size == changes.size
    exact = exact and not _has_ties(np.abs(nonzero))
    result = stats.wilcoxon(
        nonzero,
        alternative="two-sided",
        correction=not exact,
        method="exact" if exact else "approx",
    )
    # Report R's V: the sum of the ranks of the positive changes.
    ranks = stats.rankdata(np.abs(nonzero))
    positive_rank_sum = float(ranks[nonzero > 0].sum())
    approach = "exact" if exact else "normal approximation"
    return SignificanceTest(
        name=f"Wilcoxon signed-rank test ({approach})",
        statistic=positive_rank_sum,
        p=float(result.pvalue),
    )


def compare_paired(before: object, after: object, level: float = 0.95) -> PairedComparison:
    """Compare the same students before and after (change = after minus before)."""
    before = check.numeric_array("before", before, minimum_size=3)
    after = check.numeric_array("after", after, minimum_size=3)
    check.same_length(("before", "after"), (before, after))
    level = check.level("level", level)
    first, var_before = _descriptives(before)
    second, _ = _descriptives(after)
    if var_before == 0:
        raise ValueError(
            "before has no spread (every student has the same baseline score), so the "
            "change cannot be standardized"
        )
    changes = after - before
    change_summary, var_change = _descriptives(changes)
    n = changes.size
    mean_change = change_summary.mean
    if var_change == 0:
        raise ValueError(
            "every student changed by exactly the same amount, so the paired t test is undefined"
        )
    se = math.sqrt(var_change / n)
    t_value = mean_change / se
    df = float(n - 1)
    half_width = float(stats.t.ppf(0.5 + level / 2.0, df)) * se
    paired_t = SignificanceTest(
        name="paired t test", statistic=t_value, p=_two_sided_t_p(t_value, df), df=df
    )
    return PairedComparison(
        before=first,
        after=second,
        mean_change=mean_change,
        ci=(mean_change - half_width, mean_change + half_width),
        test=paired_t,
        sensitivity=_signed_rank_test(changes),
        effect_size=_standardized_mean_change(before, after, first.sd, mean_change, level),
    )


def _standardized_mean_change(
    before: np.ndarray, after: np.ndarray, sd_before: float, mean_change: float, level: float
) -> EffectSize:
    """Becker's (1988) standardized mean change, scaled by the baseline SD.

    g = J * mean change / sd_before with J = 1 - 3/(4(n-1) - 1), and
    variance 2(1 - r)/n + g^2/(2n), r the before-after correlation.
    """
    n = before.size
    correction = 1.0 - 3.0 / (4.0 * (n - 1) - 1.0)
    g = correction * mean_change / sd_before
    sd_after = float(after.std(ddof=1))
    correlation = 0.0 if sd_after == 0 else float(np.corrcoef(before, after)[0, 1])
    variance = 2.0 * (1.0 - correlation) / n + g * g / (2.0 * n)
    se = math.sqrt(variance)
    half_width = float(stats.norm.ppf(0.5 + level / 2.0)) * se
    return EffectSize(
        g=g,
        variance=variance,
        se=se,
        ci=(g - half_width, g + half_width),
        n_t=n,
        n_c=n,
        method="standardized mean change (Becker 1988), baseline SD",
    )
