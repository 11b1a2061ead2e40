"""ANCOVA: the arm effect adjusted for a baseline and other covariates.

Ordinary least squares of the outcome on a treatment indicator, covariates and, when
sites are given, site fixed effects. Sites are absorbed by centering every variable
within its site (Frisch-Waugh-Lovell), which gives the same treatment coefficient and
standard error as site dummies without building an n x sites matrix; without sites the
overall mean plays the intercept's part. Results match R's lm().

The adjusted effect size follows the WWC (Procedures Handbook 4.1, Appendix E): the
adjusted mean difference over the unadjusted pooled within-arm SD of the outcome,
times the small-sample correction omega.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
from scipy import stats

from analysis import _validation as check
from analysis import cluster_robust
from analysis.effect_sizes import EffectSize, pooled_sd, small_sample_correction

# Covariates whose scaled cross-product matrix is this badly conditioned are treated as
# collinear: the treatment coefficient would be numerically meaningless.
_MAX_CONDITION = 1e10
# A model whose residual variance is below this share of the outcome's variance fits the
# outcome (almost) exactly: what is left is floating-point noise, and its "p-value" (1e-33 for
# an outcome column that is a copy of the baseline) means nothing. Real test scores never come
# near it: a pretest correlating 0.99 with the outcome still leaves 2 % of the variance.
NEAR_PERFECT_FIT = 1e-8


def near_perfect_fit_message(residual_share: float, predictors: str) -> str:
    return (
        f"the outcome is almost exactly a straight-line function of {predictors} (what is "
        f"left after the fit is {residual_share:.1e} of its variance), so any effect would "
        "be floating-point noise; check that the outcome column is not a copy of the "
        "baseline (for example the fall score uploaded as the spring one)"
    )


def residual_share(y: object, x: object) -> float:
    """Share of y's variance left by the least-squares line y ~ 1 + x (students with both)."""
    outcome = np.asarray(y, dtype=np.float64)
    predictor = np.asarray(x, dtype=np.float64)
    check.same_length(("y", "x"), (outcome, predictor))
    keep = np.isfinite(outcome) & np.isfinite(predictor)
    if np.count_nonzero(keep) < 3:
        return 1.0
    outcome = outcome[keep] - outcome[keep].mean()
    predictor = predictor[keep] - predictor[keep].mean()
    total = float(outcome @ outcome)
    spread = float(predictor @ predictor)
    if total == 0 or spread == 0:
        return 1.0
    slope = float(predictor @ outcome) / spread
    residuals = outcome - slope * predictor
    return float(residuals @ residuals) / total


@dataclass(frozen=True)
class AncovaResult:
    coefficient: float
    se: float
    t: float
    df: float
    p: float
    ci: tuple[float, float]
    effect_size: EffectSize
    covariate_coefficients: dict[str, float]
    n: int
    n_sites: int
    r_squared: float


def _treatment_indicator(treated: object) -> np.ndarray:
    indicator = check.numeric_array("treated", treated, minimum_size=4)
    if not np.isin(indicator, (0.0, 1.0)).all():
        raise ValueError("treated must contain only 0 (control) and 1 (treatment)")
    return indicator


def _covariate_columns(covariates: object, n: int) -> tuple[list[str], list[np.ndarray]]:
    if covariates is None:
        return [], []
    if isinstance(covariates, Mapping):
        names = [str(name) for name in covariates]
        columns = [
            check.numeric_array(f"covariate {name!r}", values, minimum_size=1)
            for name, values in zip(names, covariates.values(), strict=True)
        ]
    else:
        try:
            matrix = np.asarray(covariates, dtype=np.float64)
        except (TypeError, ValueError):
            raise ValueError("covariates must contain only numbers") from None
        if matrix.ndim == 1:
            matrix = matrix[:, np.newaxis]
        if matrix.ndim != 2:
            raise ValueError("covariates must be one column of numbers or a table of columns")
        names = [f"covariate {index + 1}" for index in range(matrix.shape[1])]
        columns = [
            check.numeric_array(name, matrix[:, index], minimum_size=1)
            for index, name in enumerate(names)
        ]
    for name, column in zip(names, columns, strict=True):
        if column.size != n:
            raise ValueError(f"{name} has {column.size} values but y has {n}")
    return names, columns


