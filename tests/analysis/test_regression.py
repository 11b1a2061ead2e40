"""ANCOVA against R's lm()."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from analysis.effect_sizes import cox_index, with_design_effect
from analysis.regression import ancova, clustered_impact, residual_share

# mtcars (R datasets; Henderson & Velleman 1981): mpg, wt and am (1 = manual) of 32 cars.
MPG = [21, 21, 22.8, 21.4, 18.7, 18.1, 14.3, 24.4, 22.8, 19.2, 17.8, 16.4, 17.3, 15.2, 10.4,
       10.4, 14.7, 32.4, 30.4, 33.9, 21.5, 15.5, 15.2, 13.3, 19.2, 27.3, 26, 30.4, 15.8, 19.7,
       15, 21.4]  # fmt: skip
WT = [2.62, 2.875, 2.32, 3.215, 3.44, 3.46, 3.57, 3.19, 3.15, 3.44, 3.44, 4.07, 3.73, 3.78,
      5.25, 5.424, 5.345, 2.2, 1.615, 1.835, 2.465, 3.52, 3.435, 3.84, 3.845, 1.935, 2.14,
      1.513, 3.17, 2.77, 3.57, 2.78]  # fmt: skip
AM = [1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 0, 0, 0, 0, 0, 1, 1, 1, 1,
      1, 1, 1]  # fmt: skip


def test_ancova_matches_lm_on_mtcars() -> None:
    """R: summary(lm(mpg ~ wt + am, data = mtcars)) -> am -0.02362 (SE 1.54565,
    t -0.015, p 0.988), wt -5.35281 (SE 0.78824), residual df 29, R^2 0.7528
    (output reproduced on many course pages, e.g. RPubs regression-models projects)."""
    result = ancova(MPG, AM, {"wt": WT})
    assert result.coefficient == pytest.approx(-0.02362, abs=5e-6)
    assert result.se == pytest.approx(1.54565, abs=5e-6)
    assert result.t == pytest.approx(-0.015, abs=5e-4)
    assert result.p == pytest.approx(0.988, abs=5e-4)
    assert result.df == 29
    assert result.covariate_coefficients["wt"] == pytest.approx(-5.35281, abs=5e-6)
    assert result.r_squared == pytest.approx(0.7528, abs=5e-5)


def test_ancova_without_covariates_matches_lm_d9() -> None:
    """R ?lm example (Dobson 1990, plant weights): summary(lm(weight ~ group)) ->
    groupTrt -0.3710, SE 0.3114, t -1.191, p 0.249, 18 df."""
    ctl = [4.17, 5.58, 5.18, 6.11, 4.50, 4.61, 5.17, 4.53, 5.33, 5.14]
    trt = [4.81, 4.17, 4.41, 3.59, 5.87, 3.83, 6.03, 4.89, 4.32, 4.69]
    result = ancova(ctl + trt, [0] * 10 + [1] * 10)
    assert result.coefficient == pytest.approx(-0.3710, abs=5e-5)
    assert result.se == pytest.approx(0.3114, abs=5e-5)
    assert result.t == pytest.approx(-1.191, abs=5e-4)
    assert result.p == pytest.approx(0.249, abs=5e-4)
    assert result.df == 18


def test_site_fixed_effects_equal_site_dummies() -> None:
    rng = np.random.default_rng(11)
    n = 600
    sites = rng.integers(0, 6, n)
    treated = rng.integers(0, 2, n)
    baseline = rng.normal(0, 1, n) + 0.3 * sites
    y = 0.25 * treated + 0.6 * baseline + 0.5 * sites + rng.normal(0, 1, n)
    result = ancova(y, treated, baseline, sites=sites)

    dummies = (sites[:, None] == np.arange(1, 6)).astype(float)
    design = np.column_stack([np.ones(n), treated, baseline, dummies])
    beta, residual_ss, *_ = np.linalg.lstsq(design, y, rcond=None)
    df = n - design.shape[1]
    covariance = residual_ss[0] / df * np.linalg.inv(design.T @ design)
    assert result.coefficient == pytest.approx(beta[1])
    assert result.se == pytest.approx(np.sqrt(covariance[1, 1]))
    assert result.df == df
    assert result.n_sites == 6


def test_adjusted_effect_size_uses_the_unadjusted_pooled_sd() -> None:
    """WWC Procedures Handbook 4.1, Appendix E: g = omega * adjusted difference / S_pooled,
    S_pooled the unadjusted within-arm SD of the outcome."""
    result = ancova(MPG, AM, {"wt": WT})
    y, arm = np.array(MPG), np.array(AM)
    sd_t, sd_c = y[arm == 1].std(ddof=1), y[arm == 0].std(ddof=1)
    pooled = np.sqrt((12 * sd_t**2 + 18 * sd_c**2) / 30)
    omega = 1 - 3 / (4 * 32 - 9)
    assert result.effect_size.g == pytest.approx(omega * result.coefficient / pooled)


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (([1, 2, 3, 4, 5], [0, 1, 2, 1, 0]), "treated must contain only 0"),
        (([1, 2, 3, 4, 5], [0, 1, 0, 1]), "same length"),
        (([1, 2, 3, 4, 5], [0, 0, 0, 0, 1]), "at least 2 students in each arm"),
        (([1, 2, float("nan"), 4, 5], [0, 0, 1, 1, 1]), "y contains 1 missing"),
        (([1, 2, 3, 4, 5, 6], [0, 0, 0, 1, 1, 1], [1, 2, 3]), "has 3 values but y has 6"),
    ],
)
def test_ancova_rejects_bad_input(arguments: tuple, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        ancova(*arguments)


def test_ancova_rejects_collinear_covariates() -> None:
    y = [3.0, 4.0, 5.0, 4.5, 6.0, 7.0, 6.5, 8.0]
    treated = [0, 0, 0, 0, 1, 1, 1, 1]
    x = np.arange(8.0)
    with pytest.raises(ValueError, match="collinear"):
        ancova(y, treated, {"x": x, "two x": 2 * x})


def test_ancova_rejects_treatment_constant_within_sites() -> None:
    y = [3.0, 4.0, 5.0, 4.5, 6.0, 7.0, 6.5, 8.0]
    treated = [0, 0, 0, 0, 1, 1, 1, 1]
    sites = ["a", "a", "a", "a", "b", "b", "b", "b"]
    with pytest.raises(ValueError, match="treated does not vary within any site"):
        ancova(y, treated, sites=sites)


def test_ancova_refuses_a_site_whose_students_are_all_in_one_arm() -> None:
    """An outside check found such a site's students counted in the effect size's groups
    (its SD and the small-sample factor) though they say nothing about the effect."""
    y = [3.0, 4.0, 5.0, 4.5, 6.0, 7.0, 6.5, 8.0, 7.5, 9.0]
    treated = [0, 0, 1, 1, 0, 0, 1, 1, 1, 1]
    sites = ["a", "a", "a", "a", "b", "b", "b", "b", "c", "c"]
    with pytest.raises(ValueError, match="site c has students in only one arm"):
        ancova(y, treated, sites=sites)


def test_an_outcome_equal_to_the_baseline_is_refused_not_given_a_tiny_p() -> None:
    """Issue 16: an outcome column equal to the baseline gave p = 1.9e-33 from floating-point
    noise. The residual variance is below 1e-8 of the outcome's, so the fit is refused."""
    rng = np.random.default_rng(4)
    baseline = rng.normal(200, 15, 60)
    treated = np.tile([0.0, 1.0], 30)
    with pytest.raises(ValueError, match="almost exactly a straight-line function of the arm"):
        ancova(baseline.copy(), treated, {"baseline": baseline})
    with pytest.raises(ValueError, match="copy of the baseline"):
        ancova(baseline * 1.0 + 7.0, treated, {"baseline": baseline}, sites=np.repeat([1, 2], 30))


