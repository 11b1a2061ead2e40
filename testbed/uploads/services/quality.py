"""The data-quality summary of a pilot: its uploads as each viewer may see them, attrition,
missingness and distributions, small cells hidden."""

from __future__ import annotations

from typing import Any

import numpy as np

from analysis.suppression import suppress_attrition
from testbed.access import PilotAccess, may_see_student_rows
from testbed.auth import Principal
from testbed.designs.services import registered_design
from testbed.findings.disclosure import hidden_reason
from testbed.tables import (
    Observation,
    Pilot,
)
from testbed.uploads.charts import histogram
from testbed.uploads.services.counts import (
    ArmCounts,
    attrition_summary,
    current_site_counts,
    json_path,
    json_value_sql,
    site_arm_counts,
)
from testbed.uploads.services.implementation import implementation_logs
from testbed.uploads.services.sites import (
    may_upload,
    pilot_datasets,
    pilot_sites,
    rules_from_design,
)

SMALL_CELL = 10
# What an upload's listing says about the students of its site: shown only to those who may see
# the site's student rows. Everyone else sees the site, version, kind, whether it is current and
# when it was uploaded.
UPLOAD_DETAILS = ("filename", "sha256", "row_count", "uploaded_by_name")


def datasets_as_seen_by(
    access: PilotAccess, datasets: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """`pilot_datasets` for one viewer: each site's uploads in full for its own district, the
    pilot's researchers and admins (may_see_student_rows); without file name, checksum, row
    count and uploader for anyone else (`details_shown` False)."""
    shown = []
    for dataset in datasets:
        if may_see_student_rows(access, dataset["site"]):
            shown.append({**dataset, "details_shown": True})
        else:
            shown.append({**dataset, **dict.fromkeys(UPLOAD_DETAILS), "details_shown": False})
    return shown


def known_sites(principal: Principal | None, access: PilotAccess) -> set[int] | None:
    """Sites whose rows the viewer may see unsuppressed (None: every site, for admins)."""
    if principal is not None and principal.is_network_admin:
        return None
    return set(access.site_district_ids)


async def data_quality(principal: Principal | None, access: PilotAccess) -> dict[str, Any]:
    """Everything the data-quality page shows, suppressed for the viewer."""
    pilot_id = access.pilot_id
    pilot = (
        await Pilot.select(Pilot.id, Pilot.title, Pilot.status).where(Pilot.id == pilot_id).first()
    )
    design = await registered_design(pilot_id)
    sites = await pilot_sites(pilot_id)
    datasets = await pilot_datasets(pilot_id)
    logs = {log["site"]: log for log in await implementation_logs(pilot_id)}
    known = known_sites(principal, access)
    listed = datasets_as_seen_by(access, datasets)
    page: dict[str, Any] = {
        "pilot": pilot,
        "design": design,
        "sites": sites,
        "logs": logs,
        "uploadable": {
            site["id"]
            for site in sites
            if principal is not None and may_upload(principal, access, site["id"])
        },
        "versions": listed,
        "current": {d["site"]: d for d in listed if d["is_current"]},
        "sees_everything": known is None,
    }
    if design is None:
        return page
    arms = tuple(design["document"].get("arms") or ("treatment", "control"))
    counts = await site_arm_counts(pilot_id, design, datasets)
    sites_with_data = [site for site in sites if site["id"] in counts]
    page["arms"] = arms
    page["attrition_rows"] = _attrition_table(sites_with_data, counts, arms, known)
    pooled = {
        arm: ArmCounts(
            sum(counts[s["id"]].get(arm, ArmCounts(0, 0)).randomized for s in sites_with_data),
            sum(counts[s["id"]].get(arm, ArmCounts(0, 0)).analyzed for s in sites_with_data),
            sum(
                counts[s["id"]].get(arm, ArmCounts(0, 0)).left_out_without_baseline
                for s in sites_with_data
            ),
        )
        for arm in arms
    }
    page["attrition"] = attrition_summary(pooled, arms) if sites_with_data else None
    page["missingness"] = await _missingness(design, datasets, sites_with_data, known)
    page["distributions"] = await _distributions(design, datasets, known, arms)
    return page


async def randomized_shown(pilot_id: int, known: set[int] | None) -> dict[int, dict[str, bool]]:
    """Site -> arm (and "total") -> whether its randomized count may be shown to a viewer who
    knows the `known` sites' rows (None: every site), by the data page's rule. The
    randomization pages show the same counts and must hide the same ones."""
    design = await registered_design(pilot_id)
    if design is None:
        return {}
    arms = tuple(design["document"].get("arms") or ("treatment", "control"))
    counts = await current_site_counts(pilot_id)
    sites = [{"id": site} for site in sorted(counts)]
    table = _attrition_table(sites, counts, arms, known)
    return {
        row["site"]["id"]: {
            **{cell["arm"]: cell["randomized"] is not None for cell in row["cells"]},
            "total": row["randomized"] is not None,
        }
        for row in table["rows"]
    }


def _attrition_table(
    sites: list[dict[str, Any]],
    counts: dict[int, dict[str, ArmCounts]],
    arms: tuple[str, ...],
    known: set[int] | None,
) -> dict[str, Any]:
    """Randomized and analyzed per site and arm, suppressed together (analysis.suppression:
    randomized minus analyzed must not give a small count either)."""
    known_rows = [known is None or site["id"] in known for site in sites]
    cells = {
        measure: [
            [getattr(counts[site["id"]].get(arm, ArmCounts(0, 0)), measure) for arm in arms]
            for site in sites
        ]
        for measure in ("randomized", "analyzed")
    }
    shown = suppress_attrition(cells["randomized"], cells["analyzed"], SMALL_CELL, known_rows)
    tables = {"randomized": shown.randomized, "analyzed": shown.analyzed}
    rows = []
    for i, site in enumerate(sites):
        row_cells = []
        for j, arm in enumerate(arms):
            randomized = tables["randomized"].cells[i][j]
            analyzed = tables["analyzed"].cells[i][j]
            rate = (
                1 - analyzed / randomized
                if randomized is not None and analyzed is not None and randomized > 0
                else None
            )
            row_cells.append(
                {
                    "arm": arm,
                    "randomized": randomized,
                    "analyzed": analyzed,
                    "rate": rate,
                    "why": {
                        "randomized": hidden_reason(
                            cells["randomized"][i][j],
                            cells["randomized"][i][j] - cells["analyzed"][i][j],
                        ),
                        "analyzed": hidden_reason(cells["analyzed"][i][j]),
                    },
                }
            )
        rows.append(
            {
                "site": site,
                "cells": row_cells,
                "randomized": tables["randomized"].row_totals[i],
                "analyzed": tables["analyzed"].row_totals[i],
            }
        )
    column_totals = {
        measure: [sum(row[j] for row in cells[measure]) for j in range(len(arms))]
        for measure in ("randomized", "analyzed")
    }
    return {
        "rows": rows,
        "randomized_totals": tables["randomized"].column_totals,
        "analyzed_totals": tables["analyzed"].column_totals,
        "totals_why": {
            "randomized": [
                hidden_reason(r, r - a)
                for r, a in zip(column_totals["randomized"], column_totals["analyzed"], strict=True)
            ],
            "analyzed": [hidden_reason(a) for a in column_totals["analyzed"]],
        },
        "randomized": tables["randomized"].total,
        "analyzed": tables["analyzed"].total,
        "suppressed": any(t.hidden_cells for t in tables.values()),
    }


async def _missingness(
    design: dict[str, Any],
    datasets: list[dict[str, Any]],
    sites: list[dict[str, Any]],
    known: set[int] | None,
) -> dict[str, Any]:
    """Per site (current student-level upload): the share of rows missing each column."""
    current = {d["site"]: d for d in datasets if d["is_current"] and d["kind"] == "students"}
    engine = Observation._meta.db
    rules = rules_from_design(design["document"], None, 0)
    text_columns = ["cluster", "arm", "gender", "race_ethnicity"]
    null_columns = ["frl", "el", "swd", "baseline", "dosage"]
    outcome_names = [outcome.name for outcome in rules.outcomes]
    columns = [*text_columns, *null_columns, *outcome_names]
    rows_out = []
    for site in sites:
        dataset = current.get(site["id"])
        if dataset is None:
            continue
        n = dataset["row_count"]
        own = known is None or site["id"] in known
        if not own and n < SMALL_CELL:
            rows_out.append({"site": site, "n": None, "missing": None})
            continue
        parts = [f"SUM(CASE WHEN {c} = '' THEN 1 ELSE 0 END) AS {c}" for c in text_columns]
        parts += [f"SUM(CASE WHEN {c} IS NULL THEN 1 ELSE 0 END) AS {c}" for c in null_columns]
        value = json_value_sql(engine.engine_type)
        parts += [
            f"SUM(CASE WHEN {value} IS NULL THEN 1 ELSE 0 END) AS o{i}"
            for i in range(len(outcome_names))
        ]
        result = await Observation.raw(
            f"SELECT {', '.join(parts)} FROM observation WHERE dataset = {{}}",  # noqa: S608
            *[json_path(engine.engine_type, name) for name in outcome_names],
            dataset["id"],
        )
        found = result[0]
        missing = [int(found[c] or 0) for c in [*text_columns, *null_columns]]
        missing += [int(found[f"o{i}"] or 0) for i in range(len(outcome_names))]
        if own:
            shares = [m / n if n else None for m in missing]
            rows_out.append({"site": site, "n": n, "missing": shares})
            continue
        # Outside the district: the rows uploaded less those with the outcome would be the
        # students lost, and a share of 1 to 9 rows times the rows is a small count.
        rows_out.append(
            {
                "site": site,
                "n": None,
                "missing": [None if 0 < m < SMALL_CELL else m / n for m in missing],
            }
        )
    return {"columns": columns, "rows": rows_out}


async def _distributions(
    design: dict[str, Any],
    datasets: list[dict[str, Any]],
    known: set[int] | None,
    arms: tuple[str, ...],
) -> list[dict[str, Any]]:
    """Per outcome: a histogram by arm over the current student-level uploads (pooled)."""
    current = [d for d in datasets if d["is_current"] and d["kind"] == "students"]
    if not current:
        return []
    everyone_known = known is None or all(d["site"] in known for d in current)
    engine = Observation._meta.db
    ids = ", ".join(str(int(d["id"])) for d in current)
    rules = rules_from_design(design["document"], None, 0)
    charts = []
    for outcome in rules.outcomes:
        rows = await Observation.raw(
            f"SELECT arm, {json_value_sql(engine.engine_type)} AS value "  # noqa: S608
            f"FROM observation WHERE dataset IN ({ids})",
            json_path(engine.engine_type, outcome.name),
        )
        by_arm = {
            arm: np.array(
                [float(r["value"]) for r in rows if r["arm"] == arm and r["value"] is not None]
            )
            for arm in arms
        }
        label = next(
            (o.get("label") or o["name"] for o in design["document"]["outcomes"]
             if str(o["name"]).strip().lower() == outcome.name),
            outcome.name,
        )  # fmt: skip
        charts.append(histogram(outcome, label, by_arm, suppress=not everyone_known))
    return charts
