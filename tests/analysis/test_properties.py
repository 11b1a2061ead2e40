"""Invariants that must hold for any input (hypothesis property tests)."""

from __future__ import annotations

import math

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from analysis.comparisons import compare_continuous
from analysis.effect_sizes import hedges_g
from analysis.multiplicity import benjamini_hochberg
from analysis.power import power_two_sample
from analysis.randomization import assign

FAST = settings(max_examples=40, deadline=None)
means = st.floats(-100, 100, allow_nan=False)
sds = st.floats(0.1, 50, allow_nan=False)
sizes = st.integers(2, 500)


@FAST
@given(means, sds, sizes, means, sds, sizes)
def test_swapping_arms_flips_the_sign_of_g(mean_t, sd_t, n_t, mean_c, sd_c, n_c) -> None:
    forward = hedges_g(mean_t, sd_t, n_t, mean_c, sd_c, n_c)
    backward = hedges_g(mean_c, sd_c, n_c, mean_t, sd_t, n_t)
    assert math.isclose(forward.g, -backward.g, abs_tol=1e-12)
    assert math.isclose(forward.se, backward.se, rel_tol=1e-12)


@FAST
@given(means, sds, sizes, means, sds, sizes, st.floats(1e-3, 1e3), st.floats(-1e3, 1e3))
def test_g_is_invariant_to_the_scale_of_the_test(
    mean_t, sd_t, n_t, mean_c, sd_c, n_c, factor, shift
) -> None:
    original = hedges_g(mean_t, sd_t, n_t, mean_c, sd_c, n_c)
    rescaled = hedges_g(
        mean_t * factor + shift, sd_t * factor, n_t, mean_c * factor + shift, sd_c * factor, n_c
    )
    assert math.isclose(original.g, rescaled.g, rel_tol=1e-9, abs_tol=1e-9)


@FAST
@given(st.integers(0, 2**32 - 1), st.integers(3, 60), st.integers(3, 60))
def test_swapping_arms_flips_the_comparison(seed, n_t, n_c) -> None:
    rng = np.random.default_rng(seed)
    treatment, control = rng.normal(0.3, 1, n_t), rng.normal(0, 2, n_c)
    forward = compare_continuous(treatment, control)
    backward = compare_continuous(control, treatment)
    assert math.isclose(forward.test.statistic, -backward.test.statistic, rel_tol=1e-9)
    assert math.isclose(forward.p, backward.p, rel_tol=1e-9)
    assert math.isclose(forward.effect_size.g, -backward.effect_size.g, rel_tol=1e-9)
    assert math.isclose(forward.sensitivity.p, backward.sensitivity.p, rel_tol=1e-9)


@FAST
@given(st.lists(st.floats(0, 1, allow_nan=False), min_size=1, max_size=60))
def test_bh_is_monotone_and_bounded(pvalues) -> None:
    adjusted = benjamini_hochberg(pvalues)
    order = np.argsort(pvalues, kind="stable")
    ranked = np.array(adjusted)[order]
    assert np.all(np.diff(ranked) >= -1e-15)
    assert all(p - 1e-15 <= a <= 1.0 for p, a in zip(pvalues, adjusted, strict=True))


@FAST
@given(st.floats(0.01, 2.0), st.integers(2, 5000), st.integers(1, 5000))
def test_power_rises_with_n(effect, n, extra) -> None:
    smaller = power_two_sample(effect, n)
    larger = power_two_sample(effect, n + extra)
    assert 0.05 - 1e-12 <= smaller <= larger + 1e-12 <= 1.0 + 1e-12


@FAST
@given(
    st.integers(0, 2**63),
    st.lists(st.integers(0, 4), min_size=1, max_size=80),
    st.integers(2, 4),
)
def test_randomization_balances_every_block(seed, block_of_unit, n_arms) -> None:
    arms = [f"arm {i}" for i in range(n_arms)]
    units = list(range(len(block_of_unit)))
    result = assign(units, arms, seed, blocks=block_of_unit)
    assert set(result.mapping) == set(units)
    for block in set(block_of_unit):
        members = [u for u in units if block_of_unit[u] == block]
        counts = [sum(result.mapping[u] == arm for u in members) for arm in arms]
        assert max(counts) - min(counts) <= 1
    totals = [sum(arm == a for arm in result.mapping.values()) for a in arms]
    assert max(totals) - min(totals) <= 1