def _site_codes(sites: object, n: int) -> tuple[np.ndarray | None, int]:
    if sites is None:
        return None, 1
    labels = np.asarray(sites)
    if labels.ndim != 1 or labels.size != n:
        raise ValueError(f"sites must list one site per student ({n} values)")
    if labels.dtype.kind == "f" and not np.isfinite(labels).all():
        raise ValueError("sites contains missing values")
    _, codes = np.unique(labels, return_inverse=True)
    return codes, int(codes.max()) + 1


def _center(values: np.ndarray, codes: np.ndarray | None, n_groups: int) -> np.ndarray:
    if codes is None:
        return values - values.mean()
    sums = np.bincount(codes, weights=values, minlength=n_groups)
    sizes = np.bincount(codes, minlength=n_groups)
    return values - (sums / sizes)[codes]


def _adjusted_effect_size(
    coefficient: float, se: float, half_width: float, spread: float, n_t: int, n_c: int
) -> EffectSize:
    """The coefficient and its interval rescaled by omega / pooled SD, so the interval
    keeps the precision the covariates bought."""
    factor = small_sample_correction(n_t + n_c) / spread
    g = coefficient * factor
    return EffectSize(
        g=g,
        variance=(se * factor) ** 2,
        se=se * factor,
        ci=((coefficient - half_width) * factor, (coefficient + half_width) * factor),
        n_t=n_t,
        n_c=n_c,
        method="ANCOVA-adjusted Hedges' g (WWC)",
    )


