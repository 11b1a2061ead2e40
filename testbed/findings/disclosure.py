"""What a viewer may see of a finding: small cells suppressed outside the pilot's district.

The results document holds every count. Before a page, a download or the API shows it, the
counts of fewer than 10 students (and their complements, see analysis.suppression) are hidden
with the statistics computed from them, unless every site in the finding is the viewer's own
district. A district sees its own site's row of the per-site table as it is.
"""

from __future__ import annotations

import copy
import math
from typing import Any

from analysis.suppression import DEFAULT_THRESHOLD, suppress_attrition, suppress_small_cells

ARMS = ("treatment", "control")
SMALL = f"fewer than {DEFAULT_THRESHOLD} students"
COMPLEMENT = "hidden so a smaller group cannot be worked out"
LEFT = f"hidden: with the students analyzed it would show that fewer than {DEFAULT_THRESHOLD} left"


def rounded_reach(students: int | None) -> int | None:
    """Students reached (everyone randomized), as the network's pages show them: to the nearest
    10, since reached minus a site's students analyzed would otherwise give the students lost
    there."""
    if students is None:
        return None
    return int(10 * math.floor(students / 10 + 0.5))


def hidden_reason(true_count: int, lost: int | None = None) -> str:
    """Why a hidden count is hidden, in words: a small group, a randomized count that would
    give the students lost (`lost`, 1 to 9), or a complement of a small group (a count of 10 or
    more hidden so that a small group cannot be found by subtraction)."""
    if 0 <= true_count < DEFAULT_THRESHOLD:
        return SMALL
    if lost is not None and 0 < lost < DEFAULT_THRESHOLD:
        return LEFT
    return COMPLEMENT


CELL_STATISTICS = ("n", "mean", "sd", "median", "min", "max", "successes", "proportion")


# Statistics of single students: never shown outside the district, whatever the group size.
SINGLE_STUDENT = ("min", "max")


def _drop_single_students(cell: dict[str, Any]) -> None:
    for key in SINGLE_STUDENT:
        cell.pop(key, None)


def _hide(cell: dict[str, Any]) -> None:
    cell["why"] = hidden_reason(int(cell.get("n") or 0))
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
    return {"edges": _open_ends(merged_edges), **merged, "coarsened": True}


def _open_ends(edges: list[float]) -> list[float]:
    """The outer edges of a histogram are the lowest and highest scores (single students):
    widen them to a round number (a power of ten below the range)."""
    if len(edges) < 2 or edges[-1] <= edges[0]:
        return edges
    step = 10.0 ** math.floor(math.log10(edges[-1] - edges[0]))
    low = math.floor(edges[0] / step) * step
    high = math.ceil(edges[-1] / step) * step
    low = low - step if low == edges[0] else low
    high = high + step if high == edges[-1] else high
    return [low, *edges[1:-1], high]


def _suppress_arms(outcome: dict[str, Any]) -> None:
    # Every arm the outcome reports: a before/after pilot's are "baseline" and "treatment".
    arms = list(outcome["arms"])
    if not arms:
        return
    table = suppress_small_cells([[int(outcome["arms"][arm].get("n") or 0) for arm in arms]])
    hidden = [arm for arm, value in zip(arms, table.cells[0], strict=True) if value is None]
    for arm in hidden:
        _hide(outcome["arms"][arm])
    if hidden:
        # Degrees of freedom are the students analyzed less the parameters fitted; a statistic
        # and its p at full precision give the df back, so they are shown as printed.
        for part in ("test", "sensitivity", "ancova", "cluster", "headline"):
            if outcome.get(part):
                if "df" in outcome[part]:
                    outcome[part]["df"] = None
                _as_printed(outcome[part])
        if outcome.get("cluster"):
            # Clusters times their average size is the students analyzed.
            outcome["cluster"]["average_cluster_size"] = None
        if outcome.get("effect"):
            outcome["effect"]["n_t"] = outcome["effect"]["n_c"] = None
        if outcome.get("attrition"):
            outcome["attrition"]["randomized"] = outcome["attrition"]["analyzed"] = None
        outcome["randomized"] = None
        outcome["histogram"] = None
    elif outcome.get("histogram"):
        histogram = outcome["histogram"]
        outcome["histogram"] = coarsen_histogram(
            histogram["edges"], {arm: histogram[arm] for arm in arms if arm in histogram}
        )


def _as_printed(part: dict[str, Any]) -> None:
    """A test statistic to 2 decimals and p to 2 significant digits, as pages print them."""
    for key in ("statistic", "t"):
        if isinstance(part.get(key), float):
            part[key] = round(part[key], 2)
    for key in ("p", "bh_p"):
        if isinstance(part.get(key), float):
            part[key] = float(f"{part[key]:.2g}")


