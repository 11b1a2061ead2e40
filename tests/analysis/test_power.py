"""Power, sample size and MDES against R's power.t.test and power.prop.test."""

from __future__ import annotations

import math

import pytest
from scipy import stats

from analysis.power import (
    mdes,
    power_two_proportions,
    power_two_sample,
    sample_size_two_proportions,
    sample_size_two_sample,
)


def test_power_t_test_documented_examples() -> None:
    """R ?power.t.test: power.t.test(n = 20, delta = 1) -> power = 0.8689528;
    power.t.test(power = .90, delta = 1) -> n = 22.02110. R reports one rejection region
    (strict = FALSE); the other holds about 2e-7 here."""
    assert power_two_sample(1.0, 20) == pytest.approx(0.8689528, abs=1e-6)
    assert sample_size_two_sample(1.0, power=0.90).n_exact == pytest.approx(22.02110, abs=1e-4)
    assert sample_size_two_sample(1.0, power=0.90).n_per_arm == 23


def test_power_t_test_other_published_runs() -> None:
    """power.t.test(n = 100, delta = 1, sd = 2.5) -> power = 0.8036466 (an R run published
    on ideone.com, L2w5V3B3); power.t.test(power = 0.80, delta = 1) -> n = 16.71477."""
    assert power_two_sample(1.0 / 2.5, 100) == pytest.approx(0.8036466, abs=1e-6)
    assert sample_size_two_sample(1.0, power=0.80).n_exact == pytest.approx(16.71477, abs=1e-4)


def test_small_effects_need_1571_per_arm() -> None:
    """d = 0.1 at 80 % power: about 1,571 students per arm (issue 3); the normal
    approximation 2 (z_.975 + z_.8)^2 / d^2 gives 1569.8 and the t test needs slightly more."""
    size = sample_size_two_sample(0.1)
    normal = 2 * (stats.norm.ppf(0.975) + stats.norm.ppf(0.8)) ** 2 / 0.01
    assert normal < size.n_exact < normal + 2
    assert size.n_exact == pytest.approx(1570.7, abs=0.1)
    assert size.n_per_arm == 1571
    assert size.achieved_power >= 0.8


def test_no_nan_where_scipy_noncentral_t_fails() -> None:
    """scipy.stats.nct.cdf is NaN in the far lower tail at n = 446 per arm, d = 1
    (PITFALLS.md); power must still be a number and the search must not stop there."""
    value = power_two_sample(1.0, 446)
    assert value == pytest.approx(1.0)
    assert math.isfinite(value)
    for effect in (2.0, 1.0, 0.5, 0.05, 0.01):
        size = sample_size_two_sample(effect, power=0.95)
        assert math.isfinite(size.n_exact)
        assert size.achieved_power >= 0.95


def test_power_prop_test_documented_examples() -> None:
    """R ?power.prop.test: power.prop.test(n = 50, p1 = .50, p2 = .75) -> power = 0.7401659;
    power.prop.test(p1 = .50, p2 = .75, power = .90) -> n = 76.7 (76.7069 by the closed
    form); both rejection regions are counted here, adding about 1e-6."""
    assert power_two_proportions(0.75, 0.50, 50) == pytest.approx(0.7401659, abs=5e-6)
    size = sample_size_two_proportions(0.75, 0.50, power=0.90)
    assert size.n_exact == pytest.approx(76.7, abs=0.05)
    assert size.n_per_arm == 77


def test_zero_effect_has_power_alpha() -> None:
    assert power_two_sample(0.0, 50) == pytest.approx(0.05)


def test_mdes_inverts_power() -> None:
    effect = mdes(200)
    assert power_two_sample(effect, 200) == pytest.approx(0.8, abs=1e-8)


def test_mdes_matches_blooms_multiplier() -> None:
    """Bloom (1995), Evaluation Review 19(5): for a two-sided 0.05 test with 80 % power the
    MDES is about 2.8 standard errors; with n per arm the SE of d is sqrt(2/n)."""
    assert mdes(20_000) == pytest.approx(2.8 * math.sqrt(2 / 20_000), rel=0.002)


def test_cluster_mdes_matches_bloom_2005() -> None:
    """Bloom (2005), "Randomizing groups to evaluate place-based programs": for J clusters of
    n students split evenly, MDES = M_{J-2} sqrt(4/J (rho + (1 - rho)/n)), with the
    multiplier M_{J-2} ~ t_{.975, J-2} + t_{.80, J-2}. 40 classrooms of 25, rho = 0.2."""
    clusters, size, rho = 40, 25, 0.2
    multiplier = stats.t.ppf(0.975, clusters - 2) + stats.t.ppf(0.80, clusters - 2)
    expected = multiplier * math.sqrt(4 / clusters * (rho + (1 - rho) / size))
    assert mdes(clusters // 2 * size, icc=rho, cluster_size=size) == pytest.approx(
        expected, rel=0.01
    )
    assert mdes(500, icc=rho, cluster_size=size) > mdes(500)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: power_two_sample(0.2, 1), "n_per_arm must be at least 2"),
        (lambda: power_two_sample(0.2, -10), "n_per_arm must be at least 2"),
        (lambda: power_two_sample(0.2, 50, alpha=1.5), "alpha must be strictly between"),
        (lambda: sample_size_two_sample(0.0), "effect_size is 0"),
        (lambda: sample_size_two_sample(0.3, power=0.04), "power .* must be greater than alpha"),
        (lambda: mdes(100, icc=-0.1), "icc must be a proportion"),
        (lambda: mdes(30, cluster_size=20), "clusters per arm"),
        (lambda: power_two_proportions(0.5, 0.5, 100), "no difference to detect"),
        (lambda: power_two_proportions(1.0, 0.5, 100), "p_t is exactly 1"),
    ],
)
def test_rejects_impossible_input(call, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        call()
