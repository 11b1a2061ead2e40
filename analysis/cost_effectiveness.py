"""Cost-effectiveness of a product: costs by the ingredients method, and ratios of cost to effect
with honest intervals.

Costs follow the ingredients method (Levin, McEwan, Belfield, Bowden & Shand, *Economic
Evaluation in Education*, 3rd ed., 2018): every resource a site used (licences, devices,
training, setup, staff time) is a quantity times a unit price, put in constant dollars of one
year with a price index, and divided by the students who received the programme.

Ratios use Fieller's theorem (Fieller 1954, JRSS B 16:175-185): the set of every ratio θ with
(a - θ·b)² ≤ c²·(var_a - 2θ·cov + θ²·var_b), c the critical value. It is a finite interval when
the denominator is clearly away from zero (b² > c²·var_b), the whole line with a gap cut out
("exclusive") or the whole line otherwise. A ratio over an effect that may be zero therefore
has no useful interval: the caller shows the cost for a gain only when the effect's own
interval excludes zero, and says why otherwise.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from scipy import stats

from analysis import _validation as check

# The gain a superintendent prices: 0.1 standard deviations (a common benchmark in education,
# e.g. Kraft 2020, Educational Researcher 49(4), calls 0.05-0.20 SD a medium effect).
DEFAULT_GAIN = 0.1
PER_DOLLARS = 1000.0


@dataclass(frozen=True)
class FiellerSet:
    """The confidence set of a ratio. kind: "interval" (low to high), "exclusive" (everything
    except the open gap from low to high) or "unbounded" (every number)."""

    ratio: float | None  # None when the denominator is exactly zero
    kind: str
    low: float | None
    high: float | None
    g: float  # c² var_b / b²: under 1 exactly when the set is a finite interval
    critical: float
    level: float

    @property
    def bounded(self) -> bool:
        return self.kind == "interval"


def critical_value(level: float, df: float | None) -> float:
    """The two-sided critical value: Student's t on df degrees of freedom, or the normal."""
    tail = (1 + level) / 2
    return float(stats.norm.ppf(tail) if df is None else stats.t.ppf(tail, df))


def fieller(
    numerator: float,
    denominator: float,
    var_numerator: float,
    var_denominator: float,
    covariance: float = 0.0,
    level: float = 0.95,
    df: float | None = None,
    critical: float | None = None,
) -> FiellerSet:
    """Fieller's confidence set for numerator / denominator, both estimates with the given
    variances and covariance; t on `df` degrees of freedom, or the normal when df is None, or
    the given `critical` value (the one the estimate's own interval was built with)."""
    a = check.finite_number("numerator", numerator)
    b = check.finite_number("denominator", denominator)
    var_a = check.non_negative_number("var_numerator", var_numerator)
    var_b = check.non_negative_number("var_denominator", var_denominator)
    cov = check.finite_number("covariance", covariance)
    level = check.level("level", level)
    if df is not None:
        df = check.positive_number("df", df)
    if cov * cov > var_a * var_b * (1 + 1e-12):
        raise ValueError("covariance is larger than the variances allow (|correlation| > 1)")
    c = (
        critical_value(level, df)
        if critical is None
        else check.positive_number("critical", critical)
    )
    c2 = c * c
    ratio = a / b if b != 0 else None
    g = math.inf if b == 0 else c2 * var_b / (b * b)
    # θ²·A - 2θ·B + C ≤ 0
    quad_a = b * b - c2 * var_b
    quad_b = a * b - c2 * cov
    quad_c = a * a - c2 * var_a
    discriminant = quad_b * quad_b - quad_a * quad_c
    if quad_a > 0:
        root = math.sqrt(max(discriminant, 0.0))
        low, high = (quad_b - root) / quad_a, (quad_b + root) / quad_a
        return FiellerSet(ratio, "interval", low, high, g, c, level)
    if quad_a < 0 and discriminant > 0:
        root = math.sqrt(discriminant)
        first, second = sorted(((quad_b - root) / quad_a, (quad_b + root) / quad_a))
        return FiellerSet(ratio, "exclusive", first, second, g, c, level)
    return FiellerSet(ratio, "unbounded", None, None, g, c, level)


