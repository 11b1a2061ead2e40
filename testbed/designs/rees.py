"""A registration in the field groups of SREE's Registry of Efficacy and Effectiveness Studies
(REES), so a team can file the same plan there. docs/designs.md says where the groups come from.
"""

from __future__ import annotations

from typing import Any

from testbed import vocabulary
from testbed.designs.document import DESIGN_TYPE_WORDS, DIRECTION_WORDS, KIND_WORDS, UNIT_WORDS
from testbed.designs.power_panel import PowerPanel

REGISTRY = "Registry of Efficacy and Effectiveness Studies (REES), Society for Research on "
REGISTRY += "Educational Effectiveness"

COMPARISON_WORDS = {
    "rct": "Students randomized to the {arms} arm continue with the district's usual "
    "instruction (business as usual).",
    "cluster_rct": "Classrooms or schools randomized to the {arms} arm continue with the "
    "district's usual instruction (business as usual).",
    "quasi_experiment": "A comparison group of students not using the product, supplied by "
    "each site district and checked for baseline equivalence (WWC).",
    "pre_post": "None: a single group measured before and after.",
}


def _confirmatory_analysis(document: dict[str, Any], primary: dict[str, Any]) -> str:
    effect = (
        "Cox index (binary outcome)"
        if primary["kind"] == "binary"
        else "Hedges' g, from ANCOVA on the baseline and site fixed effects"
        if document.get("baseline_measure")
        else "Hedges' g"
    )
    if document["design_type"] == "pre_post":
        return "Paired comparison of the same students before and after; change, not impact."
    clustering = (
        " Standard errors corrected for clustering (WWC, Hedges 2007)."
        if document["design_type"] == "cluster_rct"
        else ""
    )
    return f"Effect of the {document['arms'][0]} arm on {primary['name']}: {effect}.{clustering}"


def export(
    *,
    pilot: dict[str, Any],
    version: dict[str, Any],
    power: PowerPanel,
    sites: list[dict[str, Any]],
    researchers: list[str],
) -> dict[str, Any]:
    document = version["document"]
    plan = document.get("analysis_plan") or {}
    primary = next(o for o in document["outcomes"] if o.get("primary"))
    comparison_arms = ", ".join(document["arms"][1:]) or "comparison"
    return {
        "registry": REGISTRY,
        "general_information": {
            "study_title": pilot["title"],
            "registration_date": version["registered_at"].date().isoformat(),
            "registered_at": version["registered_at"].isoformat(),
            "version": version["version"],
            "amendment_reason": version["amendment_reason"] or None,
            "sha256_of_canonical_json": version["sha256"],
            "developer": pilot["vendor_name"],
            "researchers": researchers,
        },
        "research_questions": document["research_questions"],
        "intervention": {
            "name": pilot["product_name"],
            "description": pilot["product_description"],
            "duration_weeks": pilot["weeks"],
        },
        "comparison_condition": COMPARISON_WORDS[document["design_type"]].format(
            arms=comparison_arms
        ),
        "study_design": {
            "design_type": document["design_type"],
            "design_type_words": DESIGN_TYPE_WORDS[document["design_type"]],
            "unit_of_assignment": document["unit_of_assignment"],
            "unit_of_assignment_words": UNIT_WORDS[document["unit_of_assignment"]],
            "arms": document["arms"],
            "assignment": (
                "Random assignment by the service, blocked by site (and strata), with the seed "
                "and algorithm recorded so anyone can reproduce it."
                if document["design_type"] in ("rct", "cluster_rct")
                else "Not randomized."
            ),
        },
        "sample_and_setting": {
            "planned_sites": document["planned_sites"],
            "planned_students_per_site": document["planned_students_per_site"],
            "planned_students": document["planned_sites"] * document["planned_students_per_site"],
            "grades": [vocabulary.GRADE_WORDS.get(g, g) for g in pilot["grades"]],
            "subjects": [vocabulary.SUBJECT_WORDS.get(s, s) for s in pilot["subjects"]],
            "start_window": pilot["start_window"],
            "sites": [{"district": s["name"], "state": s["state"]} for s in sites],
            "country": "United States",
        },
        "outcomes": [
            {
                "name": o["name"],
                "label": o["label"],
                "role": "confirmatory (primary)" if o.get("primary") else "exploratory (secondary)",
                "kind": KIND_WORDS[o["kind"]],
                "direction": DIRECTION_WORDS[o["direction"]],
                "measure": o.get("instrument", ""),
                "unit": o.get("unit", ""),
                "range": [o.get("min"), o.get("max")],
            }
            for o in document["outcomes"]
        ],
        "baseline_measure": document.get("baseline_measure"),
        "subgroups": [vocabulary.SUBGROUP_WORDS.get(c, c) for c in document.get("subgroups", [])],
        "analysis_plan": {
            "confirmatory_analysis": _confirmatory_analysis(document, primary),
            "covariates": plan.get("covariates", []),
            "missing_data": plan.get("missing_data", ""),
            "alpha": plan.get("alpha", 0.05),
            "multiple_comparisons": (
                "Benjamini-Hochberg adjustment for secondary outcomes and subgroups; the primary "
                "outcome is tested without adjustment."
            ),
        },
        "power_analysis": {
            "minimum_meaningful_effect_sd": document["minimum_meaningful_effect"],
            "minimum_detectable_effect_sd": power.mdes,
            "power_at_minimum_meaningful_effect": power.power_at_mme,
            "icc": document.get("icc") if document["design_type"] == "cluster_rct" else None,
            "design_effect": power.design_effect,
            "students_for_80_percent_power": power.students_for_80_percent_power,
            "statement": " ".join(power.sentences),
        },
    }
