"""Meta-analysis against metafor's documented results for the BCG vaccine data.

Data: dat.bcg (Colditz et al. 1994), as printed in the metafor README
(github.com/wviechtb/metafor, README.md, "Example"); log risk ratios by escalc(measure="RR").
"""

from __future__ import annotations

import numpy as np
import pytest

from analysis.meta import fixed_effect, random_effects

TPOS = np.array([4, 6, 3, 62, 33, 180, 8, 505, 29, 17, 186, 5, 27])
TNEG = np.array([119, 300, 228, 13536, 5036, 1361, 2537, 87886, 7470, 1699, 50448, 2493, 16886])
CPOS = np.array([11, 29, 11, 248, 47, 372, 10, 499, 45, 65, 141, 3, 29])
CNEG = np.array([128, 274, 209, 12619, 5761, 1079, 619, 87892, 7232, 1600, 27197, 2338, 17825])
YI = np.log(TPOS / (TPOS + TNEG)) - np.log(CPOS / (CPOS + CNEG))
VI = 1 / TPOS - 1 / (TPOS + TNEG) + 1 / CPOS - 1 / (CPOS + CNEG)


def test_log_risk_ratios_match_escalc() -> None:
    """metafor README: yi -0.8893 (vi 0.3256) for Aronson 1948, 0.4459 (0.5325) for
    Comstock & Webster 1969."""
    assert YI[0] == pytest.approx(-0.8893, abs=5e-5)
    assert VI[0] == pytest.approx(0.3256, abs=5e-5)
    assert YI[11] == pytest.approx(0.4459, abs=5e-5)
    assert VI[11] == pytest.approx(0.5325, abs=5e-5)


def test_reml_random_effects() -> None:
    """metafor: rma(yi, vi, data = dat) -> estimate -0.7145, se 0.1798, zval -3.9744,
    ci -1.0669 to -0.3622; tau^2 0.3132; I^2 92.22 %; Q(df = 12) = 152.2330
    (RoBMA vignette "Bayesian Meta-Analysis", which prints metafor's output)."""
    result = random_effects(YI, VI)
    assert result.estimate == pytest.approx(-0.7145, abs=5e-5)
    assert result.se == pytest.approx(0.1798, abs=5e-5)
    assert result.statistic == pytest.approx(-3.9744, abs=5e-4)
    assert result.ci == pytest.approx((-1.0669, -0.3622), abs=5e-5)
    assert result.tau2 == pytest.approx(0.3132, abs=5e-5)
    assert result.i2 == pytest.approx(0.9222, abs=5e-5)
    assert result.q == pytest.approx(152.2330, abs=5e-4)
    assert result.q_df == 12
    assert result.k == 13


def test_reml_with_knapp_hartung() -> None:
    """metafor README: rma(yi, vi, data = dat, test = "knha") -> estimate -0.7145,
    se 0.1808, tval -3.9522, df 12, pval 0.0019, ci -1.1084 to -0.3206; and
    predict(res, transf = exp, digits = 2) -> pi.lb 0.14, pi.ub 1.76."""
    result = random_effects(YI, VI, knapp_hartung=True)
    assert result.se == pytest.approx(0.1808, abs=5e-5)
    assert result.statistic == pytest.approx(-3.9522, abs=5e-4)
    assert result.df == 12
    assert result.p == pytest.approx(0.0019, abs=5e-5)
    assert result.ci == pytest.approx((-1.1084, -0.3206), abs=5e-5)
    assert np.exp(result.prediction_interval) == pytest.approx((0.14, 1.76), abs=5e-3)


def test_dersimonian_laird() -> None:
    """metafor tests/testthat/test_misc_metan_vs_rma.uni_with_dat.bcg.r (checked against
    Stata's metan): method = "DL" -> -0.7141, ci -1.0644 to -0.3638, zval -3.9952,
    tau^2 0.3088, I^2 92.1173 %."""
    result = random_effects(YI, VI, method="DL")
    assert result.estimate == pytest.approx(-0.7141, abs=5e-5)
    assert result.ci == pytest.approx((-1.0644, -0.3638), abs=5e-5)
    assert result.statistic == pytest.approx(-3.9952, abs=5e-4)
    assert result.tau2 == pytest.approx(0.3088, abs=5e-5)
    assert result.i2 == pytest.approx(0.921173, abs=5e-6)


def test_fixed_effect() -> None:
    """Same metafor test file: method = "FE" -> -0.4303, ci -0.5097 to -0.3509,
    zval -10.6247, QE 152.2330."""
    result = fixed_effect(YI, VI)
    assert result.estimate == pytest.approx(-0.4303, abs=5e-5)
    assert result.ci == pytest.approx((-0.5097, -0.3509), abs=5e-5)
    assert result.statistic == pytest.approx(-10.6247, abs=5e-4)
    assert result.q == pytest.approx(152.2330, abs=5e-4)
    assert result.tau2 == 0.0
    assert result.prediction_interval == result.ci


def test_homogeneous_studies_have_no_heterogeneity() -> None:
    result = random_effects([0.2, 0.2, 0.2], [0.01, 0.02, 0.03])
    assert result.tau2 == 0.0
    assert result.i2 == 0.0
    assert result.estimate == pytest.approx(0.2)


