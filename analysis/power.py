"""Power, sample size and minimum detectable effect size for two-arm designs.

Continuous outcomes use the two-sided two-sample t test and the noncentral t
distribution, as R's power.t.test (with strict = TRUE: both rejection regions count,
so an effect of zero has power alpha). Cluster designs inflate the variance by the
design effect 1 + (m - 1) ICC and test on 2J - 2 degrees of freedom, J clusters per arm
(Donner & Klar 2000; Bloom 2005). Binary outcomes use the normal approximation of R's
power.prop.test.

scipy's noncentral t returns NaN in the far tail of the rejection region opposite the
effect when the degrees of freedom are large (e.g. 446 students per arm, d = 1). That
tail holds a negligible probability; where scipy cannot evaluate it, the normal
approximation of the same tail is used instead, so root finders never see NaN.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from scipy import optimize, stats

from analysis import _validation as check

_ROOT_TOLERANCE = 1e-10


@dataclass(frozen=True)
class SampleSize:
    """Students needed per arm: n_exact solves power = target; n_per_arm rounds it up."""

    n_per_arm: int
    n_exact: float
    achieved_power: float
    power: float
    alpha: float


def _t_power(
    effect: float, n_per_arm: float, alpha: float, design_effect: float, df: float
) -> float:
    ncp = abs(effect) * math.sqrt(n_per_arm / (2.0 * design_effect))
    critical = float(stats.t.ppf(1.0 - alpha / 2.0, df))
    toward = float(stats.nct.sf(critical, df, ncp))
    if not math.isfinite(toward):
        toward = float(stats.norm.sf(critical - ncp))
    away = float(stats.nct.cdf(-critical, df, ncp))
    if not math.isfinite(away):
        away = float(stats.norm.cdf(-critical - ncp))
    return min(1.0, toward + away)


def _check_alpha(alpha: object) -> float:
    return check.level("alpha", alpha)


def _check_target_power(power: object, alpha: float) -> float:
    target = check.level("power", power)
    if target <= alpha:
        raise ValueError(f"power ({target:g}) must be greater than alpha ({alpha:g})")
    return target


def power_two_sample(effect_size: float, n_per_arm: float, alpha: float = 0.05) -> float:
    """Power of a two-sided two-sample t test to detect a standardized effect."""
    effect = check.finite_number("effect_size", effect_size)
    n = check.finite_number("n_per_arm", n_per_arm)
    if n < 2:
        raise ValueError(f"n_per_arm must be at least 2, got {n_per_arm!r}")
    alpha = _check_alpha(alpha)
    return _t_power(effect, n, alpha, 1.0, 2.0 * n - 2.0)


def _solve_increasing(function, low: float, start_high: float) -> float:
    """Root of an increasing function that is negative at low, searching upward for a bracket."""
    high = max(start_high, low * 2.0)
    for _ in range(200):
        if function(high) > 0:
            return float(optimize.brentq(function, low, high, xtol=_ROOT_TOLERANCE))
        low, high = high, high * 2.0
    raise ValueError("no solution was found within a reasonable range; check the inputs")


def sample_size_two_sample(
    effect_size: float, power: float = 0.8, alpha: float = 0.05
) -> SampleSize:
    """Students per arm for a two-sided two-sample t test to reach the target power."""
    effect = check.finite_number("effect_size", effect_size)
    if effect == 0:
        raise ValueError("effect_size is 0: no sample is large enough to detect no effect")
    alpha = _check_alpha(alpha)
    target = _check_target_power(power, alpha)

    def shortfall(n: float) -> float:
        return _t_power(effect, n, alpha, 1.0, 2.0 * n - 2.0) - target

    if shortfall(2.0) >= 0:
        n_exact = 2.0
    else:
        z_sum = stats.norm.ppf(1 - alpha / 2) + stats.norm.ppf(target)
        normal_guess = 2.0 * (z_sum / effect) ** 2 + 4.0
        n_exact = _solve_increasing(shortfall, 2.0, normal_guess)
    n_per_arm = max(2, math.ceil(n_exact - 1e-9))
    return SampleSize(
        n_per_arm=n_per_arm,
        n_exact=n_exact,
        achieved_power=_t_power(effect, n_per_arm, alpha, 1.0, 2.0 * n_per_arm - 2.0),
        power=target,
        alpha=alpha,
    )


def mdes(
    n_per_arm: float,
    power: float = 0.8,
    alpha: float = 0.05,
    icc: float = 0.0,
    cluster_size: float = 1.0,
) -> float:
    """Minimum detectable effect size (standardized) for a two-arm design.

    With cluster_size m > 1 the variance is inflated by 1 + (m - 1) icc and the test has
    2J - 2 degrees of freedom, J = n_per_arm / m clusters per arm.
    """
    n = check.finite_number("n_per_arm", n_per_arm)
    if n < 2:
        raise ValueError(f"n_per_arm must be at least 2, got {n_per_arm!r}")
    alpha = _check_alpha(alpha)
    target = _check_target_power(power, alpha)
    icc = check.probability("icc", icc)
    m = check.finite_number("cluster_size", cluster_size)
    if m < 1:
        raise ValueError(f"cluster_size must be at least 1, got {cluster_size!r}")
    if m > 1:
        clusters_per_arm = n / m
        if clusters_per_arm < 2:
            raise ValueError(
                f"n_per_arm / cluster_size gives {clusters_per_arm:g} clusters per arm; "
                "at least 2 are needed"
            )
        df = 2.0 * clusters_per_arm - 2.0
    else:
        df = 2.0 * n - 2.0
    design_effect = 1.0 + (m - 1.0) * icc

    def shortfall(effect: float) -> float:
        return _t_power(effect, n, alpha, design_effect, df) - target

    return _solve_increasing(shortfall, 0.0, 1.0)


def _proportion_power(p_t: float, p_c: float, n: float, alpha: float) -> float:
    critical = float(stats.norm.ppf(1.0 - alpha / 2.0))
    pooled_spread = math.sqrt((p_t + p_c) * (2.0 - p_t - p_c) / 2.0)
    spread = math.sqrt(p_t * (1.0 - p_t) + p_c * (1.0 - p_c))
    signal = math.sqrt(n) * abs(p_t - p_c)
    toward = stats.norm.cdf((signal - critical * pooled_spread) / spread)
    away = stats.norm.cdf((-signal - critical * pooled_spread) / spread)
    return min(1.0, float(toward + away))


def _check_proportions(p_t: object, p_c: object) -> tuple[float, float]:
    p_t = check.open_probability("p_t", p_t, "a power calculation")
    p_c = check.open_probability("p_c", p_c, "a power calculation")
    if p_t == p_c:
        raise ValueError("p_t equals p_c: there is no difference to detect")
    return p_t, p_c


def power_two_proportions(p_t: float, p_c: float, n_per_arm: float, alpha: float = 0.05) -> float:
    """Power of the two-sided two-proportion z test (R's power.prop.test)."""
    p_t, p_c = _check_proportions(p_t, p_c)
    n = check.finite_number("n_per_arm", n_per_arm)
    if n < 2:
        raise ValueError(f"n_per_arm must be at least 2, got {n_per_arm!r}")
    return _proportion_power(p_t, p_c, n, _check_alpha(alpha))


def sample_size_two_proportions(
    p_t: float, p_c: float, power: float = 0.8, alpha: float = 0.05
) -> SampleSize:
    """Students per arm for the two-proportion z test to reach the target power."""
    p_t, p_c = _check_proportions(p_t, p_c)
    alpha = _check_alpha(alpha)
    target = _check_target_power(power, alpha)

    def shortfall(n: float) -> float:
        return _proportion_power(p_t, p_c, n, alpha) - target

    n_exact = 2.0 if shortfall(2.0) >= 0 else _solve_increasing(shortfall, 2.0, 64.0)
    n_per_arm = max(2, math.ceil(n_exact - 1e-9))
    return SampleSize(
        n_per_arm=n_per_arm,
        n_exact=n_exact,
        achieved_power=_proportion_power(p_t, p_c, n_per_arm, alpha),
        power=target,
        alpha=alpha,
    )
