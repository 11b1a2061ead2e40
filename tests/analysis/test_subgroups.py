"""subgroup_difference: each subgroup pooled on its own, then Q_between across the subgroup
estimates. Checked on the BCG data (dat.bcg, as in test_meta) split by allocation
(random: trials 1-4 and 7-9; alternate: 5-6; systematic: 10-13, as in metafor's dat.bcg).

Reference: no printed metafor output for this separate-tau^2 subgroup test was found, so the
test checks its definition against independent computations: each subgroup estimate equals
random_effects on that subgroup alone (itself checked against metafor in test_meta), and with
two groups Q_between is the squared z of the difference (metafor's tip "Comparing estimates
of independent meta-analyses or subgroups" compares two subgroups this way).
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from analysis.meta import random_effects, subgroup_difference
from tests.analysis.test_meta import VI, YI

ALLOC = np.array(["random"] * 4 + ["alternate"] * 2 + ["random"] * 3 + ["systematic"] * 4)


def test_each_subgroup_is_pooled_on_its_own() -> None:
    result = subgroup_difference(YI, VI, ALLOC)
    assert [s.group for s in result.subgroups] == ["random", "alternate", "systematic"]
    for subgroup in result.subgroups:
        members = np.equal(ALLOC, subgroup.group)
        alone = random_effects(YI[members], VI[members])
        assert subgroup.estimate == pytest.approx(alone.estimate, abs=1e-12)
        assert subgroup.se == pytest.approx(alone.se, abs=1e-12)
        assert subgroup.tau2 == pytest.approx(alone.tau2, abs=1e-12)


def test_q_between_is_weighted_spread_of_subgroup_estimates() -> None:
    result = subgroup_difference(YI, VI, ALLOC)
    theta = np.array([s.estimate for s in result.subgroups])
    w = 1 / np.array([s.se for s in result.subgroups]) ** 2
    expected = float(np.sum(w * (theta - np.sum(w * theta) / w.sum()) ** 2))
    assert result.q_between == pytest.approx(expected, rel=1e-12)
    assert result.df == 2
    assert result.p == pytest.approx(stats.chi2.sf(expected, 2), rel=1e-12)


def test_two_groups_is_squared_z_of_the_difference() -> None:
    groups = np.where(ALLOC == "random", "random", "other")
    result = subgroup_difference(YI, VI, groups)
    first, second = result.subgroups
    z = (first.estimate - second.estimate) / np.hypot(first.se, second.se)
    assert result.q_between == pytest.approx(z**2, rel=1e-12)
    assert result.p == pytest.approx(2 * stats.norm.sf(abs(z)), rel=1e-9)


def test_a_subgroup_of_one_pilot_is_that_pilot() -> None:
    result = subgroup_difference([0.1, 0.3, 0.5], [0.01, 0.02, 0.04], ["a", "a", "b"])
    single = result.subgroups[1]
    assert (single.k, single.estimate, single.se, single.tau2) == (1, 0.5, 0.2, 0.0)


@pytest.mark.parametrize(
    ("groups", "message"),
    [(["a", "a", "a"], "at least 2 different groups"), (["a", "b"], "one label per estimate")],
)
def test_rejects_impossible_input(groups, message) -> None:
    with pytest.raises(ValueError, match=message):
        subgroup_difference([0.1, 0.2, 0.3], [0.01, 0.01, 0.01], groups)


def test_a_group_of_one_pilot_uses_the_same_normal_interval_as_pooled_groups():
    """Issue 16: every row of a breakdown uses one interval method, estimate +/- z * SE (the
    method of metafor's subgroup tip, whose SEs Q_between uses); a one-pilot group is that
    pilot's estimate and SE under the same formula, not a t or Knapp-Hartung interval."""
    result = subgroup_difference([0.1, 0.3, 0.5], [0.01, 0.02, 0.04], ["a", "a", "b"])
    z = stats.norm.ppf(0.975)
    for group in result.subgroups:
        assert group.ci == pytest.approx(
            (group.estimate - z * group.se, group.estimate + z * group.se)
        )
    alone = result.subgroups[1]
    assert (alone.k, alone.estimate, alone.se) == (1, 0.5, pytest.approx(0.2))