# --- ingredients ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Ingredient:
    category: str
    quantity: float
    unit_price: float
    price_year: int


@dataclass(frozen=True)
class SiteCost:
    total: float  # in constant dollars of `dollar_year`
    per_student: float | None  # None without students in the pilot arm
    by_category: dict[str, float]
    dollar_year: int


def constant_dollars(
    amount: float, from_year: int, to_year: int, index: Mapping[int, float]
) -> float:
    """`amount` dollars of `from_year` in dollars of `to_year`, by the price index's ratio."""
    amount = check.finite_number("amount", amount)
    for year in (from_year, to_year):
        if year not in index:
            known = f"{min(index)}–{max(index)}" if index else "none"
            raise ValueError(f"the price index has no value for {year} (it covers {known})")
    return amount * index[to_year] / index[from_year]


def site_cost(
    ingredients: Sequence[Ingredient],
    students: int,
    dollar_year: int,
    index: Mapping[int, float],
) -> SiteCost:
    """A site's total and per-student cost in constant dollars. Quantities and unit prices may
    be zero (a donated resource still belongs in the list, at zero) but never negative."""
    students = check.count("students", students)
    total = 0.0
    by_category: dict[str, float] = {}
    for number, item in enumerate(ingredients, start=1):
        quantity = check.non_negative_number(f"ingredient {number} quantity", item.quantity)
        price = check.non_negative_number(f"ingredient {number} unit price", item.unit_price)
        cost = constant_dollars(quantity * price, item.price_year, dollar_year, index)
        total += cost
        by_category[item.category] = by_category.get(item.category, 0.0) + cost
    return SiteCost(
        total=total,
        per_student=total / students if students else None,
        by_category=by_category,
        dollar_year=dollar_year,
    )


# --- cost-effectiveness ---------------------------------------------------------------------


@dataclass(frozen=True)
class CostEffectiveness:
    cost_per_student: float
    cost_se: float
    effect: float
    effect_se: float
    effect_ci: tuple[float, float]
    # Effect (SD) per $1,000 per student; None when the product cost nothing.
    effect_per_1000: float | None
    effect_per_1000_set: FiellerSet | None
    # Cost per student for a `gain` SD gain: only when the effect is clearly positive.
    gain: float
    cost_for_gain: float | None
    cost_for_gain_set: FiellerSet | None
    # Why cost_for_gain is not given: "effect_may_be_zero", "effect_negative" or None.
    withheld: str | None
    level: float
    df: float | None


