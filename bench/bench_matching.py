"""Benchmark: a network matching round over about 2,000 districts and 300 calls.

The network is the demo generator's at scale 14 (testbed.demo.generate_network: 2,100
districts, 2,072 of them verified, with their profiles and open needs; 350 pilots), built in
memory, no database. Its first 300 pilots (every status) stand in for 300 open calls, with their
grades, subjects, pillars, sites wanted (2-6), students per site and their product's platforms.

The demo itself has only a few volunteers per open call, far too few for this size, so
volunteering is synthesized (seeded, below): each verified district volunteers for
1 + Poisson(2) of the calls whose grades it serves, drawn with probability proportional to
fit squared (districts pick calls that suit them), offering the call's students per site times
Uniform(0.85, 1.10). Three more scenarios make every verified district volunteer for 1 (scarce:
calls go short and diversity binds), 20 and 60 of the calls whose grades it serves, drawn
uniformly (the last two about 7 and 20 times as many volunteers as a busy real round).

Fit scores come from testbed.matching.fit.score_matrix with the default weights; capacities
are the demo's max_concurrent_pilots (1-3); locales and FRL shares are the demo's, and "high
FRL" means above the median of all districts. The timed part is analysis.matching.assign_sites
(which solves the LP relaxation and the mixed-integer program).

With --compare-with REV (a git revision, e.g. a commit before the round solved its LP by
column generation), every scenario is also solved by analysis/matching.py as it was at REV,
on the same inputs, and the script checks that both give the same penalized objective, LP
bound, gap and status, and that the new assignment is valid (each pair eligible and assigned
once, no call over its sites wanted, no district over its capacity).

Run: PYTHONPATH=. .venv/bin/python bench/bench_matching.py [--scale 14] [--calls 300]
    [--compare-with REV]
"""

from __future__ import annotations

import argparse
import importlib.util
import math
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections import Counter

import numpy as np
import scipy

from analysis.matching import assign_sites
from testbed.demo import generate_network
from testbed.matching.fit import (
    DEFAULT_WEIGHTS,
    CallFacts,
    DistrictFacts,
    NeedFacts,
    score_matrix,
)

TIME_LIMIT_SECONDS = 60.0
TARGET_SECONDS = 10.0


def network_facts(network, calls: int):
    """Districts, calls, capacities, sites wanted and the median FRL share, as plain data."""
    verified = {o.slug for o in network.organizations if o.verified}
    needs: dict[str, list[NeedFacts]] = {}
    for need in network.needs:
        needs.setdefault(need.district, []).append(
            NeedFacts(need.title, need.subject, tuple(need.pillars), need.grade_band)
        )
    districts = [
        DistrictFacts(
            id=index,
            name=d.organization,
            has_profile=True,
            grades_served=tuple(d.grades_served),
            platforms=tuple(d.platforms),
            device_ratio=d.device_ratio,
            signed_ndpa=d.signed_ndpa,
            enrollment=d.enrollment,
            locale=d.locale,
            frl_share=d.frl_share,
            needs=tuple(needs.get(d.organization, ())),
        )
        for index, d in enumerate(network.districts)
        if d.organization in verified
    ]
    capacity = [d.max_concurrent_pilots for d in network.districts if d.organization in verified]
    platforms = {(p.vendor, p.name): tuple(p.platforms) for p in network.products}
    call_facts = [
        CallFacts(
            id=index,
            title=p.title,
            grades=tuple(p.grades),
            subjects=tuple(p.subjects),
            pillars=tuple(p.pillars),
            platforms=platforms[(p.product_vendor, p.product_name)],
            students_per_site=p.students_per_site,
        )
        for index, p in enumerate(network.pilots[:calls])
    ]
    wanted = [p.sites_wanted for p in network.pilots[:calls]]
    median_frl = float(np.median([d.frl_share for d in network.districts]))
    return districts, call_facts, capacity, wanted, median_frl


def serves_all_grades(districts, calls) -> np.ndarray:
    return np.array(
        [[set(c.grades) <= set(d.grades_served) for c in calls] for d in districts], dtype=bool
    )


def volunteering_uniformly(districts, calls, per_district: int, seed: int) -> np.ndarray:
    """Each district volunteers for `per_district` of the calls whose grades it serves."""
    rng = np.random.default_rng(seed)
    possible = serves_all_grades(districts, calls)
    chosen = np.zeros_like(possible)
    for row in range(len(districts)):
        options = np.flatnonzero(possible[row])
        picks = rng.choice(options, size=min(per_district, options.size), replace=False)
        chosen[row, picks] = True
    return chosen


def volunteering(districts, calls, fit_all: np.ndarray, seed: int) -> np.ndarray:
    """Which calls each district volunteers for (the synthesized generator described above)."""
    rng = np.random.default_rng(seed)
    possible = serves_all_grades(districts, calls)
    chosen = np.zeros_like(possible)
    for row in range(len(districts)):
        options = np.flatnonzero(possible[row])
        if options.size == 0:
            continue
        weights = fit_all[row, options] ** 2
        count = min(options.size, 1 + int(rng.poisson(2)))
        picks = rng.choice(options, size=count, replace=False, p=weights / weights.sum())
        chosen[row, picks] = True
    return chosen


