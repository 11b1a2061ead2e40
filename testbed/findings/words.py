"""A finding in plain words: the headline sentence and what weakens the result.

Written for a superintendent, not a statistician: effects in standard deviations with their
95 % interval, percentile points, and the probability that the product helped. Directions
are respected: for an outcome where lower is better (days absent), "fewer" is the good news.
"""

from __future__ import annotations

from typing import Any

from analysis.evidence import MIN_DISTRICTS, MIN_STUDENTS

UNIT_WORDS = {"classroom": "classrooms", "school": "schools"}


# A number that is not zero never prints as zero: up to this many decimals are added until a
# digit shows (a bound of −0.0035 prints −0.004, not 0.00, beside a claim about its sign).
MAX_DECIMALS = 6
# p-values below this print as "< 0.001", never "0.000".
SMALLEST_P_SHOWN = 0.001


def number(value: float, digits: int = 2) -> str:
    """A signed number with a true minus sign (−0.12), as the pages print it.

    A value that is not zero but would round to zero gets more decimals (up to MAX_DECIMALS),
    so its sign is never lost; beyond that it prints as "< 0.000001" or "> −0.000001"."""
    places = digits
    text = f"{value:.{places}f}"
    while value != 0 and _all_zero(text) and places < MAX_DECIMALS:
        places += 1
        text = f"{value:.{places}f}"
    if _all_zero(text):
        if value > 0:
            return f"< {1 / 10**MAX_DECIMALS:.{MAX_DECIMALS}f}"
        if value < 0:
            return f"> −{1 / 10**MAX_DECIMALS:.{MAX_DECIMALS}f}"
        text = text.lstrip("-")
    return text.replace("-", "−")


def better(direction: str, g: float, ci: list[float]) -> tuple[float, float, float]:
    """An effect and its 95 % interval turned so that positive means better for students (an
    outcome where lower is better, such as days absent, flips sign). Every page, plot and
    export shows effects this way; only the network's research export keeps them as measured."""
    sign = -1.0 if direction == "lower_is_better" else 1.0
    low, high = sorted(sign * bound for bound in ci)
    return sign * g, low, high


def _all_zero(text: str) -> bool:
    return text.lstrip("-").strip("0.") == ""


def p_value(p: float) -> str:
    """A p-value to three decimals, "< 0.001" when it would print as 0.000."""
    if p < SMALLEST_P_SHOWN:
        return f"< {SMALLEST_P_SHOWN}"
    return f"{p:.3f}"


def p_equals(p: float) -> str:
    """ "p = 0.042" or "p < 0.001", for running text."""
    text = p_value(p)
    return f"p {text}" if text.startswith("<") else f"p = {text}"


def share(probability: float) -> str:
    """A probability in whole percent, never rounded to a certainty it is not."""
    percent = round(100 * probability)
    if percent == 100 and probability < 1:
        return "more than 99 %"
    if percent == 0 and probability > 0:
        return "less than 1 %"
    return f"{percent} %"


def districts_in_estimate(results: dict[str, Any]) -> tuple[int, int]:
    """(districts whose students are in the headline estimate, districts that sent only totals
    and are not). Results stored before the estimate's sites were kept count every district."""
    data = results["data"]
    if "estimate_sites" not in data:
        return data["sites"], 0
    return len(data["estimate_sites"]), data["sites"] - len(data["estimate_sites"])


def primary_outcome(results: dict[str, Any]) -> dict[str, Any] | None:
    return next((o for o in results.get("outcomes", []) if o["primary"]), None)


def _interval(low: float, high: float) -> str:
    return f"95 % CI {number(low)} to {number(high)}"


