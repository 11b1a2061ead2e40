"""Cluster-robust OLS (analysis.cluster_robust) against sources we did not write.

- CR2 and its Satterthwaite degrees of freedom: R's clubSandwich 0.5.11 (with metafor 4.6.0, R
  4.4.1), coef_test(rma.uni(effect, var_constant_within_study, mods = <model>, method = "FE"),
  vcov = "CR2", cluster = study), as pinned by PyMARE in
  pymare/tests/data/clubsandwich_reference.json on pymare/tests/data/robumeta_correlated_effects.csv
  (github.com/neurostuff/PyMARE). A fixed-effect rma.uni is weighted least squares with weights
  1/v and clubSandwich's working model v; with weights constant within each study that is exactly
  OLS on the rows multiplied by sqrt(1/v) (the CR2 adjustment and the Satterthwaite df are
  invariant under that whitening), which is what these tests fit.
- CR0 and CR1: statsmodels (a test-only dependency), OLS(...).fit(cov_type="cluster"), with and
  without its small-sample correction.
"""

from __future__ import annotations

import numpy as np
import pytest
import statsmodels.api as sm

from analysis.cluster_robust import intraclass_correlation, ols
from tests.cr2_formula import cr2

STUDY = np.array(
    [
        1,
        2,
        2,
        2,
        2,
        3,
        3,
        4,
        4,
        4,
        5,
        6,
        6,
        6,
        6,
        6,
        7,
        7,
        8,
        8,
        8,
        9,
        9,
        10,
        10,
        10,
        10,
    ]
)
EFFECT = np.array(
    [
        -0.0073,
        1.3934,
        2.0386,
        0.9493,
        0.7504,
        0.277,
        0.0764,
        0.8485,
        -0.1053,
        0.0949,
        2.1082,
        0.5885,
        1.2319,
        -0.502,
        0.5587,
        0.8294,
        3.0638,
        -0.9789,
        -0.2288,
        -1.0822,
        -0.5791,
        -1.9666,
        -1.2482,
        0.7104,
        -1.2881,
        2.1542,
        1.1171,
    ]
)
VARIANCE = np.array(
    [
        0.19,
        0.209,
        0.209,
        0.209,
        0.209,
        0.163,
        0.163,
        0.193,
        0.193,
        0.193,
        0.076,
        0.133,
        0.133,
        0.133,
        0.133,
        0.133,
        0.282,
        0.282,
        0.396,
        0.396,
        0.396,
        0.214,
        0.214,
        0.352,
        0.352,
        0.352,
        0.352,
    ]
)
WITHIN = np.array(
    [
        -1.624,
        -0.305,
        1.437,
        0.593,
        -0.724,
        0.332,
        -0.057,
        0.351,
        -0.283,
        0.162,
        0.036,
        -0.511,
        -0.372,
        -2.254,
        -1.259,
        -1.044,
        3.284,
        -0.622,
        -0.445,
        -0.992,
        -2.323,
        -0.882,
        0.083,
        0.867,
        -0.993,
        3.247,
        0.318,
    ]
)
BETWEEN = np.array(
    [
        -0.882,
        -0.934,
        -0.934,
        -0.934,
        -0.934,
        -1.085,
        -1.085,
        -0.32,
        -0.32,
        -0.32,
        -1.797,
        -0.333,
        -0.333,
        -0.333,
        -0.333,
        -0.333,
        -0.201,
        -0.201,
        -0.997,
        -0.997,
        -0.997,
        1.334,
        1.334,
        -0.882,
        -0.882,
        -0.882,
        -0.882,
    ]
)

# clubSandwich (see the module doc): estimate, SE and Satterthwaite df per coefficient.
CLUBSANDWICH_FE = {
    "intercept": ([], [0.53753218061181063], [0.259239381734923], [6.2235205324956793]),
    "within": (
        [WITHIN],
        [0.68633516793392213, 0.582738074385725],
        [0.28065599823373383, 0.12111033741211959],
        [6.9096550829395724, 4.1724225338639247],
    ),
    "both": (
        [WITHIN, BETWEEN],
        [0.17196632888318647, 0.51897290532546325, -0.82522160789383092],
        [0.33492272967249914, 0.1665475485776011, 0.28829709120047597],
        [2.8405811635263905, 4.1822109634869236, 2.0287125209396089],
    ),
}