def solver_at(revision: str):
    """analysis.matching's assign_sites as it was at a git revision, loaded as its own module."""
    source = subprocess.run(
        ["git", "show", f"{revision}:analysis/matching.py"],  # noqa: S607 (git on PATH)
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    with tempfile.NamedTemporaryFile("w", suffix=".py", delete=False) as handle:
        handle.write(source)
    spec = importlib.util.spec_from_file_location("matching_at_revision", handle.name)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while it loads
    spec.loader.exec_module(module)
    os.unlink(handle.name)
    return module.assign_sites


def round_inputs(calls, volunteers: np.ndarray, seed: int) -> np.ndarray:
    """Students each volunteer offers: the call's students per site x Uniform(0.85, 1.10)."""
    rng = np.random.default_rng(seed + 1)
    per_site = np.array([c.students_per_site for c in calls], dtype=float)
    return np.where(
        volunteers,
        np.round(per_site[np.newaxis, :] * rng.uniform(0.85, 1.10, volunteers.shape)),
        np.nan,
    )


def run(districts, calls, capacity, wanted, median_frl, volunteers, seed, solvers):
    """Fit scores and the round by each solver (the current one first), timed."""
    offered = round_inputs(calls, volunteers, seed)
    started = time.perf_counter()
    fit = score_matrix(districts, calls, DEFAULT_WEIGHTS, offered)
    fit_seconds = time.perf_counter() - started
    fit[~volunteers] = np.nan
    rounds = []
    for solver in solvers:
        started = time.perf_counter()
        result = solver(
            fit,
            wanted,
            capacity,
            [d.locale for d in districts],
            [d.frl_share > median_frl for d in districts],
            time_limit=TIME_LIMIT_SECONDS,
        )
        rounds.append((time.perf_counter() - started, result))
    return {
        "pairs": int(volunteers.sum()),
        "fit_seconds": fit_seconds,
        "rounds": rounds,
        "fit": fit,
    }


def agreement(fit, wanted, capacity, new, old) -> str:
    """ "same" when both rounds agree on every figure of the report and the new one is valid."""
    problems = []
    assignment = new.assignment
    calls = np.bincount([c for _, c in assignment], minlength=len(wanted))
    districts = np.bincount([d for d, _ in assignment], minlength=len(capacity))
    if len(set(assignment)) != len(assignment) or any(math.isnan(fit[d, c]) for d, c in assignment):
        problems.append("an ineligible or repeated pair")
    if (calls > wanted).any() or (districts > capacity).any():
        problems.append("over a capacity")

    def close(a: float, b: float) -> bool:
        return abs(a - b) <= 1e-6 * max(1.0, abs(a))

    if not close(new.objective - new.penalty, old.objective - old.penalty):
        problems.append(f"objective {old.objective - old.penalty:,.4f}")
    if not close(new.lp_bound, old.lp_bound):
        problems.append(f"LP bound {old.lp_bound:,.4f}")
    if abs(new.gap - old.gap) > 1e-9 or new.status != old.status:
        problems.append(f"gap {old.gap:.6f} {old.status}")
    return "; ".join(problems) or "same"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=int, default=14)
    parser.add_argument("--calls", type=int, default=300)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--compare-with", metavar="REV")
    arguments = parser.parse_args()
    solvers = [assign_sites]
    if arguments.compare_with:
        solvers.append(solver_at(arguments.compare_with))

    network = generate_network(arguments.scale, arguments.seed)
    districts, calls, capacity, wanted, median_frl = network_facts(network, arguments.calls)
    fit_all = score_matrix(districts, calls, DEFAULT_WEIGHTS)
    scenarios = {
        "volunteers (synthesized)": volunteering(districts, calls, fit_all, arguments.seed),
        "1 call per district (scarce)": volunteering_uniformly(districts, calls, 1, arguments.seed),
        "20 calls per district": volunteering_uniformly(districts, calls, 20, arguments.seed),
        "60 calls per district": volunteering_uniformly(districts, calls, 60, arguments.seed),
    }
    print(
        f"{len(districts)} districts, {len(calls)} calls, {sum(wanted)} sites "
        f"wanted, district capacity {sum(capacity)}; Python {platform.python_version()}, "
        f"numpy {np.__version__}, scipy {scipy.__version__}, {os.cpu_count()} CPUs; "
        f"load average {os.getloadavg()[0]:.2f}"
    )
    print()
    print(
        "| scenario | eligible pairs | fit scores s | round s | proposals | total fit | "
        "penalty | LP bound | gap | status | shortfalls |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---|---|")
    compared = []
    for name, volunteers in scenarios.items():
        measured = run(
            districts, calls, capacity, wanted, median_frl, volunteers, arguments.seed, solvers
        )
        seconds, result = measured["rounds"][0]
        codes = Counter(s.code for s in result.shortfalls)
        shortfalls = ", ".join(f"{code} {n}" for code, n in sorted(codes.items())) or "none"
        verdict = "under" if seconds < TARGET_SECONDS else "OVER"
        print(
            f"| {name} | {measured['pairs']:,} | {measured['fit_seconds']:.2f} | "
            f"{seconds:.2f} ({verdict} {TARGET_SECONDS:g} s) | "
            f"{len(result.proposals):,} | {result.objective:,.1f} | {result.penalty:,.1f} | "
            f"{result.lp_bound:,.1f} | {100 * result.gap:.4f} % | {result.status} | "
            f"{shortfalls} |"
        )
        if len(measured["rounds"]) > 1:
            old_seconds, old = measured["rounds"][1]
            check = agreement(measured["fit"], wanted, capacity, result, old)
            compared.append((name, old_seconds, seconds, check))
    if compared:
        print()
        print(f"| scenario | round s at {arguments.compare_with} | round s now | ratio | result |")
        print("|---|---:|---:|---:|---|")
        for name, old_seconds, seconds, check in compared:
            print(
                f"| {name} | {old_seconds:.2f} | {seconds:.2f} | {seconds / old_seconds:.2f} | "
                f"{check} |"
            )


if __name__ == "__main__":
    main()
