"""Fixed- and random-effects meta-analysis of pilot effect sizes.

Inverse-variance pooling; between-pilot variance tau^2 by DerSimonian-Laird or REML;
Cochran's Q, I^2 and a prediction interval; optional Knapp-Hartung adjustment.
Conventions follow R's metafor::rma (Viechtbauer 2010, JSS 36(3)):
- I^2 = tau^2 / (tau^2 + s^2), s^2 the typical within-study variance
  (k - 1) sum(w) / (sum(w)^2 - sum(w^2)) (Higgins & Thompson 2002);
- the prediction interval is estimate +/- crit * sqrt(se^2 + tau^2), crit the normal
  quantile, or the t quantile on k - 1 degrees of freedom with Knapp-Hartung;
- Knapp & Hartung (2003): se^2 = q / sum(w), q = sum(w (y - mu)^2) / (k - 1), t on k - 1 df.
  By default q is truncated at 1, the "modified" or "ad hoc" adjustment (Knapp & Hartung 2003,
  sec. 4; Roever, Knapp & Friede 2015, BMC Med Res Methodol 15:99): when the pilots agree more
  than their sampling variances predict (q < 1) the untruncated adjustment makes the interval
  narrower than the plain random-effects one, which is anti-conservative with few pilots.
  metafor spells the two test = "adhoc" (truncated) and test = "knha" (untruncated).
REML solves the restricted-likelihood score equation for tau^2 >= 0 (Viechtbauer 2005,
J. Educ. Behav. Stat. 30(3)). Each pilot's shrunken estimate is its empirical Bayes
prediction mu + tau^2 / (tau^2 + v_i) (y_i - mu).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import optimize, stats

from analysis import _validation as check

METHODS = ("REML", "DL")
# Knapp-Hartung variants: "truncated" uses max(1, q) (metafor test = "adhoc"), "untruncated"
# uses q as it is (metafor test = "knha").
KNAPP_HARTUNG_VARIANTS = ("truncated", "untruncated")


@dataclass(frozen=True)
class MetaResult:
    estimate: float
    se: float
    ci: tuple[float, float]
    statistic: float
    p: float
    df: float | None
    tau2: float
    q: float
    q_df: int
    q_p: float
    i2: float
    prediction_interval: tuple[float, float]
    weights: tuple[float, ...]
    shrunken_estimates: tuple[float, ...]
    method: str
    k: int


def _inputs(
    estimates: object, variances: object, level: object
) -> tuple[np.ndarray, np.ndarray, float]:
    y = check.numeric_array("estimates", estimates, minimum_size=2)
    v = check.numeric_array("variances", variances, minimum_size=2)
    check.same_length(("estimates", "variances"), (y, v))
    if (v <= 0).any():
        raise ValueError("variances must all be greater than 0 (each pilot's sampling variance)")
    return y, v, check.level("level", level)


def _cochran_q(y: np.ndarray, v: np.ndarray) -> float:
    w = 1.0 / v
    fixed = float(w @ y / w.sum())
    return float(w @ (y - fixed) ** 2)


def _typical_within_variance(v: np.ndarray) -> float:
    w = 1.0 / v
    return (v.size - 1) * w.sum() / (w.sum() ** 2 - (w**2).sum())


def _dersimonian_laird(y: np.ndarray, v: np.ndarray) -> float:
    w = 1.0 / v
    excess = _cochran_q(y, v) - (y.size - 1)
    return max(0.0, excess / (w.sum() - (w**2).sum() / w.sum()))


def _reml_score(tau2: float, y: np.ndarray, v: np.ndarray) -> float:
    w = 1.0 / (v + tau2)
    mu = w @ y / w.sum()
    return float((w**2) @ (y - mu) ** 2 - w.sum() + (w**2).sum() / w.sum())


def _reml(y: np.ndarray, v: np.ndarray) -> float:
    if _reml_score(0.0, y, v) <= 0:
        return 0.0
    high = max(float(np.var(y)), float(v.max()), 1e-8)
    while _reml_score(high, y, v) > 0:
        high *= 2.0
    return float(optimize.brentq(_reml_score, 0.0, high, args=(y, v), xtol=1e-14, rtol=1e-12))


def _pool(
    y: np.ndarray,
    v: np.ndarray,
    tau2: float,
    level: float,
    knapp_hartung: str | None,
    method: str,
) -> MetaResult:
    """knapp_hartung: None (z test), or one of KNAPP_HARTUNG_VARIANTS."""
    k = y.size
    w = 1.0 / (v + tau2)
    estimate = float(w @ y / w.sum())
    if knapp_hartung is not None:
        q = float(w @ (y - estimate) ** 2) / (k - 1)
        if knapp_hartung == "truncated":
            q = max(1.0, q)
        se = math.sqrt(q / w.sum())
        df: float | None = float(k - 1)
        critical = float(stats.t.ppf(0.5 + level / 2.0, k - 1))
    else:
        se = math.sqrt(1.0 / w.sum())
        df = None
        critical = float(stats.norm.ppf(0.5 + level / 2.0))
    if se == 0:
        raise ValueError("every pilot has the same estimate; Knapp-Hartung needs some spread")
    statistic = estimate / se
    p = 2.0 * float(stats.t.sf(abs(statistic), df) if df else stats.norm.sf(abs(statistic)))
    q = _cochran_q(y, v)
    typical = _typical_within_variance(v)
    spread = critical * math.sqrt(se**2 + tau2)
    return MetaResult(
        estimate=estimate,
        se=se,
        ci=(estimate - critical * se, estimate + critical * se),
        statistic=statistic,
        p=p,
        df=df,
        tau2=tau2,
        q=q,
        q_df=k - 1,
        q_p=float(stats.chi2.sf(q, k - 1)),
        i2=float(tau2 / (tau2 + typical)),
        prediction_interval=(estimate - spread, estimate + spread),
        weights=tuple(float(x) for x in w / w.sum()),
        shrunken_estimates=tuple(float(x) for x in estimate + tau2 / (tau2 + v) * (y - estimate)),
        method=method,
        k=k,
    )


def fixed_effect(estimates: object, variances: object, level: float = 0.95) -> MetaResult:
    """Inverse-variance fixed-effect (common-effect) pooling. tau2 is 0 by assumption,
    so the prediction interval equals the confidence interval."""
    y, v, level = _inputs(estimates, variances, level)
    return _pool(y, v, 0.0, level, knapp_hartung=None, method="fixed effect (inverse variance)")


def random_effects(
    estimates: object,
    variances: object,
    method: str = "REML",
    knapp_hartung: bool = False,
    level: float = 0.95,
    knapp_hartung_variant: str = "truncated",
) -> MetaResult:
    """Random-effects pooling with tau^2 by REML (default) or DerSimonian-Laird ("DL").

    With knapp_hartung, the interval and test use the Knapp-Hartung variance on k - 1 df;
    knapp_hartung_variant "truncated" (default) never lets it fall below the plain
    random-effects variance, "untruncated" is the original adjustment (see the module doc).
    """
    y, v, level = _inputs(estimates, variances, level)
    method = check.choice("method", method, METHODS)
    if not isinstance(knapp_hartung, bool):
        raise ValueError(f"knapp_hartung must be True or False, got {knapp_hartung!r}")
    variant = check.choice("knapp_hartung_variant", knapp_hartung_variant, KNAPP_HARTUNG_VARIANTS)
    tau2 = _reml(y, v) if method == "REML" else _dersimonian_laird(y, v)
    label = f"random effects ({method})"
    if knapp_hartung:
        label = f"random effects ({method}, Knapp-Hartung {variant})"
    return _pool(y, v, tau2, level, variant if knapp_hartung else None, label)


@dataclass(frozen=True)
class SubgroupEstimate:
    group: str
    k: int
    estimate: float
    se: float
    ci: tuple[float, float]
    tau2: float


@dataclass(frozen=True)
class SubgroupDifference:
    subgroups: tuple[SubgroupEstimate, ...]
    q_between: float
    df: int
    p: float


def _subgroup(
    group: str, y: np.ndarray, v: np.ndarray, method: str, critical: float
) -> SubgroupEstimate:
    if y.size == 1:
        # One pilot is its own estimate: there is no between-pilot variance to estimate.
        estimate, se, tau2 = float(y[0]), math.sqrt(float(v[0])), 0.0
    else:
        pooled = random_effects(y, v, method=method)
        estimate, se, tau2 = pooled.estimate, pooled.se, pooled.tau2
    return SubgroupEstimate(
        group=group,
        k=int(y.size),
        estimate=estimate,
        se=se,
        ci=(estimate - critical * se, estimate + critical * se),
        tau2=tau2,
    )


def subgroup_difference(
    estimates: object, variances: object, groups: object, method: str = "REML"
) -> SubgroupDifference:
    """Test whether the pooled effect differs between subgroups (e.g. locales).

    Each subgroup is pooled on its own with the same random-effects method (its own tau^2; a
    subgroup of one pilot is that pilot's estimate). The subgroup estimates are then compared
    with Q_between = sum w_j (theta_j - theta_bar)^2, w_j = 1 / SE_j^2, on (groups - 1) df:
    a fixed-effect test of heterogeneity across the subgroup estimates, as in metafor's tip
    "Comparing estimates of independent meta-analyses or subgroups" (rma on the subgroup
    estimates with sei = their SEs, method = "FE"). With two groups it is the squared z of
    their difference. Groups are reported in order of first appearance.
    """
    y = check.numeric_array("estimates", estimates, minimum_size=2)
    v = check.numeric_array("variances", variances, minimum_size=2)
    if isinstance(groups, str | bytes):
        raise ValueError("groups must be a list of group labels, one per estimate")
    labels = [str(label) for label in groups]  # type: ignore[attr-defined]
    if len(labels) != y.size:
        raise ValueError(f"groups must have one label per estimate ({y.size}), got {len(labels)}")
    check.same_length(("estimates", "variances"), (y, v))
    if (v <= 0).any():
        raise ValueError("variances must all be greater than 0 (each pilot's sampling variance)")
    method = check.choice("method", method, METHODS)
    order = list(dict.fromkeys(labels))
    if len(order) < 2:
        raise ValueError("subgroup_difference needs at least 2 different groups")
    critical = float(stats.norm.ppf(0.975))
    members = np.array(labels, dtype=object)
    subgroups = tuple(
        _subgroup(group, y[members == group], v[members == group], method, critical)
        for group in order
    )
    theta = np.array([s.estimate for s in subgroups])
    w = 1.0 / np.array([s.se for s in subgroups]) ** 2
    mean = float(w @ theta / w.sum())
    q_between = float(w @ (theta - mean) ** 2)
    df = len(subgroups) - 1
    return SubgroupDifference(
        subgroups=subgroups, q_between=q_between, df=df, p=float(stats.chi2.sf(q_between, df))
    )
