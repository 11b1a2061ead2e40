"""What Works Clearinghouse rules: baseline equivalence, attrition, clustering correction.

References
- What Works Clearinghouse, Standards Handbook, Version 4.1 (2020): baseline
  equivalence thresholds 0.05 and 0.25; Table II.1, the attrition boundary.
- What Works Clearinghouse, Procedures and Standards Handbook, Version 2.0 (2008),
  Appendix C, and Procedures Handbook 4.1, Appendix E: the clustering correction.
- Hedges, L. V. (2007). Correcting a significance test for clustering. Journal of
  Educational and Behavioral Statistics 32(2), 151-179.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from scipy import stats

from analysis import _validation as check

BASELINE_SATISFIED = 0.05
BASELINE_ADJUSTABLE = 0.25

# Standards Handbook 4.1, Table II.1: for each whole percent of overall attrition (0-65),
# the highest differential attrition (percentage points) that still counts as low
# attrition. Under the cautious boundary no differential is low from 58 % overall on.
_CAUTIOUS = (
    5.7, 5.8, 5.9, 5.9, 6.0, 6.1, 6.2, 6.3, 6.3, 6.3,
    6.3, 6.2, 6.2, 6.1, 6.0, 5.9, 5.9, 5.8, 5.7, 5.5,
    5.4, 5.3, 5.2, 5.1, 4.9, 4.8, 4.7, 4.5, 4.4, 4.3,
    4.1, 4.0, 3.8, 3.6, 3.5, 3.3, 3.2, 3.1, 2.9, 2.8,
    2.6, 2.5, 2.3, 2.1, 2.0, 1.8, 1.6, 1.5, 1.3, 1.2,
    1.0, 0.9, 0.7, 0.6, 0.4, 0.3, 0.2, 0.0,
)  # fmt: skip
_OPTIMISTIC = (
    10.0, 10.1, 10.2, 10.3, 10.4, 10.5, 10.7, 10.8, 10.9, 10.9,
    10.9, 10.9, 10.9, 10.8, 10.8, 10.7, 10.6, 10.5, 10.3, 10.2,
    10.0, 9.9, 9.7, 9.5, 9.4, 9.2, 9.0, 8.8, 8.6, 8.4,
    8.2, 8.0, 7.8, 7.6, 7.4, 7.2, 7.0, 6.7, 6.5, 6.3,
    6.0, 5.8, 5.6, 5.3, 5.1, 4.9, 4.6, 4.4, 4.2, 3.9,
    3.7, 3.5, 3.2, 3.0, 2.8, 2.6, 2.3, 2.1, 1.9, 1.6,
    1.4, 1.1, 0.9, 0.7, 0.5, 0.3,
)  # fmt: skip
ATTRITION_BOUNDARIES: dict[str, tuple[float, ...]] = {
    "cautious": _CAUTIOUS,
    "optimistic": _OPTIMISTIC,
}
# Differential attrition sitting exactly on the boundary is low; allow for float error.
_BOUNDARY_TOLERANCE = 1e-9


def baseline_equivalence(g: float) -> str:
    """WWC baseline equivalence category for a baseline effect size (sign ignored)."""
    size = abs(check.finite_number("g", g))
    if size <= BASELINE_SATISFIED:
        return "satisfied"
    if size <= BASELINE_ADJUSTABLE:
        return "requires_adjustment"
    return "not_satisfied"


@dataclass(frozen=True)
class Attrition:
    """Overall and differential attrition (proportions) and the WWC rating."""

    overall: float
    differential: float
    treatment: float
    control: float
    boundary: str
    max_differential: float | None
    rating: str


def max_low_differential(overall: float, boundary: str = "cautious") -> float | None:
    """Highest differential attrition (a proportion) that is still low, or None if none is.

    Between two whole-percent rows of Table II.1 the stricter (smaller) value applies, so
    a rate never passes because of rounding.
    """
    overall = check.probability("overall", overall)
    table = ATTRITION_BOUNDARIES[check.choice("boundary", boundary, tuple(ATTRITION_BOUNDARIES))]
    percent = overall * 100.0
    rows = {math.floor(percent + _BOUNDARY_TOLERANCE), math.ceil(percent - _BOUNDARY_TOLERANCE)}
    if any(row >= len(table) for row in rows):
        return None
    return min(table[row] for row in rows) / 100.0


def attrition(
    randomized_t: int,
    analyzed_t: int,
    randomized_c: int,
    analyzed_c: int,
    boundary: str = "cautious",
) -> Attrition:
    """Rate a randomized trial's attrition against the WWC boundary (Handbook 4.1, Table II.1).

    Use the cautious boundary when the intervention could itself change who leaves the
    study, the optimistic one when that is implausible; the review protocol decides.
    """
    randomized_t = check.count("randomized_t", randomized_t, minimum=1)
    randomized_c = check.count("randomized_c", randomized_c, minimum=1)
    analyzed_t = check.count("analyzed_t", analyzed_t)
    analyzed_c = check.count("analyzed_c", analyzed_c)
    if analyzed_t > randomized_t:
        raise ValueError(f"analyzed_t ({analyzed_t}) cannot exceed randomized_t ({randomized_t})")
    if analyzed_c > randomized_c:
        raise ValueError(f"analyzed_c ({analyzed_c}) cannot exceed randomized_c ({randomized_c})")
    check.choice("boundary", boundary, tuple(ATTRITION_BOUNDARIES))
    treatment_rate = 1.0 - analyzed_t / randomized_t
    control_rate = 1.0 - analyzed_c / randomized_c
    overall = 1.0 - (analyzed_t + analyzed_c) / (randomized_t + randomized_c)
    differential = abs(treatment_rate - control_rate)
    limit = max_low_differential(overall, boundary)
    is_low = limit is not None and differential <= limit + _BOUNDARY_TOLERANCE
    return Attrition(
        overall=overall,
        differential=differential,
        treatment=treatment_rate,
        control=control_rate,
        boundary=boundary,
        max_differential=limit,
        rating="low" if is_low else "high",
    )


@dataclass(frozen=True)
class ClusterAdjusted:
    """A student-level t test corrected for cluster assignment (Hedges 2007)."""

    t: float
    df: float
    p: float
    t_unadjusted: float
    average_cluster_size: float
    icc: float


def cluster_adjusted(
    g: float, n_t: int, n_c: int, n_clusters: int, icc: float = 0.20
) -> ClusterAdjusted:
    """WWC correction when classrooms or schools were assigned but students analyzed.

    t = g * sqrt(n_t n_c / N); with m = N / n_clusters (clusters in both arms),
    t_a = t * sqrt(((N-2) - 2(m-1)icc) / ((N-2)(1 + (m-1)icc))) and
    h = ((N-2) - 2(m-1)icc)^2 / ((N-2)(1-icc)^2 + m(N-2m)icc^2 + 2(N-2m)icc(1-icc)).
    The WWC default ICC is 0.20 for achievement outcomes and 0.10 for others.
    """
    g = check.finite_number("g", g)
    n_t = check.count("n_t", n_t, minimum=1)
    n_c = check.count("n_c", n_c, minimum=1)
    n_clusters = check.count("n_clusters", n_clusters, minimum=3)
    icc = check.probability("icc", icc)
    n_total = n_t + n_c
    if n_clusters > n_total:
        raise ValueError(
            f"n_clusters ({n_clusters}) cannot exceed the number of students ({n_total})"
        )
    m = n_total / n_clusters
    t_unadjusted = g * math.sqrt(n_t * n_c / n_total)
    shrunk = (n_total - 2) - 2.0 * (m - 1.0) * icc
    if shrunk <= 0:
        raise ValueError(
            "too few clusters for the clustering correction: with "
            f"{n_clusters} clusters of about {m:g} students and icc {icc:g} "
            "no degrees of freedom remain"
        )
    t_adjusted = t_unadjusted * math.sqrt(shrunk / ((n_total - 2) * (1.0 + (m - 1.0) * icc)))
    df = shrunk**2 / (
        (n_total - 2) * (1.0 - icc) ** 2
        + m * (n_total - 2.0 * m) * icc**2
        + 2.0 * (n_total - 2.0 * m) * icc * (1.0 - icc)
    )
    p = 2.0 * float(stats.t.sf(abs(t_adjusted), df))
    return ClusterAdjusted(
        t=t_adjusted,
        df=df,
        p=p,
        t_unadjusted=t_unadjusted,
        average_cluster_size=m,
        icc=icc,
    )