def ancova(
    y: object,
    treated: object,
    covariates: object = None,
    sites: object = None,
    level: float = 0.95,
) -> AncovaResult:
    """OLS of y on treated (0/1) plus covariates (a column, a table, or name -> column).

    sites, if given, adds site fixed effects (and r_squared is then the within-site R^2).
    Returns the treatment coefficient with its SE, t, p and confidence interval, and the
    WWC adjusted effect size.
    """
    outcome = check.numeric_array("y", y, minimum_size=4)
    indicator = _treatment_indicator(treated)
    check.same_length(("y", "treated"), (outcome, indicator))
    level = check.level("level", level)
    n = outcome.size
    names, columns = _covariate_columns(covariates, n)
    codes, n_sites = _site_codes(sites, n)

    n_treated = int(np.count_nonzero(indicator))
    if n_treated < 2 or n - n_treated < 2:
        raise ValueError("treated must mark at least 2 students in each arm")
    if codes is not None:
        treated_in_site = np.bincount(codes, weights=indicator, minlength=n_sites)
        one_arm = (treated_in_site == 0) | (treated_in_site == np.bincount(codes))
        if one_arm.any() and not one_arm.all():  # all: "does not vary within any site"
            # Its students add nothing to the comparison, yet would count in the effect size's
            # groups (its SD and small-sample factor): the sample would misdescribe the estimate.
            site = np.unique(np.asarray(sites))[int(np.flatnonzero(one_arm)[0])]
            raise ValueError(
                f"site {site} has students in only one arm, so it says nothing about the "
                "effect within sites; leave it out of the model"
            )
    df = n - n_sites - 1 - len(columns)
    if df < 1:
        raise ValueError(
            f"too few students ({n}) for {len(columns)} covariate(s) and {n_sites} site(s)"
        )

    centered_y = _center(outcome, codes, n_sites)
    predictors = np.column_stack(
        [_center(column, codes, n_sites) for column in (indicator, *columns)]
    )
    cross = predictors.T @ predictors
    scale = np.sqrt(np.diag(cross))
    labels = ["treated", *names]
    for label, size in zip(labels, scale, strict=True):
        if size == 0:
            where = "within any site" if codes is not None else "across students"
            raise ValueError(f"{label} does not vary {where}, so its effect cannot be estimated")
    correlation = cross / np.outer(scale, scale)
    if np.linalg.cond(correlation) > _MAX_CONDITION:
        raise ValueError(
            "the treatment indicator and covariates are collinear (one is a combination of "
            "the others), so the adjusted effect cannot be separated; drop the redundant ones"
        )
    inverse = np.linalg.inv(correlation) / np.outer(scale, scale)
    coefficients = inverse @ (predictors.T @ centered_y)
    residuals = centered_y - predictors @ coefficients
    residual_ss = float(residuals @ residuals)
    total_ss = float(centered_y @ centered_y)
    if total_ss == 0 or residual_ss < NEAR_PERFECT_FIT * total_ss:
        share = residual_ss / total_ss if total_ss > 0 else 0.0
        predictors = "the arm" + "".join(f" and {name}" for name in names)
        raise ValueError(near_perfect_fit_message(share, predictors))
    sigma2 = residual_ss / df
    se = math.sqrt(sigma2 * inverse[0, 0])
    coefficient = float(coefficients[0])
    t_value = coefficient / se
    half_width = float(stats.t.ppf(0.5 + level / 2.0, df)) * se

    treated_mask = indicator == 1.0
    sd_t = float(outcome[treated_mask].std(ddof=1))
    sd_c = float(outcome[~treated_mask].std(ddof=1))
    spread = pooled_sd(sd_t, n_treated, sd_c, n - n_treated)
    if spread == 0:
        raise ValueError("y has no spread within either arm, so no effect size can be computed")
    return AncovaResult(
        coefficient=coefficient,
        se=se,
        t=t_value,
        df=float(df),
        p=2.0 * float(stats.t.sf(abs(t_value), df)),
        ci=(coefficient - half_width, coefficient + half_width),
        effect_size=_adjusted_effect_size(
            coefficient, se, half_width, spread, n_treated, n - n_treated
        ),
        covariate_coefficients={
            name: float(value) for name, value in zip(names, coefficients[1:], strict=True)
        },
        n=n,
        n_sites=n_sites,
        r_squared=1.0 - residual_ss / total_ss if total_ss > 0 else 0.0,
    )


@dataclass(frozen=True)
class InteractionTest:
    """Does the treatment effect differ between subgroup levels? The F test of the
    treated x subgroup terms (one per level beyond the first); with two levels also the
    interaction coefficient (effect in the second level minus the first) and its t."""

    statistic: float
    df_numerator: float
    df_denominator: float
    p: float
    levels: tuple[str, ...]
    coefficient: float | None
    se: float | None


def _residual_sum_of_squares(design: np.ndarray, outcome: np.ndarray) -> float:
    coefficients, _, _, _ = np.linalg.lstsq(design, outcome, rcond=None)
    residuals = outcome - design @ coefficients
    return float(residuals @ residuals)


