"""What the cost numbers mean, in plain words."""

from __future__ import annotations

from analysis.cost_effectiveness import CostEffectiveness, FiellerSet


def dollars(value: float | None) -> str:
    if value is None:
        return "–"
    if abs(value) >= 100:
        return f"${value:,.0f}"
    return f"${value:,.2f}"


def sd(value: float) -> str:
    return f"{value:.2f}".replace("-", "−")


def interval(result: FiellerSet, show) -> str:
    """A Fieller set in words, its ends printed by `show`."""
    percent = f"{100 * result.level:.0f} %"
    if result.kind == "interval":
        return f"{percent} CI {show(result.low)} to {show(result.high)}"
    if result.kind == "exclusive":
        return (
            f"the {percent} confidence set is unbounded: anything below {show(result.low)} or "
            f"above {show(result.high)}"
        )
    return f"the {percent} confidence set is unbounded: every value is compatible with the data"


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
        sentences.append(
            f"Each $1,000 spent per student bought {sd(result.effect_per_1000)} SD of gain "
            f"({interval(result.effect_per_1000_set, sd)})."
        )
    if result.withheld:
        sentences.append(withheld(result.withheld, result.gain, result.effect_ci))
    else:
        sentences.append(
            f"A gain of {result.gain:g} SD cost about {dollars(result.cost_for_gain)} per student "
            f"({interval(result.cost_for_gain_set, dollars)})."
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
    "effect (and of the cost, when it is a mean over sites), and they are honest when the "
    "effect may be zero (then they are unbounded). Cost and effect are treated as independent."
)
