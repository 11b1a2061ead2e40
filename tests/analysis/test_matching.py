"""The matching round's optimizer: known optima, diversity, explanations, and brute force."""

from __future__ import annotations

import itertools
import math
import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import Bounds, LinearConstraint, milp

from analysis import matching
from analysis.matching import (
    HIGH_FRL_NOT_MET,
    LOCALES_NOT_MET,
    NO_HIGH_FRL_VOLUNTEER,
    ONE_LOCALE_ONLY,
    TOO_FEW_VOLUNTEERS,
    VOLUNTEERS_TAKEN,
    assign_sites,
)

NAN = math.nan


def test_three_districts_two_calls_optimum_worked_by_hand():
    # Districts A, B, C (rows) and calls X, Y (columns); one site each, one pilot per district.
    fit = [[9, 8], [8, 1], [2, 2]]
    # Worked by hand, every way to give X and Y one different district each:
    #   A-X + B-Y = 9 + 1 = 10     B-X + A-Y = 8 + 8 = 16  <- the optimum
    #   A-X + C-Y = 9 + 2 = 11     B-X + C-Y = 8 + 2 = 10
    #   C-X + A-Y = 2 + 8 = 10     C-X + B-Y = 2 + 1 = 3
    # Greedy (best pair first: A-X, then C-Y) would stop at 11.
    result = assign_sites(fit, [1, 1], [1, 1, 1], diversity_penalty=0)
    assert sorted(result.assignment) == [(0, 1), (1, 0)]
    assert result.objective == pytest.approx(16)
    assert result.lp_bound == pytest.approx(16)
    assert result.gap == pytest.approx(0)
    assert result.status == "optimal"
    assert result.shortfalls == []


def test_proposals_carry_their_reasons():
    fit = [[9, 8], [8, 1], [2, 2]]
    result = assign_sites(fit, [1, 1], [1, 1, 1], diversity_penalty=0)
    by_call = {proposal.call: proposal for proposal in result.proposals}
    # B is X's second-best volunteer (A fits it better, but A is worth more to Y).
    assert (by_call[0].district, by_call[0].rank_among_volunteers, by_call[0].volunteers) == (
        1,
        2,
        3,
    )
    assert (by_call[1].district, by_call[1].rank_among_volunteers) == (0, 1)


def test_capacities_hold_with_more_sites_and_concurrent_pilots():
    fit = np.full((4, 3), 5.0)
    result = assign_sites(fit, [2, 3, 1], [2, 1, 1, 2], diversity_penalty=0)
    calls = np.bincount([c for _, c in result.assignment], minlength=3)
    districts = np.bincount([d for d, _ in result.assignment], minlength=4)
    assert (calls <= [2, 3, 1]).all() and (districts <= [2, 1, 1, 2]).all()
    assert result.objective == pytest.approx(30)  # all 6 district slots used


def test_locale_diversity_is_honoured_when_volunteers_allow():
    # Two city districts fit best, but a suburb volunteer gives the call a second locale.
    fit = [[10], [9], [6]]
    locales = ["city", "city", "suburb"]
    without = assign_sites(fit, [2], [1, 1, 1], locales, diversity_penalty=0)
    assert sorted(without.assignment) == [(0, 0), (1, 0)]
    assert [s.code for s in without.shortfalls] == [LOCALES_NOT_MET]
    diverse = assign_sites(fit, [2], [1, 1, 1], locales)
    assert sorted(diverse.assignment) == [(0, 0), (2, 0)]
    assert diverse.shortfalls == []
    suburb = next(p for p in diverse.proposals if p.district == 2)
    assert suburb.only_site_in_its_locale


def test_high_frl_district_is_included_when_one_volunteered():
    fit = [[10], [9], [4]]
    result = assign_sites(fit, [2], [1, 1, 1], ["city", "town", "city"], [False, False, True])
    assert (2, 0) in result.assignment
    assert result.shortfalls == []
    assert next(p for p in result.proposals if p.district == 2).high_frl


def test_diversity_that_volunteers_do_not_allow_is_reported_not_forced():
    fit = [[10, 8], [9, NAN]]
    result = assign_sites(fit, [2, 2], [1, 1], ["rural", "rural"], [False, False])
    assert sorted(result.assignment) == [(0, 0), (1, 0)] or sorted(result.assignment) == [
        (0, 1),
        (1, 0),
    ]
    codes = {(s.call, s.code) for s in result.shortfalls}
    assert (0, ONE_LOCALE_ONLY) in codes and (0, NO_HIGH_FRL_VOLUNTEER) in codes
    assert result.penalty == 0


