"""What a viewer may see of a finding: small cells suppressed outside the pilot's district.

The results document holds every count. Before a page, a download or the API shows it, the
counts of fewer than 10 students (and their complements, see analysis.suppression) are hidden
with the statistics computed from them, unless every site in the finding is the viewer's own
district. A district sees its own site's row of the per-site table as it is.
"""

from __future__ import annotations

import copy
from typing import Any

from analysis.suppression import DEFAULT_THRESHOLD, suppress_small_cells

ARMS = ("treatment", "control")
CELL_STATISTICS = ("n", "mean", "sd", "median", "min", "max", "successes", "proportion")


def _hide(cell: dict[str, Any]) -> None:
    for key in CELL_STATISTICS:
        if key in cell:
            cell[key] = None
    cell["suppressed"] = True


def coarsen_histogram(
    edges: list[float], counts: dict[str, list[int]], threshold: int = DEFAULT_THRESHOLD
) -> dict[str, Any]:
    """Merge neighbouring bins until every arm has at least `threshold` students in each
    (a last bin that stays too small joins the one before it)."""
    arms = list(counts)
    merged_edges, merged = [edges[0]], {arm: [] for arm in arms}
    running = {arm: 0 for arm in arms}
    for index in range(len(edges) - 1):
        for arm in arms:
            running[arm] += counts[arm][index]
        if all(running[arm] >= threshold for arm in arms):
            merged_edges.append(edges[index + 1])
            for arm in arms:
                merged[arm].append(running[arm])
                running[arm] = 0
    if any(running.values()):
        if merged[arms[0]]:
            merged_edges[-1] = edges[-1]
            for arm in arms:
                merged[arm][-1] += running[arm]
        else:
            return {"edges": [], **{arm: [] for arm in arms}, "omitted": True}
    return {"edges": merged_edges, **merged, "coarsened": True}


def _suppress_arms(outcome: dict[str, Any]) -> None:
    arms = [arm for arm in ARMS if arm in outcome["arms"]]
    if not arms:
        return
    table = suppress_small_cells([[int(outcome["arms"][arm].get("n") or 0) for arm in arms]])
    hidden = [arm for arm, value in zip(arms, table.cells[0], strict=True) if value is None]
    for arm in hidden:
        _hide(outcome["arms"][arm])
    if hidden:
        if outcome.get("effect"):
            outcome["effect"]["n_t"] = outcome["effect"]["n_c"] = None
        if outcome.get("attrition"):
            outcome["attrition"]["randomized"] = outcome["attrition"]["analyzed"] = None
        outcome["randomized"] = None
        outcome["histogram"] = None
    elif outcome.get("histogram"):
        histogram = outcome["histogram"]
        outcome["histogram"] = coarsen_histogram(
            histogram["edges"], {arm: histogram[arm] for arm in ARMS}
        )


def _suppress_subgroup(subgroup: dict[str, Any]) -> None:
    levels = subgroup["levels"]
    if not levels:
        return
    table = suppress_small_cells([[int(level[arm]["n"] or 0) for arm in ARMS] for level in levels])
    for level, row in zip(levels, table.cells, strict=True):
        for arm, value in zip(ARMS, row, strict=True):
            if value is None:
                _hide(level[arm])
        if None in row:
            # An effect and its interval would reveal the group sizes they came from.
            level["g"] = level["ci"] = level["p"] = None
            level["suppressed"] = True


def _suppress_dosage(dosage: dict[str, Any]) -> None:
    bands = dosage["bands"]
    table = suppress_small_cells([[int(band["n"] or 0) for band in bands]])
    for band, value in zip(bands, table.cells[0], strict=True):
        if value is None:
            _hide(band)


def _suppress_sites(rows: list[dict[str, Any]], own_sites: frozenset[int]) -> None:
    """The district's own rows stay as they are (it knows them) and hide nothing else."""
    if not rows:
        return
    table = suppress_small_cells(
        [[row["analyzed"][arm] for arm in ARMS] for row in rows],
        known_rows=[row["site_id"] in own_sites for row in rows],
    )
    for row, cells in zip(rows, table.cells, strict=True):
        row["analyzed"] = dict(zip(ARMS, cells, strict=True))
        row["suppressed"] = None in cells


def sees_everything(results: dict[str, Any], own_sites: frozenset[int]) -> bool:
    """True when every site in the finding is the viewer's own district."""
    sites = {row["site_id"] for row in results.get("site_counts", [])}
    return bool(sites) and sites <= own_sites


def disclose(results: dict[str, Any], own_sites: frozenset[int]) -> dict[str, Any]:
    """The results as this viewer may see them (a copy; `suppressed` says if anything is hidden)."""
    shown = copy.deepcopy(results)
    if sees_everything(results, own_sites):
        shown["suppressed"] = False
        return shown
    for outcome in shown["outcomes"]:
        _suppress_arms(outcome)
    for subgroup in shown["subgroups"]:
        _suppress_subgroup(subgroup)
    if shown.get("dosage"):
        _suppress_dosage(shown["dosage"])
    _suppress_sites(shown["site_counts"], own_sites)
    baseline = shown.get("baseline")
    if baseline and min(baseline["n_t"], baseline["n_c"]) < DEFAULT_THRESHOLD:
        baseline["n_t"] = baseline["n_c"] = baseline["mean_t"] = baseline["mean_c"] = None
    shown["suppressed"] = True
    return shown