def test_a_strong_but_real_baseline_is_still_fitted() -> None:
    rng = np.random.default_rng(5)
    baseline = rng.normal(200, 15, 60)
    treated = np.tile([0.0, 1.0], 30)
    outcome = baseline + 3.0 * treated + rng.normal(0, 0.5, 60)
    result = ancova(outcome, treated, {"baseline": baseline})
    assert result.r_squared > 0.99
    assert 2.0 < result.coefficient < 4.0


def test_residual_share_of_a_copy_is_zero_and_of_noise_is_near_one() -> None:
    x = np.arange(20.0)
    assert residual_share(x * 2 + 1, x) < 1e-20
    assert residual_share(np.r_[x[::2], x[1::2]], x) > 0.1
    assert residual_share([1.0, 2.0, np.nan, 4.0], [1.0, 2.0, 3.0, np.nan]) == 1.0


def _cluster_trial(seed: int = 7):
    """Two sites, 12 classrooms of 6-14 students, classrooms assigned within site."""
    rng = np.random.default_rng(seed)
    sizes = rng.integers(6, 15, 12)
    classroom = np.repeat(np.arange(12), sizes)
    site = (classroom >= 6).astype(int)
    treated = (classroom % 2).astype(float)
    baseline = rng.normal(200, 15, classroom.size) + rng.normal(0, 5, 12)[classroom]
    y = (
        20
        + 0.9 * baseline
        + 4.0 * treated
        + 3.0 * site
        + rng.normal(0, 4, 12)[classroom]
        + rng.normal(0, 8, classroom.size)
    )
    return y, treated, baseline, classroom, site