def test_diversity_the_round_cannot_meet_is_reported_with_numbers():
    # The only high-FRL volunteer can host one pilot; two calls want one.
    fit = [[5, 5], [9, NAN], [NAN, 9]]
    result = assign_sites(fit, [2, 2], [1, 1, 1], ["city", "town", "rural"], [True, False, False])
    missed = [s for s in result.shortfalls if s.code == HIGH_FRL_NOT_MET]
    assert len(missed) == 1
    assert result.penalty > 0
    assert result.lp_bound >= result.objective - result.penalty - 1e-9


def test_too_few_volunteers_and_volunteers_taken_are_told_apart():
    fit = [[9, 7], [NAN, 6]]
    result = assign_sites(fit, [3, 1], [1, 1], diversity_penalty=0)
    by_call = {s.call: s for s in result.shortfalls}
    assert by_call[0].code == TOO_FEW_VOLUNTEERS
    assert by_call[0].numbers == {"wanted": 3, "assigned": 1, "eligible": 1, "volunteers": 1}
    crowded = assign_sites([[9, 7]], [1, 1], [1], diversity_penalty=0)
    assert [s.code for s in crowded.shortfalls] == [VOLUNTEERS_TAKEN]


def test_a_round_with_nobody_eligible_is_explained_not_crashed():
    result = assign_sites([[NAN, NAN]], [2, 1], [1])
    assert result.status == "empty"
    assert result.assignment == []
    assert "nothing to assign" in result.message
    assert {s.code for s in result.shortfalls} == {TOO_FEW_VOLUNTEERS}
    full = assign_sites([[5.0]], [1], [0])
    assert full.status == "empty"
    assert full.shortfalls[0].numbers == {
        "wanted": 1,
        "eligible": 0,
        "assigned": 0,
        "volunteers": 1,
    }
    assert assign_sites(np.zeros((0, 0)), [], []).status == "empty"


