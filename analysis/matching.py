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
"""

from __future__ import annotations

import time
from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field

import numpy as np
from scipy import sparse
from scipy.optimize import Bounds, LinearConstraint, milp

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

    # Diversity targets, reduced to what the eligible volunteers allow.
    locale_pairs: dict[tuple[int, Hashable], list[int]] = {}
    high_pairs: dict[int, list[int]] = {}
    for pair, (d, c) in enumerate(zip(pair_district.tolist(), pair_call.tolist(), strict=True)):
        if locales[d] is not None and locales[d] not in held_sets[c]:
            locale_pairs.setdefault((c, locales[d]), []).append(pair)
        if high_frl[d]:
            high_pairs.setdefault(c, []).append(pair)
    new_locales_of_call: dict[int, list[Hashable]] = {}
    for c, label in locale_pairs:
        new_locales_of_call.setdefault(c, []).append(label)
    locale_target = [0] * n_calls
    locale_allowed = [0] * n_calls
    high_target = [0] * n_calls
    for c in range(n_calls):
        if wanted[c] == 0:
            continue
        held = len(held_sets[c])
        need = max(0, LOCALE_TARGET - held) if held + wanted[c] >= LOCALE_TARGET else 0
        locale_allowed[c] = len(new_locales_of_call.get(c, []))
        locale_target[c] = min(need, locale_allowed[c])
        high_target[c] = int(not has_high[c] and c in high_pairs)

    # Variables: x (pairs) | y (call, new locale) | locale shortfall per call | FRL shortfall.
    y_keys = [key for key in locale_pairs if locale_target[key[0]] > 0]
    locale_calls = [c for c in range(n_calls) if locale_target[c] > 0]
    frl_calls = [c for c in range(n_calls) if high_target[c] > 0]
    n_y, n_sl, n_sf = len(y_keys), len(locale_calls), len(frl_calls)
    n_vars = n_pairs + n_y + n_sl + n_sf
    y0, sl0, sf0 = n_pairs, n_pairs + n_y, n_pairs + n_y + n_sl

    objective = np.zeros(n_vars)
    objective[:n_pairs] = -pair_fit
    objective[sl0:] = penalty

    rows, cols, vals, lower, upper = [], [], [], [], []

    def add_row(columns: Sequence[int], coefficients: Sequence[float], lo: float, hi: float):
        row = len(lower)
        rows.extend([row] * len(columns))
        cols.extend(columns)
        vals.extend(coefficients)
        lower.append(lo)
        upper.append(hi)

    pairs = np.arange(n_pairs)
    # Per call and per district: at most sites_wanted / capacity.
    call_row = pair_call
    district_row = n_calls + pair_district
    rows.extend(call_row.tolist() + district_row.tolist())
    cols.extend(pairs.tolist() * 2)
    vals.extend([1.0] * (2 * n_pairs))
    lower.extend([-np.inf] * (n_calls + n_districts))
    upper.extend([float(w) for w in wanted] + [float(k) for k in capacity])
    # y[c, l] <= sum of x[d, c] for districts of locale l.
    for index, key in enumerate(y_keys):
        members = locale_pairs[key]
        add_row([y0 + index, *members], [1.0] + [-1.0] * len(members), -np.inf, 0.0)
    # sum over l of y[c, l] + shortfall >= target.
    ys_of_call: dict[int, list[int]] = {}
    for index, (c, _) in enumerate(y_keys):
        ys_of_call.setdefault(c, []).append(y0 + index)
    for offset, c in enumerate(locale_calls):
        members = ys_of_call[c]
        add_row([*members, sl0 + offset], [1.0] * (len(members) + 1), locale_target[c], np.inf)
    # At least one district above the median FRL share, or a shortfall.
    for offset, c in enumerate(frl_calls):
        members = high_pairs[c]
        add_row([*members, sf0 + offset], [1.0] * (len(members) + 1), 1.0, np.inf)

    constraints = LinearConstraint(
        sparse.csr_array((vals, (rows, cols)), shape=(len(lower), n_vars)), lower, upper
    )
    upper_bounds = np.concatenate(
        [
            np.ones(n_pairs + n_y),
            [float(locale_target[c]) for c in locale_calls],
            np.ones(n_sf),
        ]
    )
    bounds = Bounds(np.zeros(n_vars), upper_bounds)
    integrality = np.zeros(n_vars)
    integrality[:n_pairs] = 1
    deadline = None if time_limit is None else time.monotonic() + float(time_limit)

    def options() -> dict[str, float]:
        return {} if deadline is None else {"time_limit": max(0.01, deadline - time.monotonic())}

    relaxed = milp(objective, constraints=constraints, bounds=bounds, options=options())
    bound = -float(relaxed.fun) if relaxed.x is not None else float("nan")
    status, message = "optimal", "Optimal assignment found."
    if relaxed.x is not None and _is_integral(relaxed.x[:n_pairs]):
        # The capacity constraints alone are totally unimodular, so the relaxation is often
        # integral already: then it is optimal and the MILP need not run.
        chosen = np.round(relaxed.x[:n_pairs]).astype(bool)
    else:
        solved = None
        if deadline is None or deadline > time.monotonic():
            solved = milp(
                objective,
                constraints=constraints,
                integrality=integrality,
                bounds=bounds,
                options=options(),
            )
        if solved is not None and solved.x is not None:
            chosen = np.round(solved.x[:n_pairs]).astype(bool)
            if solved.status == 1:
                status = "time_limit"
                message = "The time limit was reached; this is the best assignment found."
        elif relaxed.x is not None:
            chosen = _round_down(
                relaxed.x[:n_pairs], pair_fit, pair_district, pair_call, wanted, capacity
            )
            status = "time_limit"
            message = (
                "The time limit was reached before the solver found an assignment; "
                "this one rounds the LP relaxation greedily."
            )
        else:
            return MatchResult(
                proposals=[],
                shortfalls=[],
                objective=0.0,
                penalty=0.0,
                lp_bound=bound,
                gap=float("nan"),
                status="no_solution",
                eligible_pairs=n_pairs,
                diversity_penalty=penalty,
                message=f"The solver found no assignment within the time limit: {relaxed.message}",
            )
    total_fit = float(pair_fit[chosen].sum())
    shortfall_units = _diversity_shortfall(
        chosen, y_keys, locale_pairs, locale_calls, locale_target, frl_calls, high_pairs
    )
    total_penalty = penalty * shortfall_units
    achieved = total_fit - total_penalty
    gap = max(0.0, (bound - achieved) / max(1.0, abs(bound)))

    proposals = _proposals(
        matrix, pair_district, pair_call, chosen, locales, high_frl, held_sets, volunteers_of_call
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
        locale_allowed,
        high_target,
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


def _diversity_shortfall(
    chosen: np.ndarray,
    y_keys: list[tuple[int, Hashable]],
    locale_pairs: dict[tuple[int, Hashable], list[int]],
    locale_calls: list[int],
    locale_target: list[int],
    frl_calls: list[int],
    high_pairs: dict[int, list[int]],
) -> float:
    """Units of diversity shortfall of an assignment, as the model counts them."""
    covered: dict[int, int] = {}
    for c, label in y_keys:
        if chosen[locale_pairs[(c, label)]].any():
            covered[c] = covered.get(c, 0) + 1
    missing = sum(max(0, locale_target[c] - covered.get(c, 0)) for c in locale_calls)
    missing += sum(not chosen[high_pairs[c]].any() for c in frl_calls)
    return float(missing)


def _proposals(
    matrix: np.ndarray,
    pair_district: np.ndarray,
    pair_call: np.ndarray,
    chosen: np.ndarray,
    locales: list[Hashable | None],
    high_frl: list[bool],
    held_sets: list[set[Hashable]],
    volunteers_of_call: np.ndarray,
) -> list[Proposal]:
    districts_of_call: dict[int, list[int]] = {}
    for d, c in zip(pair_district[chosen].tolist(), pair_call[chosen].tolist(), strict=True):
        districts_of_call.setdefault(c, []).append(d)
    proposals = []
    for c, districts in sorted(districts_of_call.items()):
        column = matrix[:, c]
        eligible_fits = column[pair_district[pair_call == c]]
        spanned = held_sets[c] | {locales[d] for d in districts if locales[d] is not None}
        for d in sorted(districts, key=lambda d: -column[d]):
            same_locale = [o for o in districts if locales[o] == locales[d]]
            proposals.append(
                Proposal(
                    district=d,
                    call=c,
                    fit=float(column[d]),
                    rank_among_volunteers=int((eligible_fits > column[d]).sum()) + 1,
                    volunteers=int(volunteers_of_call[c]),
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