@pytest.mark.parametrize("model", list(CLUBSANDWICH_FE))
def test_cr2_and_satterthwaite_df_match_clubsandwich(model):
    columns, beta, se, df = CLUBSANDWICH_FE[model]
    root_weight = 1.0 / np.sqrt(VARIANCE)
    design = np.column_stack([np.ones_like(EFFECT), *columns]) * root_weight[:, None]
    fit = ols(EFFECT * root_weight, design, STUDY, kind="CR2")
    assert fit.coefficients == pytest.approx(beta, rel=1e-10)
    assert fit.se == pytest.approx(se, rel=1e-10)
    assert fit.df == pytest.approx(df, rel=1e-10)
    assert fit.n_clusters == 10


@pytest.mark.parametrize(("kind", "correction"), [("CR1", True), ("CR0", False)])
def test_cr0_and_cr1_match_statsmodels(kind, correction):
    design = np.column_stack([np.ones_like(EFFECT), WITHIN, BETWEEN])
    expected = sm.OLS(EFFECT, design).fit(
        cov_type="cluster", cov_kwds={"groups": STUDY, "use_correction": correction}
    )
    fit = ols(EFFECT, design, STUDY, kind=kind)
    assert fit.coefficients == pytest.approx(list(expected.params), rel=1e-12)
    assert fit.se == pytest.approx(list(expected.bse), rel=1e-10)
    assert fit.df == (9.0, 9.0, 9.0)


def test_cr2_equals_the_published_formula_written_out_with_n_by_n_matrices():
    """tests/cr2_formula.py writes Bell & McCaffrey (2002) and Pustejovsky & Tipton (2018) out
    with the full N x N hat matrix, independently of the module's cluster-by-cluster algebra."""
    rng = np.random.default_rng(16)
    clusters = np.repeat(np.arange(8), [3, 5, 4, 6, 2, 5, 4, 3])
    n = clusters.size
    design = np.column_stack([np.ones(n), clusters % 2, rng.normal(size=n)])
    effects = rng.normal(size=clusters.max() + 1)[clusters]
    y = design @ [1.0, 0.3, 0.5] + effects + rng.normal(size=n)
    fit = ols(y, design, clusters)
    for column in range(3):
        coefficient, se, df = cr2(y, design, clusters, column)
        assert fit.coefficients[column] == pytest.approx(coefficient, rel=1e-10)
        assert fit.se[column] == pytest.approx(se, rel=1e-10)
        assert fit.df[column] == pytest.approx(df, rel=1e-10)


def test_icc_of_balanced_clusters_equals_the_anova_formula():
    """Balanced one-way layout: ICC = (MSB - MSW) / (MSB + (n - 1) MSW) (Donner & Koval 1980),
    with the group (arm) means removed first."""
    values = np.array([1.0, 2, 3, 4, 5, 6, 2, 3, 4, 9, 9, 10])
    clusters = np.repeat([1, 2, 3, 4], 3)
    arms = np.repeat(["c", "t"], 6)
    result = intraclass_correlation(values, clusters, arms)
    means = np.array([2.0, 5, 3, 28 / 3])
    arm_means = np.repeat([3.5, 37 / 6], 2)
    msb = 3 * ((means - arm_means) ** 2).sum() / 2
    msw = ((values - np.repeat(means, 3)) ** 2).sum() / 8
    assert result.icc == pytest.approx((msb - msw) / (msb + 2 * msw), rel=1e-12)
    assert result.average_cluster_size == pytest.approx(3.0)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: ols([1.0, 2, 3], np.ones((3, 1)), [1, 1, 1]), "at least 2 clusters"),
        (lambda: ols([1.0, 2, 3], np.ones((3, 2)), [1, 2, 2]), "collinear"),
        (lambda: ols([1.0, 2, 3], np.ones((3, 1)), [1, 2]), "one cluster per student"),
        (lambda: ols([1.0, 2, 3], np.ones((3, 1)), [1, 2, 2], kind="HC3"), "kind must be"),
        (lambda: intraclass_correlation([1.0, 2, 3], [1, 2, 3], [0, 1, 1]), "too few"),
        # Found by an outside check: one cluster per arm gave an SE of 1e-16, and values that
        # never vary gave an ICC of 0 where it is 0/0.
        (
            lambda: ols([1.0, 2, 3, 5], np.c_[np.ones(4), [0, 0, 1, 1]], [1, 1, 2, 2]),
            "more clusters",
        ),
        (lambda: intraclass_correlation([1.0] * 6, [1, 1, 2, 2, 3, 3]), "undefined"),
    ],
)
def test_rejects_bad_input(call, message):
    with pytest.raises(ValueError, match=message):
        call()
