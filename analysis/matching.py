"""A matching round: assign volunteer districts to pilot calls, maximizing total fit.

The model (a mixed-integer program solved by HiGHS through scipy.optimize.milp):

- x[d, c] in {0, 1} for every eligible (district, call) pair: d becomes a proposed site of c.
- Each call c gets at most `sites_wanted[c]` sites; each district d at most
  `district_capacity[d]` new pilots.
- Diversity, "where volunteers allow": the sites of a call that wants two or more should span
  at least two locales, and every call's sites should include at least one district above
  the network's median FRL share. Both are soft: a shortfall s >= 0 is allowed at a cost of
  `diversity_penalty` per unit, so a round is never infeasible; with the default penalty
  (twice the best fit in the round) the round gives up fit before it gives up diversity.
  The targets are capped by what the eligible volunteers allow (a call whose volunteers all
  share one locale is asked for one locale only, and the result says so). A call left with
  no site at all misses both, so the round also prefers giving every call a site. Locale
  coverage uses continuous y[c, l] <= sum of x[d, c] over the districts d of locale l, exact
  because the x are integral. `diversity_penalty=0` turns diversity off.

Maximize   sum fit[d, c] x[d, c] - penalty * (sum of shortfalls)
subject to the capacities above.

The LP relaxation (every x in [0, 1]) bounds the optimum from above; the result reports the
gap between the round's penalized objective and that bound.

How it is solved: a national round has hundreds of thousands of eligible pairs, of which it
uses about a thousand. The relaxation is solved by column generation (`_relaxation`): over
each call's best pairs first, then pricing every other pair with the LP's duals and adding
those that could raise its value, until none can; LP duality then makes the restricted
optimum the relaxation's over every pair. An integral relaxation is the round's optimum (the
usual case: the capacity constraints are totally unimodular). A fractional one goes to the
MILP over the relaxation's pairs, and then, if needed, over every pair whose reduced cost
leaves room for a better assignment (`_integer_solution`), which is the optimum over every
pair. The tests compare both with the whole model handed to HiGHS at once.
"""

from __future__ import annotations

import time
from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field

import numpy as np
from scipy import sparse
from scipy.optimize import Bounds, LinearConstraint, linprog, milp

from analysis._validation import count, finite_number

LOCALE_TARGET = 2  # distinct locales wanted among a call's sites

# Codes of what a round could not satisfy (the service turns them into sentences).
TOO_FEW_VOLUNTEERS = "too_few_volunteers"  # fewer eligible volunteers than sites wanted
VOLUNTEERS_TAKEN = "volunteers_at_capacity"  # enough volunteers, but they reached capacity
ONE_LOCALE_ONLY = "one_locale_among_volunteers"  # volunteers do not allow two locales
LOCALES_NOT_MET = "locales_not_met"  # volunteers allowed two locales, the round did not
NO_HIGH_FRL_VOLUNTEER = "no_high_frl_volunteer"  # nobody above the median FRL share volunteered
HIGH_FRL_NOT_MET = "high_frl_not_met"  # somebody did, the round could not place them


@dataclass(frozen=True)
class Proposal:
    """One assigned pair, with the facts that explain why it was made."""

    district: int
    call: int
    fit: float
    rank_among_volunteers: int  # 1 = the best fit among this call's eligible volunteers
    volunteers: int  # eligible volunteers the call had
    # The call's sites span two or more locales and this is the only one of its locale.
    only_site_in_its_locale: bool
    high_frl: bool


@dataclass(frozen=True)
class Shortfall:
    """Something the round could not satisfy for one call, as a code and its numbers."""

    call: int
    code: str
    numbers: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class MatchResult:
    proposals: list[Proposal]
    shortfalls: list[Shortfall]
    objective: float  # total fit of the proposals
    penalty: float  # diversity shortfalls times the penalty
    lp_bound: float  # LP relaxation bound on (objective - penalty)
    gap: float  # (lp_bound - (objective - penalty)) / max(1, abs(lp_bound)), >= 0
    status: str  # optimal | time_limit | empty
    message: str
    eligible_pairs: int
    diversity_penalty: float

    @property
    def assignment(self) -> list[tuple[int, int]]:
        return [(proposal.district, proposal.call) for proposal in self.proposals]


