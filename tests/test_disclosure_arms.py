"""The arm rule applies to every arm an outcome reports, whatever its name: a before/after
(pre/post) pilot reports "baseline" and "treatment", and a small baseline group was shown."""

from __future__ import annotations

from testbed.findings.disclosure import disclose


def _pre_post(n: int) -> dict:
    return {
        "design": {"design_type": "pre_post"},
        "outcomes": [
            {
                "primary": True,
                "arms": {
                    "baseline": {"n": n, "mean": 190.0, "sd": 10.0, "min": 171.0, "max": 209.0},
                    "treatment": {"n": n, "mean": 195.0, "sd": 11.0, "min": 170.5, "max": 214.0},
                },
                "test": {"t": 1.234567, "df": n - 1, "p": 0.123456},
            }
        ],
        "subgroups": [],
        "site_counts": [],
        "dosage": None,
        "data": {"student_rows": 2 * n},
    }


def test_a_small_before_after_group_is_hidden_in_both_arms_with_its_df():
    shown = disclose(_pre_post(6), frozenset())
    outcome = shown["outcomes"][0]
    for arm in ("baseline", "treatment"):
        assert outcome["arms"][arm]["n"] is None and outcome["arms"][arm]["suppressed"]
        assert "min" not in outcome["arms"][arm]  # single students' scores never leave
    assert outcome["test"]["df"] is None  # df + 1 would be the hidden group's size
    assert outcome["test"]["t"] == 1.23


def test_a_large_before_after_group_is_shown_without_min_and_max():
    outcome = disclose(_pre_post(40), frozenset())["outcomes"][0]
    assert outcome["arms"]["baseline"]["n"] == 40
    assert "max" not in outcome["arms"]["baseline"]


def test_hidden_attrition_rates_hide_the_boundary_that_would_bracket_them():
    """An outside check found max_differential (the WWC boundary at the overall rate) shown
    beside hidden rates: Table II.1 maps it back to a narrow band of overall attrition."""
    from testbed.findings.disclosure import _suppress_attrition

    outcome = {
        "randomized": {"treatment": 50, "control": 50},
        "attrition": {
            "randomized": {"treatment": 50, "control": 50},
            "analyzed": {"treatment": 47, "control": 48},
            "overall": 0.05,
            "differential": 0.02,
            "treatment": 0.06,
            "control": 0.04,
            "max_differential": 0.062,
            "rating": "low",
        },
    }
    _suppress_attrition(outcome)
    attrition = outcome["attrition"]
    assert attrition["max_differential"] is None and attrition["overall"] is None
    assert attrition["rating"] == "low"
