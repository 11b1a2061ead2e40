"""Fieller intervals and cost-effectiveness against worked examples printed by others.

Worked example 1: GraphPad QuickCalcs, "CI of a sum, difference, quotient or product"
(graphpad.com/quickcalcs/errorProp2), mean of A 14.00 (SD 3.00, N 6) divided by mean of B 7.00
(SD 2.00, N 6), unpaired, Fieller's method: ratio 2.00, 90 % CI 1.54 to 2.64, 95 % CI 1.46 to
2.83, 99 % CI 1.27 to 3.36. As printed in DCPROGS/DCSTATS, example-Fieller.ipynb
(github.com/DCPROGS/DCSTATS), which reproduces the QuickCalcs output.

Worked example 2: the same notebook's own Fieller calculation: a = 14, b = 7 taken as estimates
with standard deviations 3 and 2, r = 0, 10 degrees of freedom, t = 1.812461 (a 90 % interval):
g = 0.268164, limits 1.051413 and 4.414296.

The three shapes of the set (finite, exclusive, the whole line) follow the case analysis in von
Luxburg & Franz (2009), "A geometric approach to confidence sets for ratios: Fieller's theorem,
generalizations, and bootstrap", Statistica Sinica 19, Theorem 3.
"""

from __future__ import annotations

import math

import pytest
from scipy import stats

from analysis.cost_effectiveness import (
    Ingredient,
    clustered_mean_cost,
    constant_dollars,
    cost_effectiveness,
    fieller,
    mean_cost,
    site_cost,
)

SEM_A = 3.0 / math.sqrt(6)
SEM_B = 2.0 / math.sqrt(6)


@pytest.mark.parametrize(
    ("level", "low", "high"),
    [(0.90, 1.54, 2.64), (0.95, 1.46, 2.83), (0.99, 1.27, 3.36)],
)
def test_graphpad_quickcalcs_unpaired_ratio(level: float, low: float, high: float) -> None:
    result = fieller(14.0, 7.0, SEM_A**2, SEM_B**2, level=level, df=10)
    assert result.kind == "interval"
    assert result.ratio == pytest.approx(2.0)
    assert result.low == pytest.approx(low, abs=0.005)
    assert result.high == pytest.approx(high, abs=0.005)


def test_dcstats_fieller_example() -> None:
    result = fieller(14.0, 7.0, 3.0**2, 2.0**2, covariance=0.0, level=0.90, df=10)
    assert result.critical == pytest.approx(1.812461, abs=5e-7)
    assert result.g == pytest.approx(0.268164, abs=1e-6)  # printed to six places
    assert result.low == pytest.approx(1.051413, abs=5e-6)
    assert result.high == pytest.approx(4.414296, abs=5e-6)


def test_denominator_near_zero_gives_the_whole_line() -> None:
    """Both estimates indistinguishable from zero: every ratio is compatible."""
    result = fieller(0.1, 0.05, 1.0, 1.0)
    assert result.kind == "unbounded"
    assert result.low is None and result.high is None
    assert not result.bounded


def test_denominator_unclear_numerator_clear_gives_an_exclusive_set() -> None:
    """A clear numerator over a denominator that may be zero: large ratios of either sign."""
    result = fieller(10.0, 0.5, 1.0, 1.0)
    assert result.kind == "exclusive"
    # the gap excludes small ratios; the point estimate 20 lies outside the gap
    assert result.low < 20 or result.high > 20
    assert result.low < result.high
    # the boundary points satisfy the Fieller equality
    for theta in (result.low, result.high):
        lhs = (10.0 - theta * 0.5) ** 2
        rhs = result.critical**2 * (1.0 + theta**2 * 1.0)
        assert lhs == pytest.approx(rhs)


def test_exact_zero_denominator_has_no_ratio() -> None:
    result = fieller(1.0, 0.0, 0.1, 0.1)
    assert result.ratio is None
    assert result.kind in ("exclusive", "unbounded")


def test_fieller_refuses_impossible_input() -> None:
    with pytest.raises(ValueError, match="var_denominator must not be negative"):
        fieller(1.0, 2.0, 0.1, -0.1)
    with pytest.raises(ValueError, match="correlation"):
        fieller(1.0, 2.0, 0.1, 0.1, covariance=0.5)
    with pytest.raises(ValueError, match="level"):
        fieller(1.0, 2.0, 0.1, 0.1, level=1.5)


def test_known_cost_per_1000_is_the_effect_interval_rescaled() -> None:
    """With a cost known exactly (a single site's record), Fieller reduces to the effect's own
    interval divided by the cost in thousands: a check that needs no outside number."""
    result = cost_effectiveness(0.2, 0.05, 250.0)
    assert result.effect_per_1000 == pytest.approx(0.8)
    assert result.effect_per_1000_set.low == pytest.approx(result.effect_ci[0] / 0.25)
    assert result.effect_per_1000_set.high == pytest.approx(result.effect_ci[1] / 0.25)
    assert result.effect_ci[0] == pytest.approx(0.2 - 1.959964 * 0.05, abs=1e-6)


