"""analysis.regression.interaction_test against R.

Reference: R's built-in ToothGrowth data (Crampton 1947), tooth length by supplement (OJ,
VC) and dose (0.5, 1, 2 mg). summary(aov(len ~ supp * factor(dose))) prints for
supp:factor(dose): Df 2, F value 4.107, Pr(>F) 0.02186, residual Df 54 (the design is
balanced, so the sequential and the adjusted tests agree).
"""

from __future__ import annotations

import numpy as np
import pytest

from analysis.regression import interaction_test

TOOTH_LENGTH = {
    ("VC", 0.5): [4.2, 11.5, 7.3, 5.8, 6.4, 10.0, 11.2, 11.2, 5.2, 7.0],
    ("VC", 1.0): [16.5, 16.5, 15.2, 17.3, 22.5, 17.3, 13.6, 14.5, 18.8, 15.5],
    ("VC", 2.0): [23.6, 18.5, 33.9, 25.5, 26.4, 32.5, 26.7, 21.5, 23.3, 29.5],
    ("OJ", 0.5): [15.2, 21.5, 17.6, 9.7, 14.5, 10.0, 8.2, 9.4, 16.5, 9.7],
    ("OJ", 1.0): [19.7, 23.3, 23.6, 26.4, 20.0, 25.2, 25.8, 21.2, 14.5, 27.3],
    ("OJ", 2.0): [25.5, 26.4, 22.4, 24.5, 24.8, 30.9, 26.4, 27.3, 29.4, 23.0],
}


def _tooth_growth(doses=(0.5, 1.0, 2.0)):
    y, treated, dose = [], [], []
    for (supplement, amount), lengths in TOOTH_LENGTH.items():
        if amount not in doses:
            continue
        y += lengths
        treated += [1.0 if supplement == "OJ" else 0.0] * len(lengths)
        dose += [f"{amount:g} mg"] * len(lengths)
    return np.array(y), np.array(treated), np.array(dose)


def test_three_level_interaction_matches_r_anova():
    result = interaction_test(*_tooth_growth())
    assert result.df_numerator == 2
    assert result.df_denominator == 54
    assert result.statistic == pytest.approx(4.107, abs=5e-4)
    assert result.p == pytest.approx(0.02186, abs=5e-6)
    assert result.coefficient is None
    assert result.levels == ("0.5 mg", "1 mg", "2 mg")


def test_two_levels_give_the_coefficient_and_t_squared_equals_f():
    y, treated, dose = _tooth_growth(doses=(0.5, 1.0))
    result = interaction_test(y, treated, dose)
    # The interaction coefficient is the difference between the two levels' OJ - VC gaps.
    gap = {
        level: np.mean(y[(dose == level) & (treated == 1)])
        - np.mean(y[(dose == level) & (treated == 0)])
        for level in ("0.5 mg", "1 mg")
    }
    assert result.coefficient == pytest.approx(gap["1 mg"] - gap["0.5 mg"])
    assert (result.coefficient / result.se) ** 2 == pytest.approx(result.statistic)


def test_refuses_a_level_with_one_arm_only():
    y, treated, dose = _tooth_growth()
    dose = dose.copy()
    dose[treated == 1] = "only treated"
    with pytest.raises(ValueError, match="only one arm"):
        interaction_test(y, treated, dose)


def test_refuses_a_single_level():
    y, treated, _ = _tooth_growth()
    with pytest.raises(ValueError, match="only one level"):
        interaction_test(y, treated, ["all"] * len(y))
