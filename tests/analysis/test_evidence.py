"""ESSA tier indicator: ESSA section 8101(21)(A) and the U.S. Department of Education's
non-regulatory guidance "Using Evidence to Strengthen Education Investments" (2016)."""

from __future__ import annotations

import pytest

from analysis.evidence import essa_tier


def test_tier_1_randomized_low_attrition_large_multisite() -> None:
    result = essa_tier(
        "rct", effect_size=0.21, p_value=0.003, n_students=420, n_districts=3, attrition="low"
    )
    assert result.tier == 1
    assert any("low attrition" in reason for reason in result.reasons)
    assert any("not a certification" in reason for reason in result.reasons)


def test_tier_2_quasi_experiment_with_baseline_equivalence() -> None:
    result = essa_tier(
        "quasi_experiment",
        effect_size=0.15,
        p_value=0.01,
        n_students=800,
        n_districts=2,
        baseline_equivalence="requires_adjustment",
        adjusted_for_baseline=True,
    )
    assert result.tier == 2


def test_high_attrition_rct_needs_baseline_equivalence_for_tier_2() -> None:
    common = {"effect_size": 0.2, "p_value": 0.01, "n_students": 500, "n_districts": 4}
    assert essa_tier("rct", attrition="high", baseline_equivalence="satisfied", **common).tier == 2
    not_equivalent = essa_tier(
        "rct", attrition="high", baseline_equivalence="not_satisfied", **common
    )
    assert not_equivalent.tier == 3
    assert any("baseline equivalence was not shown" in r for r in not_equivalent.reasons)


def test_small_rct_is_promising_not_strong() -> None:
    result = essa_tier(
        "rct", effect_size=0.3, p_value=0.02, n_students=120, n_districts=1, attrition="low"
    )
    assert result.tier == 3
    assert any("too small for tiers 1 and 2" in reason for reason in result.reasons)


def test_correlational_with_controls_is_tier_3() -> None:
    result = essa_tier(
        "correlational",
        effect_size=0.1,
        p_value=0.04,
        n_students=5000,
        n_districts=10,
        controls_for_selection=True,
    )
    assert result.tier == 3


def test_non_significant_effect_with_a_rationale_is_tier_4() -> None:
    result = essa_tier(
        "rct",
        effect_size=0.1,
        p_value=0.3,
        n_students=900,
        n_districts=5,
        attrition="low",
        has_rationale=True,
        study_underway=True,
    )
    assert result.tier == 4
    assert any("not statistically significant" in reason for reason in result.reasons)


def test_unfavourable_effect_without_rationale_has_no_tier() -> None:
    result = essa_tier(
        "rct", effect_size=-0.2, p_value=0.001, n_students=900, n_districts=5, attrition="low"
    )
    assert result.tier is None
    assert any("not favourable" in reason for reason in result.reasons)
    assert any("tier 4 would need" in reason for reason in result.reasons)


def test_pre_post_cannot_exceed_tier_4() -> None:
    result = essa_tier(
        "pre_post",
        effect_size=0.5,
        p_value=0.0001,
        n_students=2000,
        n_districts=8,
        has_rationale=True,
        study_underway=True,
    )
    assert result.tier == 4


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"design": "survey"}, "design must be one of"),
        ({"design": "rct", "attrition": "medium"}, "attrition must be one of"),
        ({"design": "rct", "n_students": -3}, "n_students must not be negative"),
        ({"design": "rct", "effect_size": 0.2, "p_value": 1.5}, "p_value must be a proportion"),
        ({"design": "rct", "has_rationale": "yes"}, "has_rationale must be True or False"),
    ],
)
def test_rejects_bad_input(arguments: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        essa_tier(**arguments)


def test_a_tiny_p_value_is_written_as_below_0_001_not_0_000():
    result = essa_tier(
        design="rct",
        effect_size=0.3,
        p_value=2e-9,
        n_students=400,
        n_districts=2,
        attrition="low",
    )
    text = " ".join(result.reasons)
    assert "(p < 0.001, below 0.05)" in text and "0.000" not in text
