"""What the cost numbers mean, in plain words."""

from __future__ import annotations

from analysis.cost_effectiveness import PER_DOLLARS, CostEffectiveness, FiellerSet
from testbed.vocabulary import BAND_WORDS


def dollars(value: float | None) -> str:
    if value is None:
        return "–"
    if 0 < abs(value) < 0.005:
        return "less than $0.01" if value > 0 else "less than −$0.01"
    if abs(value) >= 100:
        return f"${value:,.0f}"
    return f"${value:,.2f}"


def sd(value: float) -> str:
    return f"{value:.2f}".replace("-", "−")


def interval(result: FiellerSet, show, denominator: str = "the cost per student") -> str:
    """A Fieller set in words, its ends printed by `show`. A set that is not a finite interval
    is described, never printed as one: its "ends" are not bounds (an exclusive set is
    everything outside them), and the cause is the denominator's uncertainty."""
    percent = f"{100 * result.level:.0f} %"
    if result.kind == "interval":
        return f"{percent} CI {show(result.low)} to {show(result.high)}"
    return (
        f"no useful {percent} interval: {denominator} is too uncertain to divide by (its own "
        "interval comes close to zero), so ratios of any size fit the data"
    )


def withheld(reason: str, gain: float, effect_ci: tuple[float, float]) -> str:
    low, high = effect_ci
    if reason == "effect_negative":
        return (
            f"No cost for a {gain:g} SD gain is shown: students who used the product did worse "
            f"(95 % CI {sd(low)} to {sd(high)} SD), so spending on it buys no gain."
        )
    return (
        f"No cost for a {gain:g} SD gain is shown: the effect's 95 % interval ({sd(low)} to "
        f"{sd(high)} SD) includes zero, and a cost divided by an effect that may be zero has no "
        "useful interval (any amount, however large, fits the data)."
    )


def cost_effectiveness(result: CostEffectiveness, dollar_year: int) -> list[str]:
    sentences = [
        f"It cost {dollars(result.cost_per_student)} per student (in {dollar_year} dollars)."
    ]
    if result.effect_per_1000 is None:
        sentences.append(
            "It cost nothing per student, so an effect per $1,000 does not apply: any gain it "
            "brings is free."
        )
    else:
        # Tied to what was spent: "per $1,000" is a rate, not what $1,000 would buy.
        sentences.append(
            f"The effect was {sd(result.effect)} SD for {dollars(result.cost_per_student)} per "
            f"student; as a ratio, {sd(result.effect_per_1000)} SD per $1,000 per student "
            f"({interval(result.effect_per_1000_set, sd)})."
        )
        if result.cost_per_student < PER_DOLLARS / 10:
            sentences.append(
                "The ratio is a rate, not a forecast: no pilot spent anywhere near $1,000 per "
                "student, and spending more would not be expected to buy proportionally more."
            )
    if result.withheld:
        sentences.append(withheld(result.withheld, result.gain, result.effect_ci))
    else:
        sentences.append(
            f"As a ratio, a gain of {result.gain:g} SD came to about "
            f"{dollars(result.cost_for_gain)} per student "
            f"({interval(result.cost_for_gain_set, dollars, 'the effect')})."
        )
    return sentences


def not_pooled(reason: str | None) -> str:
    return f"Not combined with the others: {reason}." if reason else "Not combined."


def no_pooled_effect() -> str:
    return (
        "No cost-effectiveness yet: the product has no published pilot with an effect estimate "
        "on its primary outcome."
    )


def no_cost() -> str:
    return (
        "No cost-effectiveness yet: the vendor has not stated a list price per student, and "
        "fewer than three pilot sites have entered their costs."
    )


METHOD = (
    "Intervals for ratios are by Fieller's theorem: they account for the uncertainty of the "
    "effect (and of the cost, when it is a mean over sites). When the number divided by is too "
    "uncertain (its own interval comes close to zero), no useful interval exists and the page "
    "says so instead of printing one. Cost and effect are treated as independent."
)


