"""Normal-normal posterior (Gelman et al., Bayesian Data Analysis, 3rd ed., section 2.5)."""

from __future__ import annotations

import math

import pytest
from scipy import stats

from analysis.bayes import posterior


def test_conjugate_update() -> None:
    """BDA3 eq. 2.12: posterior precision 1/0.5^2 + 1/0.1^2 = 104; mean (0*4 + 0.2*100)/104."""
    result = posterior(0.2, 0.1, prior_mean=0.0, prior_sd=0.5, threshold=0.1)
    assert result.mean == pytest.approx(20 / 104)
    assert result.sd == pytest.approx(1 / math.sqrt(104))
    assert result.prob_positive == pytest.approx(stats.norm.cdf(result.mean / result.sd))
    assert result.prob_above_threshold == pytest.approx(stats.norm.sf(0.1, result.mean, result.sd))
    assert result.prob_below_negative_threshold == pytest.approx(
        stats.norm.cdf(-0.1, result.mean, result.sd)
    )


def test_vague_prior_returns_the_likelihood() -> None:
    result = posterior(0.21, 0.08, prior_sd=1e6)
    assert result.mean == pytest.approx(0.21)
    assert result.sd == pytest.approx(0.08)
    assert result.ci == pytest.approx((0.21 - 1.959964 * 0.08, 0.21 + 1.959964 * 0.08))


def test_three_way_probabilities_sum_to_one() -> None:
    result = posterior(0.05, 0.2, threshold=0.15)
    three = result.three_way
    assert three.worse + three.negligible + three.better == pytest.approx(1.0)
    assert three.better == result.prob_above_threshold
    assert "probability that the effect is positive" in result.summary


def test_a_zero_estimate_with_a_centred_prior_is_a_coin_flip() -> None:
    result = posterior(0.0, 0.1)
    assert result.prob_positive == pytest.approx(0.5)
    assert result.prob_above_threshold == pytest.approx(result.prob_below_negative_threshold)


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"estimate": 0.2, "se": 0.0}, "se must be greater than 0"),
        ({"estimate": 0.2, "se": 0.1, "prior_sd": -1}, "prior_sd must be greater than 0"),
        ({"estimate": 0.2, "se": 0.1, "threshold": -0.1}, "threshold must not be negative"),
        ({"estimate": float("nan"), "se": 0.1}, "estimate must be a finite number"),
        # An outside check found 1e-300 passing the > 0 test and then dividing by zero.
        ({"estimate": 0.2, "se": 1e-300}, "squares are not 0"),
    ],
)
def test_rejects_bad_input(arguments: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        posterior(**arguments)
