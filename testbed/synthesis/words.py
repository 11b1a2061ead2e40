"""Network synthesis in plain words: the pooled headline, heterogeneity, the prediction
interval, the distance to the next ESSA tier and why two districts are alike."""

from __future__ import annotations

from analysis.evidence import MIN_DISTRICTS, MIN_STUDENTS
from testbed.findings.words import number
from testbed.vocabulary import LOCALE_WORDS

# I^2 bands (Higgins & Thompson 2002 call 25 / 50 / 75 % low, moderate and high).
SIMILAR_BELOW = 0.25
VARIES_A_LOT_ABOVE = 0.75


def _students(count: int, exact: bool) -> str:
    return f"{count:,} students" if exact else f"at least {count:,} students"


def no_evidence(product: str) -> str:
    return f"There is no published evidence on {product} from the network's pilots yet."


def single_pilot(product: str, estimate: float, low: float, high: float) -> str:
    return (
        f"Only one published pilot of {product} can be pooled, so there is nothing to combine: "
        f"its own estimate is {number(estimate)} SD (95 % CI {number(low)} to {number(high)})."
    )


def pooled_headline(
    product: str,
    *,
    pilots: int,
    districts: int,
    students: int,
    students_exact: bool,
    estimate: float,
    ci: tuple[float, float],
    p: float,
) -> str:
    """One sentence: how many pilots, and the pooled effect with its interval."""
    scope = (
        f"Across {pilots} pilots in {districts} district{'s' if districts != 1 else ''} "
        f"({_students(students, students_exact)})"
    )
    low, high = ci
    interval = f"95 % CI {number(low)} to {number(high)}"
    if p >= 0.05:
        return (
            f"{scope}, we cannot tell whether {product} helped: the pooled difference was "
            f"{number(estimate)} SD ({interval})."
        )
    direction = "higher (better)" if estimate > 0 else "lower (worse)"
    return (
        f"{scope}, students using {product} did {number(abs(estimate))} SD {direction} on the "
        f"pilots' primary outcomes than similar students who did not ({interval})."
    )


def pooling_method(k: int, df: float | None) -> str:
    """How the pooled interval was computed, and with two pilots how little it says."""
    sentence = (
        "Pooled with a random-effects model (REML). The 95 % interval and the p-value use the "
        "Knapp–Hartung adjustment, truncated so that the interval is never narrower than the "
        "plain random-effects one (Knapp & Hartung 2003; Röver, Knapp & Friede 2015), with a t "
        f"distribution on {k - 1} degree{'s' if k != 2 else ''} of freedom."
    )
    if k == 2:
        sentence += (
            " With only two pilots, the spread between districts is estimated from two numbers "
            "and the interval uses a t distribution with 1 degree of freedom (12.7 standard "
            "errors either side instead of about 2): the pooled interval is very wide and says "
            "little more than the two pilots do on their own. Read each pilot's own result."
        )
    return sentence


def heterogeneity(i2: float) -> str:
    if i2 < SIMILAR_BELOW:
        return "The effect was similar across districts."
    if i2 <= VARIES_A_LOT_ABOVE:
        return "The effect varies between districts."
    return "The effect varies a lot between districts."


def prediction(interval: tuple[float, float]) -> str:
    low, high = interval
    return (
        f"In a new district like these, the effect would likely be between {number(low)} and "
        f"{number(high)} SD."
    )


def essa_distance(
    *,
    tier: int | None,
    target: int,
    students: int,
    districts: int,
    significant_favourable: bool,
) -> str:
    """What the pooled evidence lacks for tier 1 (randomized, low attrition) or tier 2
    (quasi-experiments or high-attrition trials with baseline equivalence)."""
    if tier is not None and tier <= target:
        return f"The pooled evidence already meets the rule for tier {target}."
    studies = (
        "randomized studies with low attrition"
        if target == 1
        else "quasi-experiments or randomized studies, with groups equivalent at the start"
    )
    rule = (
        f"Tier {target} needs at least {MIN_STUDENTS} students in {MIN_DISTRICTS} or more "
        f"districts in {studies} and a significant favourable effect"
    )
    missing = []
    if students < MIN_STUDENTS:
        missing.append(f"{MIN_STUDENTS - students:,} more students")
    if districts < MIN_DISTRICTS:
        more = MIN_DISTRICTS - districts
        missing.append(f"{more} more district{'s' if more != 1 else ''}")
    if not significant_favourable:
        missing.append("a pooled effect that is favourable and statistically significant")
    if not missing:
        return f"{rule}: the pooled evidence meets it."
    return f"{rule}: {' and '.join(missing)} would be needed."


def likeness(
    *,
    locale: str,
    your_locale: str,
    band: str,
    your_band: str,
    frl: float,
    your_frl: float,
    el: float,
    your_el: float,
) -> str:
    """Why a district is like yours, e.g. "also rural; 2,500–10,000 students, like yours;
    FRL 62 % vs your 58 %; English learners 8 % vs your 12 %"."""
    place = LOCALE_WORDS.get(locale, locale).lower()
    yours = LOCALE_WORDS.get(your_locale, your_locale).lower()
    parts = [f"also {place}" if locale == your_locale else f"{place}, not {yours}"]
    parts.append(f"{band}, like yours" if band == your_band else f"{band} vs your {your_band}")
    parts.append(f"FRL {100 * frl:.0f} % vs your {100 * your_frl:.0f} %")
    parts.append(f"English learners {100 * el:.0f} % vs your {100 * your_el:.0f} %")
    return "; ".join(parts)


def why_estimates_differ(
    estimate: float, pilot_estimates: list[float], groups: list[float]
) -> list[str]:
    """Why the pooled effect is not the plain average of the pilots, and why the estimates by
    group differ from it, in plain words; empty when they print alike (two decimals)."""
    sentences = []
    average = sum(pilot_estimates) / len(pilot_estimates) if pilot_estimates else estimate
    if round(average, 2) != round(estimate, 2):
        sentences.append(
            f"The pooled effect ({number(estimate)} SD) is not the plain average of the pilots' "
            f"own estimates ({number(average)} SD): pilots with more students give more precise "
            "estimates and count for more."
        )
    if any(round(group, 2) != round(estimate, 2) for group in groups):
        sentences.append(
            "The estimates by locale and by district poverty further down each rest on fewer "
            "pilots and students, so they are noisier than the pooled effect, and a difference "
            "between them can be chance."
        )
    return sentences


def breakdown_note(p: float, smallest_group: int) -> str:
    """What a breakdown's test of differences between groups may be read to say.

    A group of one pilot has no spread of its own: its estimate carries no allowance for how
    much effects vary from district to district, so the test would call ordinary differences
    between districts a difference between groups. Then nothing is claimed."""
    if smallest_group < 2:
        return (
            "At least one group has a single pilot, so this cannot tell a real difference "
            "between groups from the ordinary differences between districts."
        )
    if p < 0.05:
        return "The effect differs between these groups more than chance would explain."
    return "The difference between these groups could be chance."