def district_plan(plan, pooled_pilots) -> list[str]:
    """What a product would cost one district and what it would likely buy."""
    name, product = plan.district["name"], plan.product["name"]
    if plan.serves_none:
        bands = ", ".join(
            BAND_WORDS.get(band, band).lower() for band in plan.product["grade_bands"]
        )
        return [
            f"{name} serves none of the grades {product} is for ({bands}), so it has no "
            "students to cost and no likely effect to show. Give your own count of students "
            "to cost it anyway."
        ]
    sentences = []
    if plan.students_estimated:
        grades = len(plan.grades)
        sentences.append(
            f"{name} has about {plan.students:,} students in the {grades} grade"
            f"{'' if grades == 1 else 's'} {product} serves (its enrolment shared equally "
            "across the grades it serves; give your own count to replace the estimate)."
        )
    if plan.price is None:
        sentences.append(f"{product} has no list price yet, so its cost cannot be worked out.")
    elif plan.total is None:
        sentences.append(
            f"{product}'s list price is per site, and its pilots do not say how many students a "
            "site plans, so it cannot be put per student."
        )
    elif plan.price["basis"] == "per_student":
        sentences.append(
            f"At the list price, {product} would cost {name} about {dollars(plan.total)} a year "
            f"({dollars(plan.per_student)} per student, {plan.dollar_year} dollars) before any "
            "discount, and before devices, training and staff time."
        )
    else:
        sentences.append(
            f"The list price is {dollars(plan.price['constant'])} per site a year; spread over "
            f"the {plan.site_students:,.0f} students a pilot site plans (as on the product's "
            f"cost page), that is {dollars(plan.per_student)} per student, so about "
            f"{dollars(plan.total)} a year for {plan.students:,} students ({plan.dollar_year} "
            "dollars), before any discount, devices, training and staff time."
        )
    if plan.prediction is not None:
        low, high = plan.prediction
        wider = high - low > (plan.pooled[1] - plan.pooled[0]) * (1 + 1e-9)
        why = (
            "it includes how much districts differed from each other, so it is wider than the "
            "pooled average's interval"
            if wider
            else "here it is no wider than the pooled average's interval, because the pilots' "
            "results differed no more than chance alone would make them"
        )
        sentence = (
            f"What it would likely buy: across {plan.k} pilots, the effect in a new district "
            f"like yours would probably fall between {sd(low)} and {sd(high)} SD (95 % "
            f"prediction interval: {why})."
        )
        if plan.k == 2:
            sentence += (
                " With only two pilots, how much districts differ cannot be estimated, so a new "
                "district's result may well fall outside this range."
            )
        if low <= 0:
            sentence += " It includes zero: in your district the product might make no difference."
        sentences.append(sentence)
    elif len(pooled_pilots) == 1:
        only = pooled_pilots[0]
        sentences.append(
            f"Only one pilot has measured its effect ({sd(only.estimate)} SD, 95 % CI "
            f"{sd(only.ci[0])} to {sd(only.ci[1])}): one district's result cannot say how much "
            "another district's would differ."
        )
    else:
        sentences.append("No published pilot has measured what it buys yet.")
    return sentences


def comparison_caveats() -> list[str]:
    return [
        "Effects are in standard deviations of each pilot's own test; the same number on two "
        "different tests is not exactly the same gain.",
        "Costs are list prices unless at least three sites entered what they actually spent; "
        "list prices leave out devices, training and staff time.",
        "Each product was piloted in different districts: a product tried only in well-resourced "
        "districts may do less well in yours.",
        "With few pilots, the intervals are wide; overlapping intervals mean the data cannot "
        "tell the products apart.",
        "Randomized pilots are the most trustworthy; matched-comparison pilots can be swayed by "
        "differences between the groups that no one measured.",
    ]