def headline(results: dict[str, Any], product: str) -> str:
    """One sentence about the primary outcome."""
    primary = primary_outcome(results)
    if primary is None:
        return "There is no result yet: the registered primary outcome has no data."
    effect = primary["headline"]
    label = primary["label"]
    if effect is None:
        return f"The {label} could not be compared between the groups; see the details below."
    g, (low, high) = effect["g"], effect["ci"]
    if results["design"]["design_type"] == "pre_post":
        direction = "higher" if g >= 0 else "lower"
        return (
            f"Students who used {product} ended the pilot {number(abs(g))} standard deviations "
            f"{direction} on the {label} than they started ({_interval(low, high)}); with no "
            "comparison group, this does not show that the product caused the change."
        )
    favourable, fav_low, fav_high = better(primary["direction"], g, effect["ci"])
    lower_is_better = primary["direction"] == "lower_is_better"
    alpha = results["design"]["alpha"]
    posterior = primary.get("posterior")
    if effect["p"] >= alpha:
        sentence = (
            f"We cannot tell whether {product} helped: on the {label}, the estimated difference "
            f"was {number(favourable)} SD ({_interval(fav_low, fav_high)})"
        )
        if posterior is not None:
            threshold = number(posterior["threshold"])
            chance = share(posterior["prob_above_threshold"])
            sentence += (
                f"; the probability of a meaningful benefit (more than {threshold} SD) is {chance}"
            )
        return sentence + "."
    direction = "higher" if g > 0 else "lower"
    low_words, high_words = (low, high) if g > 0 else (-high, -low)
    verb = "scored" if primary["kind"] == "continuous" else "had"
    outcome_words = f"on the {label}" if verb == "scored" else f"{label} results"
    judgement = (
        ""
        if primary["kind"] == "continuous" and not lower_is_better
        else (" (better)" if favourable > 0 else " (worse)")
    )
    points = abs(primary["improvement_index"] or 0.0)
    core = (
        f"{verb} {number(abs(g))} standard deviations {direction}{judgement} {outcome_words} "
        f"than similar students who did not ({_interval(low_words, high_words)}), "
        f"about {points:.0f} percentile points"
    )
    if favourable > 0:
        sentence = f"Students who used {product} {core}"
        if posterior is not None:
            sentence += (
                f"; the probability of a positive effect is {share(posterior['prob_positive'])}"
            )
    else:
        sentence = f"Students who used {product} did worse: they {core}"
        if posterior is not None:
            harm = 1.0 - posterior["prob_positive"]
            sentence += f"; the probability that it harmed them is {share(harm)}"
    return sentence + "."


def weaknesses(results: dict[str, Any]) -> list[str]:
    """What weakens this result, most serious first, in plain words."""
    found: list[str] = []
    design = results["design"]
    design_type = design["design_type"]
    primary = primary_outcome(results)
    if design_type == "pre_post":
        found.append(
            "There was no comparison group: the same students were measured before and after, "
            "so growth that would have happened anyway counts as if the product caused it."
        )
    if design_type == "quasi_experiment":
        found.append(
            "Students were not assigned to the product at random: the groups may differ in ways "
            "the baseline score does not capture."
        )
    attrition = primary and primary.get("attrition")
    if attrition and attrition["rating"] == "high" and attrition["overall"] is None:
        found.append(
            "Many students who started were not measured at the end: by the What Works "
            "Clearinghouse standard, attrition is high."
        )
    elif attrition and attrition["rating"] == "high":
        found.append(
            f"Many students who started were not measured at the end ({share(attrition['overall'])}"
            f" overall, {100 * attrition['differential']:.1f} percentage points more in one group "
            "than the other): by the What Works Clearinghouse standard, attrition is high."
        )
    baseline = results.get("baseline")
    if baseline:
        if baseline["rating"] == "not_satisfied":
            found.append(
                f"The groups were not comparable at the start (a baseline difference of "
                f"{number(baseline['g'])} SD, more than the 0.25 SD the standard allows)."
            )
        elif baseline["rating"] == "requires_adjustment" and not baseline["adjusted"]:
            found.append(
                f"The groups differed at the start ({number(baseline['g'])} SD) and the estimate "
                "was not adjusted for it."
            )
    cluster = primary and primary.get("cluster")
    if cluster:
        unit = UNIT_WORDS.get(design.get("unit_of_assignment") or "", "groups")
        found.append(
            f"Whole {unit} were assigned ({cluster['n_clusters']} in all), and students in the "
            f"same one resemble each other; {CLUSTER_METHOD_WORDS[cluster.get('method', 'wwc')]}"
        )
    essa = results.get("essa")
    if essa is not None:
        students, districts = essa["students"], districts_in_estimate(results)[0]
        if students is None:  # hidden outside the district: a group of fewer than 10 in it
            found.append(
                "A small pilot: some of its groups have fewer than 10 students (their sizes are "
                f"not shown). Federal evidence rules ask for at least {MIN_STUDENTS} students in "
                f"at least {MIN_DISTRICTS} districts."
            )
        elif students < MIN_STUDENTS or districts < MIN_DISTRICTS:
            found.append(
                f"A small pilot: {students} students in {districts} district(s). Federal evidence "
                f"rules ask for at least {MIN_STUDENTS} students in at least {MIN_DISTRICTS} "
                "districts."
            )
    for deviation in results.get("deviations", []):
        found.append(f"Departure from the registered plan: {deviation}")
    if primary:
        for note in primary.get("notes", []):
            if "disagree" in note or "only totals" in note:
                found.append(note)
    return found