def interaction_test(y: object, treated: object, subgroup: object) -> InteractionTest:
    """F test of y ~ treated * subgroup against y ~ treated + subgroup (OLS).

    subgroup holds one label per student (e.g. "yes"/"no", or race/ethnicity codes); the
    alphabetically first level is the reference. Matches the interaction row of R's
    anova(lm(y ~ treated * subgroup)) for a balanced design, and the t test of the
    interaction coefficient in summary(lm(...)) when there are two levels.
    """
    outcome = check.numeric_array("y", y, minimum_size=4)
    indicator = _treatment_indicator(treated)
    check.same_length(("y", "treated"), (outcome, indicator))
    labels = np.asarray(subgroup).astype(str)
    if labels.ndim != 1 or labels.size != outcome.size:
        raise ValueError(f"subgroup must give one label per student ({outcome.size} values)")
    levels = tuple(str(level) for level in np.unique(labels))
    if len(levels) < 2:
        raise ValueError("subgroup has only one level, so there is nothing to compare")
    dummies = np.column_stack([(labels == level).astype(np.float64) for level in levels[1:]])
    reduced = np.column_stack([np.ones(outcome.size), indicator, dummies])
    full = np.column_stack([reduced, dummies * indicator[:, np.newaxis]])
    if np.linalg.matrix_rank(full) < full.shape[1]:
        raise ValueError(
            "some subgroup level has students in only one arm, so the effect within it "
            "cannot be estimated and the interaction cannot be tested"
        )
    df_numerator = len(levels) - 1
    df_denominator = outcome.size - full.shape[1]
    if df_denominator < 1:
        raise ValueError(f"too few students ({outcome.size}) for {len(levels)} subgroup levels")
    full_rss = _residual_sum_of_squares(full, outcome)
    reduced_rss = _residual_sum_of_squares(reduced, outcome)
    sigma2 = full_rss / df_denominator
    if sigma2 == 0:
        raise ValueError("the model fits y exactly, so the interaction has no uncertainty")
    statistic = ((reduced_rss - full_rss) / df_numerator) / sigma2
    coefficient = se = None
    if df_numerator == 1:
        inverse = np.linalg.inv(full.T @ full)
        estimates = inverse @ (full.T @ outcome)
        coefficient = float(estimates[-1])
        se = math.sqrt(sigma2 * float(inverse[-1, -1]))
    return InteractionTest(
        statistic=float(statistic),
        df_numerator=float(df_numerator),
        df_denominator=float(df_denominator),
        p=float(stats.f.sf(statistic, df_numerator, df_denominator)),
        levels=levels,
        coefficient=coefficient,
        se=se,
    )


@dataclass(frozen=True)
class ClusteredImpact:
    """The arm effect when clusters were assigned, estimated from student rows: OLS (with the
    baseline and site fixed effects when given) and CR2 cluster-robust inference."""

    coefficient: float
    se: float
    t: float
    df: float  # Satterthwaite (Bell & McCaffrey 2002; Pustejovsky & Tipton 2018)
    p: float
    ci: tuple[float, float]
    effect_size: EffectSize
    covariate_coefficients: dict[str, float]
    icc: float  # estimated from the outcome within arm (and site), one-way ANOVA
    average_cluster_size: float  # N / clusters, the n of the WWC formula
    gamma: float  # sqrt(1 - 2 (n - 1) icc / (N - 2)), WWC / Hedges (2007)
    n: int
    n_clusters: int
    n_sites: int
    r_squared: float