def _vector(name: str, values: object, length: int, length_name: str) -> list[int]:
    if isinstance(values, str | bytes):
        raise ValueError(f"{name} must be a list of whole numbers, not text")
    listed = list(values)  # type: ignore[call-overload]
    if len(listed) != length:
        raise ValueError(f"{name} has {len(listed)} values but there are {length} {length_name}")
    return [count(f"{name}[{index}]", value) for index, value in enumerate(listed)]


def _fit_matrix(fit: object) -> np.ndarray:
    try:
        matrix = np.array(fit, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError("fit must be a matrix of numbers (districts x calls)") from None
    if matrix.ndim != 2:
        raise ValueError(
            f"fit must be a matrix (districts x calls), got {matrix.ndim} dimension(s)"
        )
    matrix[np.isneginf(matrix)] = np.nan
    if np.isposinf(matrix).any():
        raise ValueError("fit contains +inf; use NaN or -inf to mark ineligible pairs")
    if (matrix[~np.isnan(matrix)] < 0).any():
        raise ValueError("fit scores must not be negative (use NaN for ineligible pairs)")
    return matrix


def _labels(
    name: str, values: object, length: int, per: str = "districts"
) -> list[Hashable | None]:
    if values is None:
        return [None] * length
    if isinstance(values, str | bytes):
        raise ValueError(f"{name} must be a list with one value per {per[:-1]}, not text")
    listed = list(values)  # type: ignore[call-overload]
    if len(listed) != length:
        raise ValueError(f"{name} has {len(listed)} values but there are {length} {per}")
    return listed


def assign_sites(
    fit: object,
    sites_wanted: Sequence[int],
    district_capacity: Sequence[int],
    locale_of_district: Sequence[Hashable | None] | None = None,
    high_frl_of_district: Sequence[bool] | None = None,
    *,
    call_locales_held: Sequence[Sequence[Hashable]] | None = None,
    call_has_high_frl: Sequence[bool] | None = None,
    diversity_penalty: float | None = None,
    time_limit: float | None = None,
) -> MatchResult:
    """Assign districts (rows of `fit`) to calls (columns) to maximize total fit.

    fit: districts x calls; NaN or -inf marks a pair that may not be assigned (the district did
    not volunteer, or is not eligible). sites_wanted: sites each call still wants.
    district_capacity: further pilots each district may take. locale_of_district: any label per
    district (None: unknown, counts toward no locale). high_frl_of_district: above the
    network's median FRL share. call_locales_held / call_has_high_frl: what each call's
    existing sites already bring, so a round only asks for what is missing.
    """
    matrix = _fit_matrix(fit)
    n_districts, n_calls = matrix.shape
    wanted = _vector("sites_wanted", sites_wanted, n_calls, "calls")
    capacity = _vector("district_capacity", district_capacity, n_districts, "districts")
    locales = _labels("locale_of_district", locale_of_district, n_districts)
    high_frl = [bool(v) for v in _labels("high_frl_of_district", high_frl_of_district, n_districts)]
    held_sets = [
        set(h or ()) for h in _labels("call_locales_held", call_locales_held, n_calls, "calls")
    ]
    has_high = [bool(v) for v in _labels("call_has_high_frl", call_has_high_frl, n_calls, "calls")]
    if time_limit is not None and finite_number("time_limit", time_limit) <= 0:
        raise ValueError(f"time_limit must be greater than 0 seconds, got {time_limit!r}")

    eligible = ~np.isnan(matrix)
    eligible[:, np.array(wanted) == 0] = False
    eligible[np.array(capacity) == 0, :] = False
    pair_district, pair_call = np.nonzero(eligible)
    pair_fit = matrix[pair_district, pair_call]
    n_pairs = pair_fit.size
    volunteers_of_call = np.bincount(pair_call, minlength=n_calls)
    all_volunteers = np.bincount(np.nonzero(~np.isnan(matrix))[1], minlength=n_calls)

    if diversity_penalty is None:
        penalty = 2.0 * float(pair_fit.max()) if n_pairs and pair_fit.max() > 0 else 1.0
    else:
        penalty = finite_number("diversity_penalty", diversity_penalty)
        if penalty < 0:
            raise ValueError(f"diversity_penalty must not be negative, got {diversity_penalty!r}")

    if n_pairs == 0:
        shortfalls = [
            Shortfall(
                c,
                TOO_FEW_VOLUNTEERS,
                {
                    "wanted": wanted[c],
                    "eligible": 0,
                    "assigned": 0,
                    "volunteers": int(all_volunteers[c]),
                },
            )
            for c in range(n_calls)
            if wanted[c] > 0
        ]
        return MatchResult(
            proposals=[],
            shortfalls=shortfalls,
            objective=0.0,
            penalty=0.0,
            lp_bound=0.0,
            gap=0.0,
            status="empty",
            eligible_pairs=0,
            diversity_penalty=penalty,
            message="No eligible volunteer for any call that still wants sites: nothing to assign.",
        )

    diversity = _diversity(pair_district, pair_call, wanted, locales, high_frl, held_sets, has_high)
    model = _model(pair_fit, pair_district, pair_call, wanted, capacity, diversity, penalty)
    deadline = None if time_limit is None else time.monotonic() + float(time_limit)
    by_call = _Ranking(pair_call, pair_fit, n_calls)
    relaxed = _relaxation(model, pair_call, diversity, wanted, deadline)
    if relaxed.values is None:
        return MatchResult(
            proposals=[],
            shortfalls=[],
            objective=0.0,
            penalty=0.0,
            lp_bound=relaxed.bound,
            gap=float("nan"),
            status="no_solution",
            eligible_pairs=n_pairs,
            diversity_penalty=penalty,
            message=f"The solver found no assignment within the time limit: {relaxed.message}",
        )
    bound = relaxed.bound
    status, message = "optimal", "Optimal assignment found."
    if relaxed.optimal and _is_integral(relaxed.values[:n_pairs]):
        # The capacity constraints alone are totally unimodular, so the relaxation is often
        # integral already: then it is optimal and the MILP need not run.
        chosen = np.round(relaxed.values[:n_pairs]).astype(bool)
    else:
        solved = _integer_solution(model, relaxed, deadline) if relaxed.optimal else None
        if solved is not None:
            chosen, timed_out = solved
            if timed_out:
                status = "time_limit"
                message = "The time limit was reached; this is the best assignment found."
        else:
            chosen = _round_down(
                relaxed.values[:n_pairs], pair_fit, pair_district, pair_call, wanted, capacity
            )
            status = "time_limit"
            message = (
                "The time limit was reached before the solver found an assignment; "
                "this one rounds the LP relaxation greedily."
            )
    total_fit = float(pair_fit[chosen].sum())
    total_penalty = penalty * _diversity_shortfall(chosen, pair_call, diversity)
    achieved = total_fit - total_penalty
    gap = max(0.0, (bound - achieved) / max(1.0, abs(bound)))

    proposals = _proposals(
        matrix, pair_district, pair_call, chosen, locales, high_frl, held_sets, by_call
    )
    shortfalls = _shortfalls(
        n_calls,
        wanted,
        proposals,
        volunteers_of_call,
        all_volunteers,
        locales if locale_of_district is not None else None,
        high_frl if high_frl_of_district is not None else None,
        held_sets,
        has_high,
        diversity.locale_allowed.tolist(),
        diversity.high_target.tolist(),
    )
    return MatchResult(
        proposals=proposals,
        shortfalls=shortfalls,
        objective=total_fit,
        penalty=total_penalty,
        lp_bound=bound,
        gap=gap,
        status=status,
        eligible_pairs=n_pairs,
        diversity_penalty=penalty,
        message=message,
    )


# --- the model ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Diversity:
    """The diversity targets of a round, reduced to what the eligible volunteers allow.

    A "key" is a (call, locale) pair with an eligible volunteer of a locale the call does not
    hold yet; keys are numbered call * n_labels + locale code, so they sort by call.
    """

    pair_key: np.ndarray  # per pair: its key, or -1 (no locale, or one the call holds)
    pair_high: np.ndarray  # per pair: the district is above the median FRL share
    locale_allowed: np.ndarray  # per call: new locales among its eligible volunteers
    locale_target: np.ndarray  # per call: new locales the round asks for
    high_target: np.ndarray  # per call: 1 when the round asks for a high-FRL site
    y_keys: np.ndarray  # the keys of calls with a locale target: one y variable each
    n_labels: int


def _diversity(
    pair_district: np.ndarray,
    pair_call: np.ndarray,
    wanted: list[int],
    locales: list[Hashable | None],
    high_frl: list[bool],
    held_sets: list[set[Hashable]],
    has_high: list[bool],
) -> _Diversity:
    n_calls = len(wanted)
    codes: dict[Hashable, int] = {}
    locale_code = np.array(
        [-1 if label is None else codes.setdefault(label, len(codes)) for label in locales],
        dtype=np.int64,
    )
    n_labels = max(1, len(codes))
    held = np.zeros((n_calls, n_labels), dtype=bool)
    for c, labels in enumerate(held_sets):
        held[c, [codes[label] for label in labels if label in codes]] = True
    pair_locale = locale_code[pair_district]
    new = pair_locale >= 0
    new[new] = ~held[pair_call[new], pair_locale[new]]
    pair_key = np.where(new, pair_call * n_labels + pair_locale, -1)
    keys = np.unique(pair_key[new])
    locale_allowed = np.bincount(keys // n_labels, minlength=n_calls)
    pair_high = np.asarray(high_frl, dtype=bool)[pair_district]
    high_volunteers = np.bincount(pair_call[pair_high], minlength=n_calls)
    wanted_array = np.asarray(wanted, dtype=np.int64)
    held_count = np.array([len(labels) for labels in held_sets], dtype=np.int64)
    need = np.where(
        held_count + wanted_array >= LOCALE_TARGET, np.maximum(0, LOCALE_TARGET - held_count), 0
    )
    need[wanted_array == 0] = 0
    locale_target = np.minimum(need, locale_allowed)
    high_target = (
        (wanted_array > 0) & ~np.asarray(has_high, dtype=bool) & (high_volunteers > 0)
    ).astype(np.int64)
    return _Diversity(
        pair_key=pair_key,
        pair_high=pair_high,
        locale_allowed=locale_allowed,
        locale_target=locale_target,
        high_target=high_target,
        y_keys=keys[locale_target[keys // n_labels] > 0],
        n_labels=n_labels,
    )


@dataclass(frozen=True)
class _Model:
    """The round as a linear program: minimize costs @ v subject to matrix @ v <= limits and
    0 <= v <= upper. v holds x (one per pair) first, then y (one per key of `y_keys`), then
    the locale shortfall of each call with a locale target and the FRL shortfall of each call
    with a high-FRL target. Rows: calls, districts, y[key] <= its pairs, locale targets, FRL
    targets (the last two as "-sum <= -target")."""

    matrix: sparse.csc_array
    limits: np.ndarray
    costs: np.ndarray
    upper: np.ndarray
    n_pairs: int


def _model(
    pair_fit: np.ndarray,
    pair_district: np.ndarray,
    pair_call: np.ndarray,
    wanted: list[int],
    capacity: list[int],
    diversity: _Diversity,
    penalty: float,
) -> _Model:
    n_pairs, n_calls, n_districts = pair_fit.size, len(wanted), len(capacity)
    locale_calls = np.flatnonzero(diversity.locale_target > 0)
    frl_calls = np.flatnonzero(diversity.high_target > 0)
    n_y, n_sl, n_sf = diversity.y_keys.size, locale_calls.size, frl_calls.size
    y0, sl0, sf0 = n_pairs, n_pairs + n_y, n_pairs + n_y + n_sl
    y_row0 = n_calls + n_districts
    sl_row0, sf_row0 = y_row0 + n_y, y_row0 + n_y + n_sl
    locale_position = np.full(n_calls, -1)
    locale_position[locale_calls] = np.arange(n_sl)
    frl_position = np.full(n_calls, -1)
    frl_position[frl_calls] = np.arange(n_sf)

    pairs = np.arange(n_pairs)
    # The pairs in a y row: their key has a y variable (searchsorted finds it if so).
    y_of_pair = np.searchsorted(diversity.y_keys, diversity.pair_key).clip(max=max(n_y - 1, 0))
    in_y = (diversity.pair_key >= 0) & (n_y > 0)
    in_y[in_y] = diversity.y_keys[y_of_pair[in_y]] == diversity.pair_key[in_y]
    in_frl = diversity.pair_high & (frl_position[pair_call] >= 0)
    ys = np.arange(n_y)
    entries = [
        (pair_call, pairs, 1.0),  # sites wanted per call
        (n_calls + pair_district, pairs, 1.0),  # capacity per district
        (y_row0 + y_of_pair[in_y], pairs[in_y], -1.0),  # y[key] <= its pairs
        (y_row0 + ys, y0 + ys, 1.0),
        (sl_row0 + locale_position[diversity.y_keys // diversity.n_labels], y0 + ys, -1.0),
        (sl_row0 + np.arange(n_sl), sl0 + np.arange(n_sl), -1.0),  # sum y + shortfall
        (sf_row0 + frl_position[pair_call[in_frl]], pairs[in_frl], -1.0),  # a high-FRL site
        (sf_row0 + np.arange(n_sf), sf0 + np.arange(n_sf), -1.0),  # or a shortfall
    ]
    rows = np.concatenate([row for row, _, _ in entries])
    columns = np.concatenate([column for _, column, _ in entries])
    values = np.concatenate([np.full(len(row), value) for row, _, value in entries])
    n_vars = sf0 + n_sf
    n_rows = sf_row0 + n_sf
    matrix = sparse.csc_array((values, (rows, columns)), shape=(n_rows, n_vars))
    limits = np.concatenate(
        [wanted, capacity, np.zeros(n_y), -diversity.locale_target[locale_calls], -np.ones(n_sf)]
    ).astype(np.float64)
    costs = np.concatenate([-pair_fit, np.zeros(n_y), np.full(n_sl + n_sf, penalty)])
    upper = np.concatenate(
        [np.ones(n_pairs + n_y), diversity.locale_target[locale_calls], np.ones(n_sf)]
    ).astype(np.float64)
    return _Model(matrix, limits, costs, upper, n_pairs)


# --- solving -----------------------------------------------------------------------------------

# A pair whose reduced cost is below -PRICING_TOLERANCE could still raise the LP's value.
PRICING_TOLERANCE = 1e-6
# Pairs of each call in the first LP, and most joining it at each pricing round: this many
# per site wanted, plus PAIRS_EXTRA (a call's sites are usually among its best few pairs).
PAIRS_PER_SITE = 2
PAIRS_EXTRA = 2


class _Ranking:
    """The pairs of each call, best fit first (for the starting columns, pricing and ranks)."""

    def __init__(self, pair_call: np.ndarray, pair_fit: np.ndarray, n_calls: int):
        self.order = np.lexsort((-pair_fit, pair_call))
        self.negated_fits = -pair_fit[self.order]  # ascending within each call
        self.starts = np.searchsorted(pair_call[self.order], np.arange(n_calls + 1))

    def better_than(self, call: int, fits: np.ndarray) -> np.ndarray:
        """How many of the call's eligible pairs fit it better than each of `fits`."""
        segment = self.negated_fits[self.starts[call] : self.starts[call + 1]]
        return np.searchsorted(segment, -fits, side="left")


def _best_per_group(
    group: np.ndarray, score: np.ndarray, among: np.ndarray, limit: np.ndarray
) -> np.ndarray:
    """The pairs `among` with the lowest `score`, at most `limit[g]` of each group g."""
    candidates = np.flatnonzero(among)
    order = candidates[np.lexsort((score[candidates], group[candidates]))]
    groups = group[order]
    rank = np.arange(order.size) - np.searchsorted(groups, groups, side="left")
    return order[rank < limit[groups]]


@dataclass(frozen=True)
class _Relaxation:
    values: np.ndarray | None  # every variable of the model
    included: np.ndarray | None  # per pair: it was in the last LP solved
    bound: float  # the LP relaxation's optimum over every pair (upper bound on the round)
    reduced_costs: np.ndarray | None  # per pair, with the optimal duals
    optimal: bool  # False when the time limit stopped it (bound: a Lagrangian bound)
    message: str = ""


def _relaxation(
    model: _Model,
    pair_call: np.ndarray,
    diversity: _Diversity,
    wanted: list[int],
    deadline: float | None,
) -> _Relaxation:
    """The LP relaxation over every pair, solved over a few pairs at a time.

    Column generation: a round has up to hundreds of thousands of eligible pairs but uses a
    few per call, so the LP starts with each call's best pairs (and the best of each locale
    and of the high-FRL districts), and after each solve prices every other pair with the
    duals. A pair whose reduced cost is negative could raise the LP's value: the most
    promising such pairs of each call join, and the LP is solved again. When none is left,
    the duals prove the restricted solution optimal over every pair (LP duality), so the
    bound is the full relaxation's, exactly as if every pair had been in the model.
    """
    n_pairs = model.n_pairs
    per_call = PAIRS_PER_SITE * np.asarray(wanted, dtype=np.int64) + PAIRS_EXTRA
    fits = -model.costs[:n_pairs]
    included = np.zeros(n_pairs, dtype=bool)
    included[_best_per_group(pair_call, -fits, np.ones(n_pairs, dtype=bool), per_call)] = True
    keyed = diversity.pair_key >= 0
    one_each = np.ones(int(diversity.pair_key.max(initial=0)) + 1, dtype=np.int64)
    included[_best_per_group(diversity.pair_key, -fits, keyed, one_each)] = True
    included[_best_per_group(pair_call, -fits, diversity.pair_high, np.ones_like(per_call))] = True
    others = np.arange(n_pairs, model.costs.size)
    pair_rows = model.matrix[:, :n_pairs].T.tocsr()
    other_rows = model.matrix[:, others].T.tocsr()
    while True:
        columns = np.concatenate([np.flatnonzero(included), others])
        solved = linprog(
            model.costs[columns],
            A_ub=model.matrix[:, columns],
            b_ub=model.limits,
            bounds=np.column_stack([np.zeros(columns.size), model.upper[columns]]),
            method="highs",
            options=_options(deadline),
        )
        if solved.x is None or solved.ineqlin is None:
            return _Relaxation(None, None, float("nan"), None, False, solved.message)
        values = np.zeros(model.costs.size)
        values[columns] = solved.x
        duals = solved.ineqlin.marginals
        reduced = model.costs[:n_pairs] - pair_rows @ duals
        if solved.status != 0 or _past(deadline):
            # Stopped early: any duals give a valid bound, the Lagrangian one.
            other_reduced = model.costs[others] - other_rows @ duals
            lagrangian = duals @ model.limits + np.minimum(reduced, 0).sum()
            lagrangian += (np.minimum(other_reduced, 0) * model.upper[others]).sum()
            return _Relaxation(values, included, -float(lagrangian), reduced, False, solved.message)
        entering = ~included & (reduced < -PRICING_TOLERANCE)
        if not entering.any():
            return _Relaxation(values, included, -float(solved.fun), reduced, True)
        included[_best_per_group(pair_call, reduced, entering, per_call)] = True


def _integer_solution(
    model: _Model, relaxed: _Relaxation, deadline: float | None
) -> tuple[np.ndarray, bool] | None:
    """The mixed-integer optimum when the relaxation is fractional: the chosen pairs and
    whether the time limit stopped the solver; None when it found no assignment.

    First over the pairs of the relaxation's last LP, which gives an assignment of value z. A pair
    whose reduced cost r exceeds bound - z cannot be in any assignment better than z (each
    chosen pair lowers the bound by at least its reduced cost), so the second solve, over
    the pairs within that margin, is optimal over every pair.
    """
    assert relaxed.included is not None and relaxed.reduced_costs is not None
    used = relaxed.included
    first = _milp_over(model, used, deadline)
    if first is None:
        return None
    chosen, value, timed_out = first
    promising = relaxed.reduced_costs <= relaxed.bound - value + PRICING_TOLERANCE
    if timed_out or not (promising & ~used).any():
        return chosen, timed_out
    second = _milp_over(model, used | promising, deadline)
    if second is None:
        return chosen, True
    return second[0], second[2]


def _milp_over(
    model: _Model, pairs: np.ndarray, deadline: float | None
) -> tuple[np.ndarray, float, bool] | None:
    """The MILP over some pairs (and every other variable): chosen pairs (over all pairs), the
    penalized objective, and whether the time limit stopped it; None without a solution."""
    if _past(deadline):
        return None
    n_pairs = model.n_pairs
    columns = np.concatenate([np.flatnonzero(pairs), np.arange(n_pairs, model.costs.size)])
    integrality = (columns < n_pairs).astype(np.int64)
    solved = milp(
        model.costs[columns],
        constraints=LinearConstraint(model.matrix[:, columns], -np.inf, model.limits),
        integrality=integrality,
        bounds=Bounds(np.zeros(columns.size), model.upper[columns]),
        options=_options(deadline),
    )
    if solved.x is None:
        return None
    chosen = np.zeros(n_pairs, dtype=bool)
    chosen[columns[integrality == 1]] = np.round(solved.x[integrality == 1]) == 1
    return chosen, -float(solved.fun), solved.status == 1


def _options(deadline: float | None) -> dict[str, float]:
    return {} if deadline is None else {"time_limit": max(0.01, deadline - time.monotonic())}


def _past(deadline: float | None) -> bool:
    return deadline is not None and time.monotonic() >= deadline


def _is_integral(values: np.ndarray, tolerance: float = 1e-6) -> bool:
    return bool(np.all(np.abs(values - np.round(values)) <= tolerance))


def _round_down(
    relaxed: np.ndarray,
    pair_fit: np.ndarray,
    pair_district: np.ndarray,
    pair_call: np.ndarray,
    wanted: list[int],
    capacity: list[int],
) -> np.ndarray:
    """A feasible assignment from the LP relaxation: pairs by LP value, then fit, while
    the capacities allow."""
    call_room = np.array(wanted)
    district_room = np.array(capacity)
    chosen = np.zeros(relaxed.size, dtype=bool)
    for pair in np.lexsort((-pair_fit, -np.round(relaxed, 6))):
        if relaxed[pair] <= 1e-6:
            break
        c, d = pair_call[pair], pair_district[pair]
        if call_room[c] > 0 and district_room[d] > 0:
            chosen[pair] = True
            call_room[c] -= 1
            district_room[d] -= 1
    return chosen


def _diversity_shortfall(chosen: np.ndarray, pair_call: np.ndarray, diversity: _Diversity) -> float:
    """Units of diversity shortfall of an assignment, as the model counts them."""
    n_calls = diversity.locale_target.size
    covered_keys = np.unique(diversity.pair_key[chosen & (diversity.pair_key >= 0)])
    covered_keys = covered_keys[np.isin(covered_keys, diversity.y_keys)]
    covered = np.bincount(covered_keys // diversity.n_labels, minlength=n_calls)
    missing = np.maximum(0, diversity.locale_target - covered).sum()
    with_high = np.bincount(pair_call[chosen & diversity.pair_high], minlength=n_calls)
    missing += ((diversity.high_target > 0) & (with_high == 0)).sum()
    return float(missing)


def _proposals(
    matrix: np.ndarray,
    pair_district: np.ndarray,
    pair_call: np.ndarray,
    chosen: np.ndarray,
    locales: list[Hashable | None],
    high_frl: list[bool],
    held_sets: list[set[Hashable]],
    by_call: _Ranking,
) -> list[Proposal]:
    districts_of_call: dict[int, list[int]] = {}
    for d, c in zip(pair_district[chosen].tolist(), pair_call[chosen].tolist(), strict=True):
        districts_of_call.setdefault(c, []).append(d)
    proposals = []
    for c, districts in sorted(districts_of_call.items()):
        column = matrix[:, c]
        spanned = held_sets[c] | {locales[d] for d in districts if locales[d] is not None}
        ordered = sorted(districts, key=lambda d: -column[d])
        ranks = by_call.better_than(c, column[ordered]) + 1
        volunteers = int(by_call.starts[c + 1] - by_call.starts[c])
        for d, rank in zip(ordered, ranks.tolist(), strict=True):
            same_locale = [o for o in districts if locales[o] == locales[d]]
            proposals.append(
                Proposal(
                    district=d,
                    call=c,
                    fit=float(column[d]),
                    rank_among_volunteers=rank,
                    volunteers=volunteers,
                    only_site_in_its_locale=locales[d] is not None
                    and len(spanned) >= LOCALE_TARGET
                    and len(same_locale) == 1
                    and locales[d] not in held_sets[c],
                    high_frl=high_frl[d],
                )
            )
    return proposals


def _shortfalls(
    n_calls: int,
    wanted: list[int],
    proposals: list[Proposal],
    volunteers_of_call: np.ndarray,
    all_volunteers: np.ndarray,
    locales: list[Hashable | None] | None,
    high_frl: list[bool] | None,
    held_sets: list[set[Hashable]],
    has_high: list[bool],
    locale_allowed: list[int],
    high_target: list[int],
) -> list[Shortfall]:
    """What each call did not get; diversity only when the district facts were given."""
    assigned: dict[int, list[int]] = {}
    for proposal in proposals:
        assigned.setdefault(proposal.call, []).append(proposal.district)
    shortfalls = []
    for c in range(n_calls):
        if wanted[c] == 0:
            continue
        sites = assigned.get(c, [])
        eligible = int(volunteers_of_call[c])
        numbers = {
            "wanted": wanted[c],
            "assigned": len(sites),
            "eligible": eligible,
            "volunteers": int(all_volunteers[c]),
        }
        if len(sites) < wanted[c]:
            code = TOO_FEW_VOLUNTEERS if eligible < wanted[c] else VOLUNTEERS_TAKEN
            shortfalls.append(Shortfall(c, code, numbers))
        if locales is not None:
            shortfalls.extend(
                _locale_shortfall(c, wanted[c], sites, locales, held_sets[c], locale_allowed[c])
            )
        if high_frl is not None and not has_high[c] and not any(high_frl[d] for d in sites):
            code = HIGH_FRL_NOT_MET if high_target[c] else NO_HIGH_FRL_VOLUNTEER
            shortfalls.append(Shortfall(c, code, {"assigned": len(sites)}))
    return shortfalls


def _locale_shortfall(
    call: int,
    wanted: int,
    sites: list[int],
    locales: list[Hashable | None],
    held_set: set[Hashable],
    locale_allowed: int,
) -> list[Shortfall]:
    held = len(held_set)
    spanned = held + len({locales[d] for d in sites if locales[d] is not None} - held_set)
    if held + wanted < LOCALE_TARGET or spanned >= LOCALE_TARGET:
        return []
    allowed = held + locale_allowed
    code = LOCALES_NOT_MET if allowed >= LOCALE_TARGET else ONE_LOCALE_ONLY
    return [Shortfall(call, code, {"locales_available": allowed, "locales_assigned": spanned})]
