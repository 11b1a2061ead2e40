"""An ESSA evidence tier indicator, with the reasons behind it.

The Every Student Succeeds Act (section 8101(21)(A)) and the U.S. Department of
Education's non-regulatory guidance "Using Evidence to Strengthen Education Investments"
(2016) define four tiers:
1 strong: a well-designed randomized controlled trial (WWC standards without
  reservations, here: low attrition) with a statistically significant favourable effect,
  in a large (at least 350 students) multi-site (at least 2 districts) sample;
2 moderate: the same with a quasi-experiment, or a randomized trial with high
  attrition, whose groups were equivalent at baseline (WWC with reservations);
3 promising: a correlational study with statistical controls for selection bias and a
  statistically significant favourable effect;
4 demonstrates a rationale: a logic model grounded in research, and a study under way.
This is an indicator computed from one pilot, not a certification: the guidance also
asks that no strong negative findings exist elsewhere, which one pilot cannot show.
"""

from __future__ import annotations

from dataclasses import dataclass

from analysis import _validation as check

DESIGNS = ("rct", "cluster_rct", "quasi_experiment", "correlational", "pre_post", "none")
MIN_STUDENTS = 350
MIN_DISTRICTS = 2
_RANDOMIZED = ("rct", "cluster_rct")
_DESIGN_NAMES = {
    "rct": "A randomized controlled trial",
    "cluster_rct": "A cluster randomized trial",
    "quasi_experiment": "A quasi-experiment (matched comparison group)",
    "correlational": "A correlational study",
    "pre_post": "A single-group pre/post study",
    "none": "No outcome study",
}


@dataclass(frozen=True)
class EssaTier:
    tier: int | None
    reasons: list[str]


def essa_tier(
    design: str,
    effect_size: float | None = None,
    p_value: float | None = None,
    n_students: int = 0,
    n_districts: int = 0,
    attrition: str | None = None,
    baseline_equivalence: str | None = None,
    adjusted_for_baseline: bool = False,
    controls_for_selection: bool = False,
    has_rationale: bool = False,
    study_underway: bool = False,
    alpha: float = 0.05,
) -> EssaTier:
    """The highest ESSA tier the pilot's evidence indicates, with plain-English reasons.

    effect_size must be oriented so that positive means favourable (better for students).
    attrition is the WWC rating ("low"/"high") for randomized designs; baseline_equivalence
    the WWC category from analysis.wwc.baseline_equivalence.
    """
    design = check.choice("design", design, DESIGNS)
    if attrition is not None:
        check.choice("attrition", attrition, ("low", "high"))
    if baseline_equivalence is not None:
        check.choice(
            "baseline_equivalence",
            baseline_equivalence,
            ("satisfied", "requires_adjustment", "not_satisfied"),
        )
    n_students = check.count("n_students", n_students)
    n_districts = check.count("n_districts", n_districts)
    alpha = check.level("alpha", alpha)
    flags = {
        "adjusted_for_baseline": adjusted_for_baseline,
        "controls_for_selection": controls_for_selection,
        "has_rationale": has_rationale,
        "study_underway": study_underway,
    }
    for name, flag in flags.items():
        if not isinstance(flag, bool):
            raise ValueError(f"{name} must be True or False, got {flag!r}")

    reasons: list[str] = []
    significant_favourable = _effect_reason(effect_size, p_value, alpha, reasons)
    large_sample = n_students >= MIN_STUDENTS and n_districts >= MIN_DISTRICTS
    if design != "none":
        reasons.append(_sample_reason(n_students, n_districts, large_sample))

    randomized = design in _RANDOMIZED
    low_attrition = randomized and attrition == "low"
    equivalent = baseline_equivalence == "satisfied" or (
        baseline_equivalence == "requires_adjustment" and adjusted_for_baseline
    )
    reasons.append(
        _design_reason(design, attrition, baseline_equivalence, adjusted_for_baseline, equivalent)
    )

    tier: int | None = None
    if significant_favourable and large_sample and low_attrition:
        tier = 1
    elif (
        significant_favourable
        and large_sample
        and equivalent
        and (design == "quasi_experiment" or (randomized and not low_attrition))
    ):
        tier = 2
    elif significant_favourable and (
        randomized
        or (
            design in ("quasi_experiment", "correlational")
            and (controls_for_selection or adjusted_for_baseline or equivalent)
        )
    ):
        tier = 3
    elif has_rationale and study_underway:
        tier = 4

    reasons.append(_verdict(tier, has_rationale, study_underway))
    reasons.append(
        "This is an indicator, not a certification: ESSA also asks that no strong negative "
        "findings exist from other studies of the same intervention."
    )
    return EssaTier(tier=tier, reasons=reasons)