def cost_effectiveness(
    effect: float,
    effect_se: float,
    cost_per_student: float,
    cost_se: float = 0.0,
    *,
    gain: float = DEFAULT_GAIN,
    level: float = 0.95,
    df: float | None = None,
    critical: float | None = None,
) -> CostEffectiveness:
    """Effect per $1,000 per student and cost per student for a `gain` SD gain, with Fieller
    intervals; cost and effect are taken as independent estimates (cost from site records,
    effect from outcomes). `df` gives the effect's t degrees of freedom (e.g. Knapp-Hartung's
    k - 1 for a pooled effect); the normal otherwise. `critical`, when given, replaces both:
    a published effect's interval may be built on t with degrees of freedom the caller does not
    hold (a cluster trial's), and the effect's interval and the Fieller sets must use the same
    critical value to agree."""
    effect = check.finite_number("effect", effect)
    effect_se = check.positive_number("effect_se", effect_se)
    cost = check.finite_number("cost_per_student", cost_per_student)
    if cost < 0:
        raise ValueError(
            f"cost_per_student must not be negative, got {cost_per_student!r}: a saving is "
            "not a cost (enter what was spent)"
        )
    cost_se = check.non_negative_number("cost_se", cost_se)
    gain = check.positive_number("gain", gain)
    level = check.level("level", level)
    if critical is not None:
        critical = check.positive_number("critical", critical)
    c = critical_value(level, df) if critical is None else critical
    effect_ci = (effect - c * effect_se, effect + c * effect_se)

    per_1000 = per_1000_set = None
    if cost > 0:
        thousands = cost / PER_DOLLARS
        per_1000 = effect / thousands
        per_1000_set = fieller(
            effect,
            thousands,
            effect_se**2,
            (cost_se / PER_DOLLARS) ** 2,
            level=level,
            critical=c,
        )

    withheld = None
    cost_for_gain = cost_for_gain_set = None
    if effect_ci[0] <= 0 <= effect_ci[1]:
        withheld = "effect_may_be_zero"
    elif effect < 0:
        withheld = "effect_negative"
    else:
        cost_for_gain = gain * cost / effect
        cost_for_gain_set = fieller(
            gain * cost, effect, (gain * cost_se) ** 2, effect_se**2, level=level, critical=c
        )
    return CostEffectiveness(
        cost_per_student=cost,
        cost_se=cost_se,
        effect=effect,
        effect_se=effect_se,
        effect_ci=effect_ci,
        effect_per_1000=per_1000,
        effect_per_1000_set=per_1000_set,
        gain=gain,
        cost_for_gain=cost_for_gain,
        cost_for_gain_set=cost_for_gain_set,
        withheld=withheld,
        level=level,
        df=df,
    )


def clustered_mean_cost(
    per_student: Sequence[float], students: Sequence[int], pilots: Sequence[int]
) -> tuple[float, float | None]:
    """The student-weighted mean cost per student over sites, with its standard error over
    pilots, not sites: a pilot's sites share a negotiated price and a design, so they are not
    independent draws. Each pilot's student-weighted mean cost m_j (weight W_j, its students)
    enters mean_cost as one observation: SE = √(Σ W_j (m_j − m)² / Σ W_j · k/(k − 1) / k), k
    pilots. The mean equals the sites' weighted mean. With fewer than two pilots the SE is None:
    one pilot's sites cannot say how much another pilot's price would differ."""
    costs = check.numeric_array("per_student", per_student)
    weights = check.numeric_array("students", students)
    check.same_length(("per_student", "students"), (costs, weights))
    if len(pilots) != costs.size:
        raise ValueError("pilots must give one pilot per site")
    mean, _ = mean_cost(costs, weights)
    means: list[float] = []
    totals: list[float] = []
    for pilot in dict.fromkeys(pilots):
        mine = [index for index, own in enumerate(pilots) if own == pilot]
        pilot_mean, _ = mean_cost(costs[mine], weights[mine])
        means.append(pilot_mean)
        totals.append(float(weights[mine].sum()))
    if len(means) < 2:
        return mean, None
    return mean, mean_cost(means, totals)[1]


def mean_cost(per_student: Sequence[float], students: Sequence[int]) -> tuple[float, float]:
    """The student-weighted mean cost per student over sites and its standard error (the
    weighted spread of site costs over √k; 0 for a single site, whose cost is a record, not
    a sample)."""
    costs = check.numeric_array("per_student", per_student)
    weights = check.numeric_array("students", students)
    check.same_length(("per_student", "students"), (costs, weights))
    if (costs < 0).any():
        raise ValueError("per_student must not contain negative costs")
    if (weights <= 0).any():
        raise ValueError("students must be positive for every site")
    mean = float((costs * weights).sum() / weights.sum())
    k = costs.size
    if k < 2:
        return mean, 0.0
    spread = float(((weights * (costs - mean) ** 2).sum() / weights.sum()) * k / (k - 1))
    return mean, math.sqrt(spread / k)