def test_clustered_impact_is_ols_with_cr2_and_the_wwc_cluster_g() -> None:
    """Coefficient: statsmodels OLS with site dummies. SE and df: CR2 and Satterthwaite as
    written out in tests/cr2_formula.py (Bell & McCaffrey 2002; Pustejovsky & Tipton 2018).
    g: WWC Procedures and Standards Handbook 5.0 / Hedges (2007) for cluster designs,
    omega * gamma * coefficient / S, gamma = sqrt(1 - 2 (n - 1) ICC / (N - 2)), n = N / M."""
    import statsmodels.api as sm

    from tests.cr2_formula import cr2

    y, treated, baseline, classroom, site = _cluster_trial()
    result = clustered_impact(y, treated, classroom, {"baseline": baseline}, sites=site)
    design = np.column_stack([np.ones(y.size), treated, baseline, site])
    fitted = sm.OLS(y, design).fit()
    coefficient, se, df = cr2(y, design, classroom, 1)
    assert result.coefficient == pytest.approx(fitted.params[1], rel=1e-10)
    assert result.coefficient == pytest.approx(coefficient, rel=1e-10)
    assert result.se == pytest.approx(se, rel=1e-10)
    assert result.df == pytest.approx(df, rel=1e-10)
    assert result.p == pytest.approx(2 * stats.t.sf(abs(coefficient / se), df), rel=1e-10)
    assert result.covariate_coefficients["baseline"] == pytest.approx(fitted.params[2], rel=1e-10)

    # ICC: one-way ANOVA within arm x site groups, by hand.
    groups = treated * 2 + site
    means = np.array([y[classroom == j].mean() for j in range(12)])
    sizes = np.bincount(classroom)
    group_means = np.array([y[groups == g].mean() for g in range(4)])
    cluster_group = np.array([groups[classroom == j][0] for j in range(12)]).astype(int)
    msb = (sizes * (means - group_means[cluster_group]) ** 2).sum() / (12 - 4)
    msw = ((y - means[classroom]) ** 2).sum() / (y.size - 12)
    n0 = (y.size - (sizes**2).sum() / y.size) / 11
    icc = max(0.0, (msb - msw) / (msb + (n0 - 1) * msw))
    assert result.icc == pytest.approx(icc, rel=1e-10)
    n_total, n_t = y.size, int(treated.sum())
    pooled = np.sqrt(
        (
            (n_t - 1) * y[treated == 1].var(ddof=1)
            + (n_total - n_t - 1) * y[treated == 0].var(ddof=1)
        )
        / (n_total - 2)
    )
    gamma = np.sqrt(1 - 2 * (n_total / 12 - 1) * icc / (n_total - 2))
    omega = 1 - 3 / (4 * n_total - 9)
    assert result.effect_size.g == pytest.approx(omega * gamma * coefficient / pooled, rel=1e-10)
    half = stats.t.ppf(0.975, df) * se
    assert result.effect_size.ci == pytest.approx(
        (
            (coefficient - half) * omega * gamma / pooled,
            (coefficient + half) * omega * gamma / pooled,
        ),
        rel=1e-10,
    )


def test_clustered_impact_refuses_what_cannot_be_estimated() -> None:
    y, treated, baseline, classroom, site = _cluster_trial()
    mixed = treated.copy()
    mixed[0] = 1 - mixed[0]
    with pytest.raises(ValueError, match="both arms"):
        clustered_impact(y, mixed, classroom)
    one_each = np.where(classroom < 2)[0]
    with pytest.raises(ValueError, match="at least 2 clusters"):
        clustered_impact(y[one_each], treated[one_each], classroom[one_each])
    with pytest.raises(ValueError, match="copy of the baseline"):
        clustered_impact(baseline + 1, treated, classroom, {"baseline": baseline})


def test_design_effect_multiplies_the_variance() -> None:
    effect = cox_index(0.6, 0.5, 100, 100)
    inflated = with_design_effect(effect, 1.5)
    assert inflated.g == effect.g
    assert inflated.variance == pytest.approx(1.5 * effect.variance)
    assert inflated.ci[1] - inflated.g == pytest.approx(stats.norm.ppf(0.975) * inflated.se)
    with pytest.raises(ValueError, match="at least 1"):
        with_design_effect(effect, 0.5)