def _p_text(p: float) -> str:
    """ "p = 0.042", or "p < 0.001" where three decimals would print 0.000."""
    return "p < 0.001" if p < 0.001 else f"p = {p:.3f}"


def _effect_reason(
    effect_size: float | None, p_value: float | None, alpha: float, reasons: list[str]
) -> bool:
    if effect_size is None or p_value is None:
        reasons.append("No effect estimate with a p-value was given.")
        return False
    effect = check.finite_number("effect_size", effect_size)
    p = check.probability("p_value", p_value)
    if effect <= 0:
        reasons.append(f"The effect ({effect:+.2f} SD) is not favourable.")
        return False
    if p >= alpha:
        reasons.append(
            f"The favourable effect ({effect:+.2f} SD) is not statistically significant "
            f"({_p_text(p)}, not below {alpha:g})."
        )
        return False
    reasons.append(
        f"The effect ({effect:+.2f} SD) is favourable and statistically significant "
        f"({_p_text(p)}, below {alpha:g})."
    )
    return True


def _sample_reason(n_students: int, n_districts: int, large_sample: bool) -> str:
    described = f"{n_students} students in {n_districts} district(s)"
    if large_sample:
        return (
            f"The sample of {described} meets the ESSA rule for tiers 1 and 2 "
            f"(at least {MIN_STUDENTS} students and at least {MIN_DISTRICTS} districts)."
        )
    return (
        f"The sample of {described} is too small for tiers 1 and 2, which need at least "
        f"{MIN_STUDENTS} students in at least {MIN_DISTRICTS} districts."
    )


def _design_reason(
    design: str,
    attrition: str | None,
    baseline_equivalence: str | None,
    adjusted: bool,
    equivalent: bool,
) -> str:
    name = _DESIGN_NAMES[design]
    if design in _RANDOMIZED:
        if attrition == "low":
            return f"{name} with low attrition by the WWC standard."
        if attrition is None:
            state = "attrition not yet rated, so it counts as high"
        else:
            state = "high attrition by the WWC standard"
        if equivalent:
            return f"{name} with {state}; the groups were equivalent at baseline."
        return f"{name} with {state}; baseline equivalence was not shown."
    if design == "quasi_experiment":
        if equivalent:
            adjustment = (
                " after adjustment" if baseline_equivalence == "requires_adjustment" else ""
            )
            return f"{name} whose groups were equivalent at baseline{adjustment}."
        if baseline_equivalence == "requires_adjustment" and not adjusted:
            return (
                f"{name} whose baseline difference needs a statistical adjustment it did not get."
            )
        return f"{name} that did not show baseline equivalence."
    if design == "correlational":
        return f"{name}; tiers 1 and 2 need a randomized trial or a quasi-experiment."
    if design == "pre_post":
        return f"{name} has no comparison group, so it cannot show an effect for tiers 1 to 3."
    return f"{name}: only tier 4 is possible."


def _verdict(tier: int | None, has_rationale: bool, study_underway: bool) -> str:
    if tier == 1:
        return "Indicated tier: 1 (strong evidence)."
    if tier == 2:
        return "Indicated tier: 2 (moderate evidence)."
    if tier == 3:
        return "Indicated tier: 3 (promising evidence)."
    if tier == 4:
        return "Indicated tier: 4 (demonstrates a rationale, with a study under way)."
    missing = []
    if not has_rationale:
        missing.append("a research-based rationale (logic model)")
    if not study_underway:
        missing.append("a study under way")
    return "No tier is indicated; tier 4 would need " + " and ".join(missing) + "."
