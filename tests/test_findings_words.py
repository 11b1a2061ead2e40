"""The plain-language headline and "what weakens this result", on hand-made results."""

from __future__ import annotations

import copy

from testbed.findings import words

BASE = {
    "design": {
        "design_type": "rct",
        "alpha": 0.05,
        "unit_of_assignment": "student",
        "minimum_meaningful_effect": 0.2,
    },
    "data": {"sites": 3},
    "essa": {"tier": 1, "reasons": [], "students": 900},
    "baseline": {"g": 0.01, "rating": "satisfied", "adjusted": True},
    "deviations": [],
    "outcomes": [
        {
            "name": "math",
            "label": "spring math test",
            "kind": "continuous",
            "primary": True,
            "direction": "higher_is_better",
            "headline": {
                "g": 0.21,
                "se": 0.08,
                "ci": [0.05, 0.37],
                "p": 0.01,
                "favourable_g": 0.21,
            },
            "improvement_index": 8.3,
            "posterior": {
                "prob_positive": 0.99,
                "prob_above_threshold": 0.55,
                "threshold": 0.2,
            },
            "attrition": {"rating": "low", "overall": 0.08, "differential": 0.01},
            "cluster": None,
            "notes": [],
        }
    ],
}


def _results(**changes):
    results = copy.deepcopy(BASE)
    primary = results["outcomes"][0]
    for key, value in changes.items():
        if key in ("design_type",):
            results["design"][key] = value
        elif key in ("headline", "direction", "kind", "attrition", "cluster", "posterior"):
            merged = {**primary[key], **value} if isinstance(primary[key], dict) else value
            primary[key] = merged
        else:
            results[key] = value
    return results


def test_a_favourable_significant_effect():
    assert words.headline(_results(), "MathQuest Adaptive") == (
        "Students who used MathQuest Adaptive scored 0.21 standard deviations higher on the "
        "spring math test than similar students who did not (95 % CI 0.05 to 0.37), about 8 "
        "percentile points; the probability of a positive effect is 99 %."
    )


def test_a_null_result_says_we_cannot_tell():
    results = _results(
        headline={"g": 0.02, "ci": [-0.12, 0.16], "p": 0.78, "favourable_g": 0.02},
        posterior={"prob_above_threshold": 0.01},
    )
    sentence = words.headline(results, "MathQuest")
    assert sentence.startswith("We cannot tell whether MathQuest helped")
    assert "0.02 SD (95 % CI −0.12 to 0.16)" in sentence
    assert "meaningful benefit (more than 0.20 SD) is 1 %" in sentence


def test_a_harmful_result_is_said_plainly():
    results = _results(
        headline={"g": -0.16, "ci": [-0.25, -0.07], "p": 0.001, "favourable_g": -0.16},
        posterior={"prob_positive": 0.01},
    )
    sentence = words.headline(results, "ReadQuest")
    assert sentence.startswith("Students who used ReadQuest did worse: they scored 0.16")
    assert "lower on the spring math test" in sentence and "(95 % CI 0.07 to 0.25)" in sentence
    assert "the probability that it harmed them is 99 %" in sentence


def test_lower_is_better_reads_fewer_as_good_news():
    results = _results(
        kind="count",
        direction="lower_is_better",
        headline={"g": -0.3, "ci": [-0.5, -0.1], "p": 0.003, "favourable_g": 0.3},
    )
    results["outcomes"][0]["label"] = "days absent"
    sentence = words.headline(results, "AttendWell")
    assert "0.30 standard deviations lower (better) days absent results" in sentence
    assert "did worse" not in sentence


def test_pre_post_never_claims_an_effect():
    sentence = words.headline(_results(design_type="pre_post"), "LiteracyLoop")
    assert "than they started" in sentence and "does not show that the product caused" in sentence


def test_a_clean_large_trial_has_no_weaknesses():
    assert words.weaknesses(_results()) == []


def test_every_weakness_is_named():
    results = _results(
        design_type="quasi_experiment",
        attrition={"rating": "high", "overall": 0.3, "differential": 0.08},
        cluster={"n_clusters": 12},
        baseline={"g": 0.4, "rating": "not_satisfied", "adjusted": True},
        deviations=["The primary outcome was changed."],
    )
    results["essa"]["students"] = 200
    results["data"]["sites"] = 1
    found = " ".join(words.weaknesses(results))
    for expected in (
        "not assigned to the product at random",
        "attrition is high",
        "not comparable at the start",
        "Whole groups were assigned (12 in all)",
        "A small pilot: 200 students in 1 district(s)",
        "Departure from the registered plan: The primary outcome was changed.",
    ):
        assert expected in found
    assert "no comparison group" in " ".join(words.weaknesses(_results(design_type="pre_post")))


