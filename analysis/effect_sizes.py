"""Standardized effect sizes as the What Works Clearinghouse computes them.

References
- What Works Clearinghouse, Procedures and Standards Handbook, Version 4.1 (2020) and
  Version 5.0 (2022), Appendix E: Hedges' g with the small-sample correction
  omega = 1 - 3/(4N - 9), the Cox index for binary outcomes, the improvement index.
- Hedges, L. V. (1981). Distribution theory for Glass's estimator of effect size.
  Journal of Educational Statistics 6(2), 107-128 (the variance of g).
- Sanchez-Meca, J., Marin-Martinez, F., Chacon-Moscoso, S. (2003). Effect-size indices
  for dichotomized outcomes in meta-analysis. Psychological Methods 8(4), 448-467
  (the variance of the Cox index).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from scipy import stats

from analysis import _validation as check

# The Cox index rescales a log odds ratio to the standard-deviation scale (logistic sd / 1.65).
COX_DIVISOR = 1.65


@dataclass(frozen=True)
class EffectSize:
    """A standardized mean difference (treatment minus control) and its uncertainty."""

    g: float
    variance: float
    se: float
    ci: tuple[float, float]
    n_t: int
    n_c: int
    method: str


def small_sample_correction(n_total: int) -> float:
    """Hedges' omega = 1 - 3/(4N - 9), the factor the WWC applies to every effect size.

    Defined for N >= 4 (two students in each group): at N = 3 it is 0 and at N = 2 it is 4."""
    if n_total < 4:
        raise ValueError(
            f"the small-sample correction needs at least 4 students (2 per group), got {n_total}"
        )
    return 1.0 - 3.0 / (4.0 * n_total - 9.0)


def _normal_interval(estimate: float, se: float, level: float) -> tuple[float, float]:
    half_width = float(stats.norm.ppf(0.5 + level / 2.0)) * se
    return (estimate - half_width, estimate + half_width)


def hedges_g_from_pooled(
    difference: float, pooled_sd: float, n_t: int, n_c: int, level: float = 0.95
) -> EffectSize:
    """Hedges' g from a mean difference and the pooled within-arm SD (inputs already checked)."""
    n_total = n_t + n_c
    g = small_sample_correction(n_total) * difference / pooled_sd
    variance = n_total / (n_t * n_c) + g * g / (2.0 * n_total)
    se = math.sqrt(variance)
    return EffectSize(
        g=g,
        variance=variance,
        se=se,
        ci=_normal_interval(g, se, level),
        n_t=n_t,
        n_c=n_c,
        method="Hedges' g (WWC small-sample correction)",
    )


def pooled_sd(sd_t: float, n_t: int, sd_c: float, n_c: int) -> float:
    return math.sqrt(((n_t - 1) * sd_t**2 + (n_c - 1) * sd_c**2) / (n_t + n_c - 2))


def hedges_g(
    mean_t: float,
    sd_t: float,
    n_t: int,
    mean_c: float,
    sd_c: float,
    n_c: int,
    level: float = 0.95,
) -> EffectSize:
    """Hedges' g for a continuous outcome from each arm's mean, SD and size.

    g = omega * (mean_t - mean_c) / s_pooled, variance = N/(n_t n_c) + g^2/(2N),
    with a normal 95 % interval, as in the WWC handbook.
    """
    mean_t = check.finite_number("mean_t", mean_t)
    mean_c = check.finite_number("mean_c", mean_c)
    sd_t = check.positive_number("sd_t", sd_t)
    sd_c = check.positive_number("sd_c", sd_c)
    n_t = check.count("n_t", n_t, minimum=2)
    n_c = check.count("n_c", n_c, minimum=2)
    level = check.level("level", level)
    return hedges_g_from_pooled(mean_t - mean_c, pooled_sd(sd_t, n_t, sd_c, n_c), n_t, n_c, level)


def cox_index(p_t: float, p_c: float, n_t: int, n_c: int, level: float = 0.95) -> EffectSize:
    """The WWC Cox index for a binary outcome: omega * (logit p_t - logit p_c) / 1.65.

    Its variance is the log odds ratio's, 1/a + 1/b + 1/c + 1/d over the four cells,
    times (omega / 1.65)^2. The result's `g` field holds the index.
    """
    p_t = check.open_probability("p_t", p_t, "the Cox index (a log odds ratio)")
    p_c = check.open_probability("p_c", p_c, "the Cox index (a log odds ratio)")
    n_t = check.count("n_t", n_t, minimum=2)
    n_c = check.count("n_c", n_c, minimum=2)
    level = check.level("level", level)
    omega = small_sample_correction(n_t + n_c)
    log_odds_ratio = math.log(p_t / (1.0 - p_t)) - math.log(p_c / (1.0 - p_c))
    index = omega * log_odds_ratio / COX_DIVISOR
    cell_inverse_sum = (
        1.0 / (n_t * p_t)
        + 1.0 / (n_t * (1.0 - p_t))
        + 1.0 / (n_c * p_c)
        + 1.0 / (n_c * (1.0 - p_c))
    )
    variance = (omega / COX_DIVISOR) ** 2 * cell_inverse_sum
    se = math.sqrt(variance)
    return EffectSize(
        g=index,
        variance=variance,
        se=se,
        ci=_normal_interval(index, se, level),
        n_t=n_t,
        n_c=n_c,
        method="Cox index (WWC)",
    )


def improvement_index(g: float) -> float:
    """Expected change in percentile rank of an average control student: 100 * Phi(g) - 50."""
    g = check.finite_number("g", g)
    return 100.0 * float(stats.norm.cdf(g)) - 50.0


def with_design_effect(effect: EffectSize, design_effect: float, level: float = 0.95) -> EffectSize:
    """The same estimate with its variance multiplied by a design effect (1 + (m - 1) ICC for
    clusters of m students; Kish 1965; Donner & Klar 2000, ch. 5): students of one classroom
    count for less than independent ones. The interval is normal, as the estimate's own."""
    design_effect = check.finite_number("design_effect", design_effect)
    if design_effect < 1:
        raise ValueError(f"design_effect must be at least 1, got {design_effect!r}")
    variance = effect.variance * design_effect
    se = math.sqrt(variance)
    return EffectSize(
        g=effect.g,
        variance=variance,
        se=se,
        ci=_normal_interval(effect.g, se, check.level("level", level)),
        n_t=effect.n_t,
        n_c=effect.n_c,
        method=f"{effect.method}, variance times the design effect {design_effect:.2f}",
    )