def test_cost_for_a_gain_only_when_the_effect_is_clearly_positive() -> None:
    shown = cost_effectiveness(0.2, 0.05, 250.0)
    assert shown.withheld is None
    assert shown.cost_for_gain == pytest.approx(125.0)
    assert shown.cost_for_gain_set.bounded
    assert shown.cost_for_gain_set.low < 125.0 < shown.cost_for_gain_set.high

    near_zero = cost_effectiveness(0.02, 0.05, 250.0)
    assert near_zero.withheld == "effect_may_be_zero"
    assert near_zero.cost_for_gain is None and near_zero.cost_for_gain_set is None

    negative = cost_effectiveness(-0.3, 0.05, 250.0)
    assert negative.withheld == "effect_negative"
    assert negative.cost_for_gain is None


def test_pooled_effect_with_uncertain_cost_uses_t_degrees_of_freedom() -> None:
    result = cost_effectiveness(0.2, 0.05, 250.0, 40.0, df=4)
    assert result.effect_ci[0] == pytest.approx(0.2 - 2.776445 * 0.05, abs=1e-6)
    gain_set = result.cost_for_gain_set
    assert gain_set.kind == "interval"
    # wider than with a known cost
    known = cost_effectiveness(0.2, 0.05, 250.0, 0.0, df=4).cost_for_gain_set
    assert gain_set.low < known.low and gain_set.high > known.high


def test_zero_cost() -> None:
    result = cost_effectiveness(0.2, 0.05, 0.0)
    assert result.effect_per_1000 is None and result.effect_per_1000_set is None
    assert result.cost_for_gain == 0.0


def test_negative_cost_is_refused() -> None:
    with pytest.raises(ValueError, match="cost_per_student must not be negative"):
        cost_effectiveness(0.2, 0.05, -10.0)
    with pytest.raises(ValueError, match="effect_se must be greater than 0"):
        cost_effectiveness(0.2, 0.0, 10.0)


INDEX = {2022: 292.655, 2023: 304.702, 2024: 313.689}


def test_constant_dollars() -> None:
    """BLS CPI-U annual averages: 2022 292.655, 2024 313.689; $100 of 2022 = $107.19 of 2024."""
    assert constant_dollars(100.0, 2022, 2024, INDEX) == pytest.approx(107.187, abs=5e-4)
    with pytest.raises(ValueError, match="no value for 2019"):
        constant_dollars(100.0, 2019, 2024, INDEX)


def test_site_cost_by_ingredients() -> None:
    items = [
        Ingredient("licences", 100, 30.0, 2024),
        Ingredient("training", 12, 50.0, 2022),
        Ingredient("devices", 0, 400.0, 2024),  # already owned: counted at zero
    ]
    result = site_cost(items, students=100, dollar_year=2024, index=INDEX)
    training = 600.0 * 313.689 / 292.655
    assert result.total == pytest.approx(3000.0 + training)
    assert result.per_student == pytest.approx((3000.0 + training) / 100)
    assert result.by_category["devices"] == 0.0
    assert site_cost(items, students=0, dollar_year=2024, index=INDEX).per_student is None
    with pytest.raises(ValueError, match="ingredient 1 unit price must not be negative"):
        site_cost([Ingredient("licences", 1, -5.0, 2024)], 10, 2024, INDEX)


def test_mean_cost_over_sites() -> None:
    mean, se = mean_cost([100.0, 200.0], [100, 100])
    assert mean == pytest.approx(150.0)
    # weighted variance with the k/(k-1) correction equals the sample variance here: 5000
    assert se == pytest.approx(math.sqrt(5000.0 / 2))
    assert mean_cost([120.0], [40]) == (120.0, 0.0)
    with pytest.raises(ValueError, match="negative"):
        mean_cost([-1.0, 2.0], [10, 10])


def test_a_given_critical_value_replaces_z_in_the_effect_interval_and_fieller() -> None:
    # A cluster trial's interval on t with 15.6 df (scipy's t quantile, 2.1237...): with a known
    # cost, Fieller's set for effect per $1,000 is that interval over the cost in thousands.
    c = float(stats.t.ppf(0.975, 15.6))
    result = cost_effectiveness(0.30, 0.145, 20.0, critical=c)
    assert result.effect_ci == pytest.approx((0.30 - c * 0.145, 0.30 + c * 0.145), abs=1e-12)
    assert result.effect_per_1000_set.low == pytest.approx((0.30 - c * 0.145) / 0.02)
    assert result.effect_per_1000_set.critical == pytest.approx(c)
    assert result.withheld == "effect_may_be_zero"  # on z (1.96) it would lie above zero
    assert cost_effectiveness(0.30, 0.145, 20.0).withheld is None


def test_clustered_mean_cost_takes_its_se_over_pilots() -> None:
    # Worked by hand: pilot A's sites cost $10 and $20 per student (50 students each), pilot B's
    # one site $40 (100 students). Pilot means 15 and 40, each over 100 students; mean 27.5.
    # Over pilots: Σ W (m - 27.5)² / Σ W = 156.25, × k/(k-1) = 312.5, / k = 156.25, SE 12.5.
    # (Over sites, as if independent, the SE would be 9.19.)
    mean, se = clustered_mean_cost([10.0, 20.0, 40.0], [50, 50, 100], [1, 1, 2])
    assert mean == pytest.approx(27.5)
    assert se == pytest.approx(12.5)
    assert mean_cost([10.0, 20.0, 40.0], [50, 50, 100])[1] == pytest.approx(9.1856, abs=1e-4)
    one_pilot = clustered_mean_cost([10.0, 20.0, 40.0], [50, 50, 100], [1, 1, 1])
    assert one_pilot == (pytest.approx(27.5), None)