def test_weights_and_shrinkage() -> None:
    result = random_effects(YI, VI)
    assert sum(result.weights) == pytest.approx(1.0)
    shrunk = np.array(result.shrunken_estimates)
    # Each shrunken estimate lies between the pilot's own estimate and the pooled one.
    assert np.all((shrunk - YI) * (shrunk - result.estimate) <= 1e-12)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: random_effects([0.1], [0.01]), "estimates has 1 value"),
        (lambda: random_effects([0.1, 0.2, 0.3], [0.01, 0.02]), "same length"),
        (lambda: random_effects([0.1, 0.2], [0.01, 0.0]), "variances must all be greater"),
        (lambda: random_effects([0.1, 0.2], [0.01, 0.02], method="PM"), "method must be one"),
        (lambda: fixed_effect([0.1, float("nan")], [0.01, 0.02]), "missing"),
    ],
)
def test_rejects_bad_input(call, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        call()


# metafor 4.6.0 (R 4.4.1), rma.uni(y, v, method = "REML", test = "knha" / "adhoc"), as pinned by
# PyMARE in pymare/tests/data/metafor_reference.json (github.com/neurostuff/PyMARE, commit
# 613c06b), data pymare/tests/data/metafor_small_sample.csv. In both cases the pilots agree more
# than their variances predict (q < 1), so the untruncated ("knha") SE is below the plain
# random-effects SE and the truncated ("adhoc") SE equals it.
EQUAL_K5 = (
    [-0.375707, 0.087667, 3.101687, -0.06849, 0.31128],
    [0.8, 0.929221, 0.970525, 1.094569, 1.2],
    {
        "z": (0.6049786977020821, 0.643867315543219),
        "knha": (0.6378204194703471, 0.3965799664439656, -1.165894683931567, 2.375852079335731),
        "adhoc": (0.643867315543219, 0.40062052901477246, -1.182683558934732, 2.392640954338896),
    },
)
EXTREME_K10 = (
    [0.016779, 0.796272, 1.404543, -0.487727, 2.690687,
     0.731744, 2.31175, 0.109614, 0.858999, -2.844727],
    [0.001, 0.055928, 0.521481, 0.060657, 3.638258, 0.016879, 0.00968, 0.013116, 2.818472, 10.0],
    {
        "z": (0.6868897020739435, 0.3448079418402753),
        "knha": (0.327912388479936, 0.06567690988442636, -0.054899656296211186, 1.4286790604440982),
        "adhoc": (
            0.3448079418402753, 0.07753460955098063, -0.09312005334974216, 1.4668994574976293
        ),
    },
)  # fmt: skip


@pytest.mark.parametrize("case", [EQUAL_K5, EXTREME_K10], ids=["equal_k5", "extreme_k10"])
def test_knapp_hartung_truncated_by_default_matches_metafor_adhoc(case) -> None:
    y, v, expected = case
    estimate, plain_se = expected["z"]
    se, p, low, high = expected["adhoc"]
    result = random_effects(y, v, knapp_hartung=True)
    assert result.estimate == pytest.approx(estimate, rel=1e-6)
    assert result.se == pytest.approx(se, rel=1e-6)
    assert result.se == pytest.approx(plain_se, rel=1e-6)
    assert result.p == pytest.approx(p, rel=1e-5)
    assert result.ci == pytest.approx((low, high), rel=1e-5)
    assert result.df == len(y) - 1
    assert "truncated" in result.method


@pytest.mark.parametrize("case", [EQUAL_K5, EXTREME_K10], ids=["equal_k5", "extreme_k10"])
def test_knapp_hartung_untruncated_option_matches_metafor_knha(case) -> None:
    y, v, expected = case
    se, p, low, high = expected["knha"]
    result = random_effects(y, v, knapp_hartung=True, knapp_hartung_variant="untruncated")
    assert result.se == pytest.approx(se, rel=1e-6)
    assert result.p == pytest.approx(p, rel=1e-5)
    assert result.ci == pytest.approx((low, high), rel=1e-5)
    assert "untruncated" in result.method


def test_truncated_interval_is_never_narrower_than_the_z_interval_when_q_is_small() -> None:
    """Three pilots that agree more closely than their variances predict (Q < k - 1): the
    untruncated adjustment is more confident than the plain z test; truncated, the SE cannot
    fall below the plain random-effects SE, so the t test on 2 df is the more cautious one."""
    y, v = [0.20, 0.21, 0.19], [0.011, 0.011, 0.011]
    plain = random_effects(y, v)
    truncated = random_effects(y, v, knapp_hartung=True)
    untruncated = random_effects(y, v, knapp_hartung=True, knapp_hartung_variant="untruncated")
    assert plain.q < 2
    assert untruncated.se < plain.se
    assert truncated.se == pytest.approx(plain.se)
    assert truncated.p > plain.p > untruncated.p
    assert truncated.ci[1] - truncated.ci[0] > plain.ci[1] - plain.ci[0]


def test_rejects_unknown_knapp_hartung_variant() -> None:
    with pytest.raises(ValueError, match="knapp_hartung_variant must be one of"):
        random_effects([0.1, 0.2], [0.01, 0.02], knapp_hartung=True, knapp_hartung_variant="x")