def test_existing_sites_count_toward_diversity():
    # The call already has a city site above the median FRL: a town site completes it.
    fit = [[9], [5]]
    result = assign_sites(
        fit,
        [1],
        [1, 1],
        ["city", "town"],
        [False, False],
        call_locales_held=[["city"]],
        call_has_high_frl=[True],
    )
    assert result.assignment == [(1, 0)]
    assert result.shortfalls == []


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (([[1, 2]], [1], [1]), "sites_wanted has 1 values but there are 2 calls"),
        (([[1, 2]], [1, 1], [1, 1]), "district_capacity has 2 values but there are 1 districts"),
        (([1, 2], [1], [1]), "fit must be a matrix"),
        (([[-1.0]], [1], [1]), "must not be negative"),
        (([[math.inf]], [1], [1]), "+inf"),
        (([["a"]], [1], [1]), "matrix of numbers"),
        (([[1.0]], [-1], [1]), "sites_wanted[0] must not be negative"),
        (([[1.0]], [1], [1.5]), "district_capacity[0] must be a whole number"),
        (([[1.0]], [1], [1], ["city", "town"]), "locale_of_district has 2 values"),
    ],
)
def test_impossible_input_is_refused_with_a_message(arguments, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        assign_sites(*arguments)


def test_time_limit_must_be_positive():
    with pytest.raises(ValueError, match="time_limit"):
        assign_sites([[1.0]], [1], [1], time_limit=0)


# --- brute force on random small rounds ------------------------------------------------------

PENALTY = 15.0


def _brute_force(fit, wanted, capacity, locales, high):
    """The best penalized objective over every feasible subset of eligible pairs."""
    n_districts, n_calls = fit.shape
    pairs = [
        (d, c)
        for d in range(n_districts)
        for c in range(n_calls)
        if not math.isnan(fit[d, c]) and wanted[c] > 0 and capacity[d] > 0
    ]
    locale_target, frl_target = [], []
    for c in range(n_calls):
        offered = {locales[d] for d, cc in pairs if cc == c and locales[d] is not None}
        locale_target.append(min(2, len(offered)) if wanted[c] >= 2 else 0)
        frl_target.append(int(any(high[d] for d, cc in pairs if cc == c)))
    best = -math.inf
    for size in range(len(pairs) + 1):
        for subset in itertools.combinations(pairs, size):
            calls = np.bincount([c for _, c in subset], minlength=n_calls)
            districts = np.bincount([d for d, _ in subset], minlength=n_districts)
            if (calls > wanted).any() or (districts > capacity).any():
                continue
            value = sum(fit[d, c] for d, c in subset)
            for c in range(n_calls):
                spanned = {locales[d] for d, cc in subset if cc == c and locales[d] is not None}
                value -= PENALTY * max(0, locale_target[c] - len(spanned))
                has_high = any(high[d] for d, cc in subset if cc == c)
                value -= PENALTY * (frl_target[c] - int(has_high and frl_target[c] > 0))
            best = max(best, value)
    return best


@st.composite
def small_rounds(draw):
    n_districts = draw(st.integers(1, 4))
    n_calls = draw(st.integers(1, 3))
    cells = st.one_of(st.just(NAN), st.integers(0, 10).map(float))
    fit = np.array(
        draw(
            st.lists(
                st.lists(cells, min_size=n_calls, max_size=n_calls),
                min_size=n_districts,
                max_size=n_districts,
            )
        )
    )
    wanted = draw(st.lists(st.integers(0, 3), min_size=n_calls, max_size=n_calls))
    capacity = draw(st.lists(st.integers(0, 2), min_size=n_districts, max_size=n_districts))
    locales = draw(
        st.lists(
            st.sampled_from(["city", "rural", None]), min_size=n_districts, max_size=n_districts
        )
    )
    high = draw(st.lists(st.booleans(), min_size=n_districts, max_size=n_districts))
    return fit, wanted, capacity, locales, high


@settings(max_examples=150, deadline=None)
@given(small_rounds())
def test_random_small_rounds_match_brute_force_and_never_exceed_capacity(round_):
    fit, wanted, capacity, locales, high = round_
    result = assign_sites(fit, wanted, capacity, locales, high, diversity_penalty=PENALTY)
    calls = np.bincount([c for _, c in result.assignment], minlength=fit.shape[1])
    districts = np.bincount([d for d, _ in result.assignment], minlength=fit.shape[0])
    assert (calls <= wanted).all() and (districts <= capacity).all()
    assert all(not math.isnan(fit[d, c]) for d, c in result.assignment)
    assert len(set(result.assignment)) == len(result.assignment)
    achieved = result.objective - result.penalty
    assert achieved == pytest.approx(_brute_force(fit, wanted, capacity, locales, high), abs=1e-6)
    assert result.lp_bound >= achieved - 1e-6


# --- column generation against the whole model -------------------------------------------------
# The module solves the LP over a few pairs at a time and prices the rest (and, when the
# relaxation is fractional, fixes pairs by reduced cost before the MILP). The reference below
# is the model of the module's docstring built over every eligible pair at once and handed to
# HiGHS whole, as the module did before: both must give the same optimum and LP bound.


def _whole_model(fit, wanted, capacity, locales, high, penalty, held):
    """(best penalized objective, LP relaxation bound) of the round over every pair at once."""
    n_districts, n_calls = fit.shape
    pairs = [
        (d, c)
        for d in range(n_districts)
        for c in range(n_calls)
        if not math.isnan(fit[d, c]) and wanted[c] > 0 and capacity[d] > 0
    ]
    keys = sorted(
        {(c, locales[d]) for d, c in pairs if locales[d] is not None and locales[d] not in held[c]}
    )
    target = {}
    for c in range(n_calls):
        need = max(0, 2 - len(held[c])) if len(held[c]) + wanted[c] >= 2 else 0
        target[c] = min(need, sum(1 for cc, _ in keys if cc == c))
    ys = [key for key in keys if target[key[0]] > 0]
    locale_calls = [c for c in range(n_calls) if target[c] > 0]
    frl_calls = sorted({c for d, c in pairs if high[d]})
    n_x, n_y = len(pairs), len(ys)
    n_vars = n_x + n_y + len(locale_calls) + len(frl_calls)
    rows, lower, upper = [], [], []

    def row(entries, lo, hi):
        line = np.zeros(n_vars)
        for index, value in entries:
            line[index] = value
        rows.append(line)
        lower.append(lo)
        upper.append(hi)

    for c in range(n_calls):
        row([(i, 1) for i, (_, cc) in enumerate(pairs) if cc == c], -np.inf, wanted[c])
    for d in range(n_districts):
        row([(i, 1) for i, (dd, _) in enumerate(pairs) if dd == d], -np.inf, capacity[d])
    for j, (c, label) in enumerate(ys):
        members = [i for i, (d, cc) in enumerate(pairs) if cc == c and locales[d] == label]
        row([(n_x + j, 1)] + [(i, -1) for i in members], -np.inf, 0)
    for k, c in enumerate(locale_calls):
        own = [(n_x + j, 1) for j, (cc, _) in enumerate(ys) if cc == c]
        row(own + [(n_x + n_y + k, 1)], target[c], np.inf)
    for k, c in enumerate(frl_calls):
        members = [(i, 1) for i, (d, cc) in enumerate(pairs) if cc == c and high[d]]
        row(members + [(n_x + n_y + len(locale_calls) + k, 1)], 1, np.inf)
    costs = np.concatenate(
        [[-fit[d, c] for d, c in pairs], np.zeros(n_y), np.full(n_vars - n_x - n_y, penalty)]
    )
    bounds = Bounds(
        np.zeros(n_vars),
        np.concatenate(
            [np.ones(n_x + n_y), [target[c] for c in locale_calls], np.ones(len(frl_calls))]
        ),
    )
    constraints = LinearConstraint(np.array(rows), lower, upper)
    integrality = np.concatenate([np.ones(n_x), np.zeros(n_vars - n_x)])
    whole = milp(costs, constraints=constraints, bounds=bounds, integrality=integrality)
    relaxed = milp(costs, constraints=constraints, bounds=bounds)
    return -whole.fun, -relaxed.fun


def _dense_round(seed, n_districts, n_calls, density, fit_values):
    rng = np.random.default_rng(seed)
    fit = rng.choice(fit_values, (n_districts, n_calls)).astype(float)
    fit[rng.random((n_districts, n_calls)) > density] = NAN
    wanted = rng.integers(1, 4, n_calls).tolist()
    capacity = rng.integers(1, 3, n_districts).tolist()
    locales = rng.choice(["city", "rural", "town"], n_districts).tolist()
    high = (rng.random(n_districts) < 0.2).tolist()
    held = [["city"] if rng.random() < 0.2 else [] for _ in range(n_calls)]
    return fit, wanted, capacity, locales, high, held


def _check_against_whole_model(fit, wanted, capacity, locales, high, held):
    result = assign_sites(
        fit, wanted, capacity, locales, high, call_locales_held=held, diversity_penalty=PENALTY
    )
    best, bound = _whole_model(fit, wanted, capacity, locales, high, PENALTY, held)
    calls = np.bincount([c for _, c in result.assignment], minlength=fit.shape[1])
    districts = np.bincount([d for d, _ in result.assignment], minlength=fit.shape[0])
    assert (calls <= wanted).all() and (districts <= capacity).all()
    assert all(not math.isnan(fit[d, c]) for d, c in result.assignment)
    assert len(set(result.assignment)) == len(result.assignment)
    assert result.objective - result.penalty == pytest.approx(best, abs=1e-6)
    assert result.lp_bound == pytest.approx(bound, abs=1e-6)
    assert result.status == "optimal"
    return result


@pytest.mark.parametrize("seed", range(6))
def test_rounds_with_many_volunteers_per_call_match_the_whole_model(seed):
    # 40-80 districts volunteering for most of 6-12 calls: most pairs start outside the LP.
    rng = np.random.default_rng(seed)
    fit_values = np.round(rng.uniform(0, 100, 50), 1) if seed % 2 else np.arange(11)
    round_ = _dense_round(
        seed, int(rng.integers(40, 80)), int(rng.integers(6, 12)), 0.8, fit_values
    )
    _check_against_whole_model(*round_)


def test_pricing_and_fixing_by_reduced_cost_reach_the_whole_models_optimum(monkeypatch):
    # One pair per call to start with: many pricing rounds. These seeds give fractional
    # relaxations (found by search), where the MILP runs first over the LP's pairs and then
    # over the pairs whose reduced cost leaves room for a better assignment.
    monkeypatch.setattr(matching, "PAIRS_PER_SITE", 0)
    monkeypatch.setattr(matching, "PAIRS_EXTRA", 1)
    milps = []
    milp_over = matching._milp_over
    monkeypatch.setattr(
        matching, "_milp_over", lambda *args: milps.append(args) or milp_over(*args)
    )
    for seed in (1179, 1703, 1749):
        rng = np.random.default_rng(seed)
        n_districts, n_calls = int(rng.integers(8, 25)), int(rng.integers(2, 6))
        fit = rng.integers(0, 11, (n_districts, n_calls)).astype(float)
        fit[rng.random((n_districts, n_calls)) < 0.2] = NAN
        wanted = rng.integers(1, 4, n_calls).tolist()
        capacity = rng.integers(1, 3, n_districts).tolist()
        locales = rng.choice(["city", "rural", "town"], n_districts).tolist()
        high = (rng.random(n_districts) < 0.2).tolist()
        held = [[] for _ in range(n_calls)]
        _check_against_whole_model(fit, wanted, capacity, locales, high, held)
    assert len(milps) == 6  # two MILPs each: the second over pairs fixing did not rule out