def clustered_impact(
    y: object,
    treated: object,
    clusters: object,
    covariates: object = None,
    sites: object = None,
    level: float = 0.95,
) -> ClusteredImpact:
    """Impact in a cluster-randomized trial from student rows.

    OLS of y on the arm indicator, the covariates and site dummies; the arm coefficient's SE is
    CR2 with Satterthwaite degrees of freedom (analysis.cluster_robust), so the baseline keeps
    the precision it buys and the clustering is allowed for. The effect size is the WWC
    (Procedures and Standards Handbook 5.0, Appendix E; Hedges 2007) g for cluster designs:
    omega * gamma * coefficient / S, S the unadjusted pooled within-arm SD of y, with
    gamma = sqrt(1 - 2 (n - 1) icc / (N - 2)), n = N / clusters and the ICC estimated from the
    data; its interval is the coefficient's CR2 interval on the same scale.
    """
    outcome = check.numeric_array("y", y, minimum_size=4)
    indicator = _treatment_indicator(treated)
    check.same_length(("y", "treated"), (outcome, indicator))
    level = check.level("level", level)
    n = outcome.size
    names, columns = _covariate_columns(covariates, n)
    codes, n_sites = _site_codes(sites, n)
    n_treated = int(np.count_nonzero(indicator))
    if n_treated < 2 or n - n_treated < 2:
        raise ValueError("treated must mark at least 2 students in each arm")
    cluster_labels = np.asarray(clusters).astype(str)
    if cluster_labels.shape != (n,):
        raise ValueError(f"clusters must give one cluster per student ({n} values)")
    arm_of_cluster: dict[str, set[float]] = {}
    for label, arm in zip(cluster_labels, indicator, strict=True):
        arm_of_cluster.setdefault(label, set()).add(arm)
    if any(len(arms) > 1 for arms in arm_of_cluster.values()):
        raise ValueError("some cluster has students in both arms, but clusters were assigned")
    n_clusters = len(arm_of_cluster)
    clusters_per_arm = [sum(arm == {a} for arm in arm_of_cluster.values()) for a in (0.0, 1.0)]
    if min(clusters_per_arm) < 2:
        raise ValueError(
            "each arm needs at least 2 clusters for a cluster-robust standard error "
            f"(control has {clusters_per_arm[0]}, treatment {clusters_per_arm[1]})"
        )
    site_dummies = (
        [(codes == level_).astype(np.float64) for level_ in range(1, n_sites)]
        if codes is not None
        else []
    )
    design = np.column_stack([np.ones(n), indicator, *columns, *site_dummies])
    if np.linalg.matrix_rank(design) < design.shape[1]:
        raise ValueError(
            "the treatment indicator and covariates are collinear (one is a combination of "
            "the others), so the adjusted effect cannot be separated; drop the redundant ones"
        )
    fit = cluster_robust.ols(outcome, design, cluster_labels, kind="CR2")
    residual_ss = fit.residual_ss
    centered = _center(outcome, codes, n_sites)
    total_ss = float(centered @ centered)
    if total_ss == 0 or residual_ss < NEAR_PERFECT_FIT * total_ss:
        share = residual_ss / total_ss if total_ss > 0 else 0.0
        predictors = "the arm" + "".join(f" and {name}" for name in names)
        raise ValueError(near_perfect_fit_message(share, predictors))
    coefficient, se, df = fit.coefficients[1], fit.se[1], fit.df[1]
    if not se > 0 or not df > 0:
        raise ValueError("the cluster-robust standard error could not be computed")
    t_value = coefficient / se
    half_width = float(stats.t.ppf(0.5 + level / 2.0, df)) * se

    # The ICC is estimated within arm (and site): between them lies the effect, not clustering.
    groups = indicator if codes is None else indicator * n_sites + codes

    icc = cluster_robust.intraclass_correlation(outcome, cluster_labels, groups).icc
    average_size = n / n_clusters
    gamma = math.sqrt(max(0.0, 1.0 - 2.0 * (average_size - 1.0) * icc / (n - 2)))
    treated_mask = indicator == 1.0
    spread = pooled_sd(
        float(outcome[treated_mask].std(ddof=1)),
        n_treated,
        float(outcome[~treated_mask].std(ddof=1)),
        n - n_treated,
    )
    if spread == 0:
        raise ValueError("y has no spread within either arm, so no effect size can be computed")
    factor = small_sample_correction(n) * gamma / spread
    effect = EffectSize(
        g=coefficient * factor,
        variance=(se * factor) ** 2,
        se=se * factor,
        ci=((coefficient - half_width) * factor, (coefficient + half_width) * factor),
        n_t=n_treated,
        n_c=n - n_treated,
        method="Hedges' g for a cluster design (WWC; CR2 interval)",
    )
    return ClusteredImpact(
        coefficient=coefficient,
        se=se,
        t=t_value,
        df=df,
        p=2.0 * float(stats.t.sf(abs(t_value), df)),
        ci=(coefficient - half_width, coefficient + half_width),
        effect_size=effect,
        covariate_coefficients={
            name: value for name, value in zip(names, fit.coefficients[2:], strict=False)
        },
        icc=icc,
        average_cluster_size=average_size,
        gamma=gamma,
        n=n,
        n_clusters=n_clusters,
        n_sites=n_sites,
        r_squared=1.0 - residual_ss / total_ss,
    )