def test_probabilities_are_never_rounded_to_certainty():
    assert words.share(0.9996) == "more than 99 %"
    assert words.share(0.0004) == "less than 1 %"
    assert (words.share(1.0), words.share(0.0), words.share(0.5)) == ("100 %", "0 %", "50 %")


def test_numbers_use_a_true_minus_and_no_negative_zero():
    assert words.number(-0.123) == "−0.12"
    assert words.number(0.0) == "0.00" and words.number(-0.0) == "0.00"


def test_a_number_that_is_not_zero_never_prints_as_zero():
    """Issue 16: a bound of −0.0035 printed as "0.00" beside a claim that depends on its sign.
    A value that would round to zero gets the decimals that show its sign."""
    assert words.number(-0.0035) == "−0.004"
    assert words.number(-0.001) == "−0.001"
    assert words.number(0.0004, 3) == "0.0004"
    assert words.number(-2e-9) == "> −0.000001"
    assert words.number(3e-9) == "< 0.000001"
    interval = words._interval(-0.0035, 0.41)
    assert interval == "95 % CI −0.004 to 0.41"


def test_p_values_never_print_as_zero():
    assert words.p_value(0.0004) == "< 0.001"
    assert words.p_value(1.9e-33) == "< 0.001"
    assert words.p_value(0.001) == "0.001"
    assert words.p_value(0.04249) == "0.042"
    assert words.p_equals(0.0004) == "p < 0.001"
    assert words.p_equals(0.5) == "p = 0.500"


def _adjusted(plain_g: float, baseline_g: float, subgroup_gs: list[float]) -> dict:
    """A finding whose headline is the ANCOVA estimate 0.21, beside a plain difference."""
    results = _results(headline={"source": "ancova"})
    results["outcomes"][0]["effect"] = {"g": plain_g, "ci": [plain_g - 0.16, plain_g + 0.16]}
    results["baseline"] = {"g": baseline_g, "rating": "requires_adjustment", "adjusted": True}
    results["subgroups"] = [
        {"label": "Lunch", "levels": [{"level": "yes", "g": g} for g in subgroup_gs]}
    ]
    return results


def test_an_adjusted_headline_that_differs_from_the_plain_difference_says_why():
    why = words.why_estimates_differ(_adjusted(0.33, 0.12, [0.05, 0.40]))
    assert why[0] == (
        "The headline (0.21 SD) is not the plain difference between the two groups' averages "
        "(0.33 SD): it allows for where each student started (the baseline score). The two "
        "groups did not start in the same place: the students who used the product started "
        "0.12 SD higher on the baseline than the comparison students, and the headline takes "
        "that difference out."
    )
    assert why[1].startswith("The subgroup estimates further down differ from the headline")
    assert "smaller group of students, so its estimate is noisier" in why[1]
    assert len(why) == 2
    lower = words.why_estimates_differ(_adjusted(0.15, -0.08, []))
    assert "started 0.08 SD lower on the baseline" in lower[0] and len(lower) == 1


def test_estimates_that_agree_need_no_explanation():
    # The plain difference prints as the headline does, and the subgroups match it.
    assert words.why_estimates_differ(_adjusted(0.2149, 0.12, [0.21, 0.2101])) == []
    # An unadjusted headline is the plain difference itself.
    plain = _results()
    plain["outcomes"][0]["effect"] = {"g": 0.21}
    assert words.why_estimates_differ(plain) == []
    plain["outcomes"][0]["headline"] = None
    assert words.why_estimates_differ(plain) == []


def test_a_pooled_effect_unlike_the_plain_average_says_why():
    from testbed.synthesis import words as synthesis_words

    why = synthesis_words.why_estimates_differ(0.18, [0.30, 0.05, 0.20, 0.45], [0.10, 0.25])
    assert why[0] == (
        "The pooled effect (0.18 SD) is not the plain average of the pilots' own estimates "
        "(0.25 SD): pilots with more students give more precise estimates and count for more."
    )
    assert "rest on fewer pilots and students, so they are noisier" in why[1]
    assert synthesis_words.why_estimates_differ(0.20, [0.20, 0.20], [0.20, 0.20]) == []