# How a finding allowed for clustering, in words (the key is results' cluster "method").
CLUSTER_METHOD_WORDS = {
    "cr2": (
        "the estimate comes from the students' own rows with cluster-robust standard errors "
        "(CR2, with degrees of freedom set by the number of clusters; Bell & McCaffrey 2002, "
        "Pustejovsky & Tipton 2018), keeping the adjustment for the baseline, which widens the "
        "uncertainty to what the clusters allow."
    ),
    "design_effect": (
        "the Cox index's variance was multiplied by the design effect 1 + (m − 1) × ICC, with "
        "the ICC estimated from the students' own rows, which widens the uncertainty."
    ),
    "wwc": (
        "only totals per group arrived, so the What Works Clearinghouse clustering correction "
        "(Hedges 2007) was applied with an assumed intraclass correlation, which widens the "
        "uncertainty."
    ),
}


def subgroup_caution() -> str:
    return (
        "Subgroup results are leads to follow up, not conclusions: many comparisons are made, "
        "and each subgroup is smaller than the whole pilot."
    )


def _shown(value: float) -> float:
    """A number as the page prints it (two decimals): estimates that print alike are alike."""
    return round(value, 2)


def why_estimates_differ(results: dict[str, Any]) -> list[str]:
    """Why the headline is not the plain difference between the groups' averages, and why the
    subgroup estimates are not the headline, in plain words; empty when they agree."""
    primary = primary_outcome(results)
    if primary is None or primary.get("headline") is None:
        return []
    headline = primary["headline"]
    sign = -1.0 if primary["direction"] == "lower_is_better" else 1.0
    sentences: list[str] = []
    plain = primary.get("effect")
    adjusted = headline.get("source", "").startswith("ancova")
    if adjusted and plain and _shown(sign * plain["g"]) != _shown(headline["favourable_g"]):
        sentence = (
            f"The headline ({number(headline['favourable_g'])} SD) is not the plain difference "
            f"between the two groups' averages ({number(sign * plain['g'])} SD): it allows for "
            "where each student started (the baseline score)."
        )
        baseline = results.get("baseline")
        if baseline and _shown(baseline["g"]) != 0:
            higher = "higher" if baseline["g"] > 0 else "lower"
            sentence += (
                " The two groups did not start in the same place: the students who used the "
                f"product started {number(abs(baseline['g']))} SD {higher} on the baseline than "
                "the comparison students, and the headline takes that difference out."
            )
        else:
            sentence += " Allowing for it also makes the estimate more precise."
        sentences.append(sentence)
    levels = [
        level["g"]
        for subgroup in results.get("subgroups") or []
        for level in subgroup["levels"]
        if level.get("g") is not None
    ]
    if any(_shown(g) != _shown(headline["g"]) for g in levels):
        sentence = (
            "The subgroup estimates further down differ from the headline because each subgroup "
            "is a smaller group of students, so its estimate is noisier"
        )
        if adjusted:
            sentence += (
                ", and they are plain differences in averages, without allowing for where "
                "students started"
            )
        sentences.append(sentence + ".")
    return sentences