def _suppress_attrition(outcome: dict[str, Any]) -> None:
    """Rates of attrition with the analyzed counts give the students lost (lost = analyzed /
    (1 - rate) - analyzed): when an arm lost 1 to 9 students, only the rating is shown."""
    attrition = outcome.get("attrition")
    if not attrition:
        return
    randomized, analyzed = attrition.get("randomized") or {}, attrition.get("analyzed") or {}
    lost = [
        randomized[arm] - analyzed[arm]
        for arm in ARMS
        if randomized.get(arm) is not None and analyzed.get(arm) is not None
    ]
    if len(lost) == len(ARMS) and not any(0 < value < DEFAULT_THRESHOLD for value in lost):
        return
    # The boundary at the overall rate (max_differential) would narrow that rate to a band.
    hidden = ("overall", "differential", "treatment", "control", "randomized", "max_differential")
    for key in hidden:
        attrition[key] = None
    attrition["why"] = "hidden so the number of students who left cannot be worked out"
    outcome["randomized"] = None


def _suppress_subgroup(subgroup: dict[str, Any]) -> None:
    levels = subgroup["levels"]
    if not levels:
        return
    table = suppress_small_cells([[int(level[arm]["n"] or 0) for arm in ARMS] for level in levels])
    interaction = subgroup.get("interaction")
    if interaction and table.hidden_cells:
        # Students tested = denominator df + 2 x levels tested: with the shown levels' totals
        # that isolates the hidden ones. F and p at full precision would give the df back (p
        # is a function of F and both df), so they are shown as the page prints them.
        interaction["df_denominator"] = None
        _as_printed(interaction)
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


def _suppress_sites(rows: list[dict[str, Any]], own_sites: frozenset[int]) -> int | None:
    """Randomized and analyzed per site and arm, suppressed together (randomized minus analyzed
    is a count too). The district's own rows stay as they are (it knows them) and hide nothing
    else. Returns the total analyzed if it may be shown."""
    if not rows:
        return None
    analyzed = [[row["analyzed"][arm] for arm in ARMS] for row in rows]
    randomized = [
        [max(row.get("randomized", {}).get(arm, 0), row["analyzed"][arm]) for arm in ARMS]
        for row in rows
    ]
    tables = suppress_attrition(
        randomized, analyzed, known_rows=[row["site_id"] in own_sites for row in rows]
    )
    for i, row in enumerate(rows):
        row["why"] = {}
        for measure, table, true in (
            ("analyzed", tables.analyzed, analyzed),
            ("randomized", tables.randomized, randomized),
        ):
            row[measure] = dict(zip(ARMS, table.cells[i], strict=True))
            row["why"][measure] = {
                arm: hidden_reason(true[i][j], randomized[i][j] - analyzed[i][j])
                for j, arm in enumerate(ARMS)
                if table.cells[i][j] is None
            }
        row["suppressed"] = None in row["analyzed"].values() or None in row["randomized"].values()
    return tables.analyzed.total


def sees_everything(results: dict[str, Any], own_sites: frozenset[int]) -> bool:
    """True when every site in the finding is the viewer's own district."""
    sites = {row["site_id"] for row in results.get("site_counts", [])}
    return bool(sites) and sites <= own_sites


def disclose(results: dict[str, Any], own_sites: frozenset[int]) -> dict[str, Any]:
    """The results as this viewer may see them (a copy; `suppressed` says if anything is hidden)."""
    shown = copy.deepcopy(results)
    # The students in the headline estimate: the sample ESSA counts.
    essa = results.get("essa")
    shown["students_analyzed"] = essa["students"] if essa else None
    if sees_everything(results, own_sites):
        shown["suppressed"] = False
        return shown
    for outcome in shown["outcomes"]:
        _suppress_arms(outcome)
        for cell in outcome["arms"].values():
            _drop_single_students(cell)
    for subgroup in shown["subgroups"]:
        for level in subgroup["levels"]:
            for arm in ARMS:
                _drop_single_students(level[arm])
    for band in (shown.get("dosage") or {}).get("bands", []):
        _drop_single_students(band)
    for subgroup in shown["subgroups"]:
        _suppress_subgroup(subgroup)
    if shown.get("dosage"):
        _suppress_dosage(shown["dosage"])
    analyzed_total = _suppress_sites(shown["site_counts"], own_sites)
    primary = next((o for o in shown["outcomes"] if o.get("primary")), None)
    arms_hidden = primary is not None and any(
        cell.get("suppressed") for cell in primary["arms"].values()
    )
    if analyzed_total is None or arms_hidden:
        shown["students_analyzed"] = None
        if shown.get("essa"):
            shown["essa"]["students"] = None
    for outcome in shown["outcomes"]:
        _suppress_attrition(outcome)
    # Rows uploaded minus students analyzed would give the students lost at student-row sites.
    shown["data"]["student_rows"] = None
    baseline = shown.get("baseline")
    if baseline and min(baseline["n_t"], baseline["n_c"]) < DEFAULT_THRESHOLD:
        baseline["n_t"] = baseline["n_c"] = baseline["mean_t"] = baseline["mean_c"] = None
    shown["suppressed"] = True
    return shown
