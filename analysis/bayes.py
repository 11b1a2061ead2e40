"""Normal-normal Bayesian reading of an effect estimate.

The estimate is treated as normal around the true effect with its standard error; the
prior on the true effect is normal. The posterior is normal with precision equal to the
sum of the precisions and mean equal to the precision-weighted average (Gelman et al.,
Bayesian Data Analysis, 3rd ed., section 2.5).

The three-way reading follows the federal Rapid Cycle Evaluation Coach: the probability
the effect is positive, the probability it exceeds the minimum meaningful effect (the
threshold), and the probability it is below the negative threshold (meaningfully worse).

Default prior: mean 0, SD 0.5 standard deviations, a weakly sceptical prior that keeps
about 95 % of its weight within one SD either way, where nearly all education
intervention effects lie (Kraft 2020, Educational Researcher 49(4)). Default threshold:
0.1 SD; pass the pilot's registered minimum meaningful effect.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from scipy import stats

from analysis import _validation as check


@dataclass(frozen=True)
class ThreeWay:
    """Probabilities that the true effect is meaningfully worse, negligible, or better."""

    worse: float
    negligible: float
    better: float


@dataclass(frozen=True)
class Posterior:
    mean: float
    sd: float
    ci: tuple[float, float]
    prob_positive: float
    prob_above_threshold: float
    prob_below_negative_threshold: float
    three_way: ThreeWay
    threshold: float
    prior_mean: float
    prior_sd: float
    summary: str


def posterior(
    estimate: float,
    se: float,
    prior_mean: float = 0.0,
    prior_sd: float = 0.5,
    threshold: float = 0.1,
    level: float = 0.95,
) -> Posterior:
    """Combine an effect estimate (with its SE) and a normal prior into a normal posterior."""
    estimate = check.finite_number("estimate", estimate)
    se = check.positive_number("se", se)
    prior_mean = check.finite_number("prior_mean", prior_mean)
    prior_sd = check.positive_number("prior_sd", prior_sd)
    threshold = check.non_negative_number("threshold", threshold)
    level = check.level("level", level)

    if se**2 == 0.0 or prior_sd**2 == 0.0:
        raise ValueError("se and prior_sd must be large enough that their squares are not 0")
    data_precision = 1.0 / se**2
    prior_precision = 1.0 / prior_sd**2
    precision = data_precision + prior_precision
    mean = (prior_mean * prior_precision + estimate * data_precision) / precision
    sd = 1.0 / math.sqrt(precision)
    distribution = stats.norm(mean, sd)
    prob_positive = float(distribution.sf(0.0))
    better = float(distribution.sf(threshold))
    worse = float(distribution.cdf(-threshold))
    negligible = max(0.0, 1.0 - better - worse)
    low, high = (float(x) for x in distribution.interval(level))
    summary = (
        f"The probability that the effect is positive is {prob_positive:.0%}; "
        f"the probability that it exceeds {threshold:g} SD is {better:.0%}; "
        f"the probability that it is below -{threshold:g} SD is {worse:.0%}."
    )
    return Posterior(
        mean=mean,
        sd=sd,
        ci=(low, high),
        prob_positive=prob_positive,
        prob_above_threshold=better,
        prob_below_negative_threshold=worse,
        three_way=ThreeWay(worse=worse, negligible=negligible, better=better),
        threshold=threshold,
        prior_mean=prior_mean,
        prior_sd=prior_sd,
        summary=summary,
    )
