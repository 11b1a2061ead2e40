"""Randomizing a site's students, verifying the draw, and the key-by-arm download."""

from __future__ import annotations

import csv
import io
import json
import secrets
from typing import Any

from analysis import randomization
from analysis.suppression import suppress_small_cells
from testbed import audit
from testbed.access import (
    PilotAccess,
    may_see_student_rows,
    pilot_access,
    require_student_rows,
)
from testbed.auth import Principal
from testbed.designs import document as documents
from testbed.designs.rosters import parse_roster
from testbed.designs.services.baseline import latest_baseline_check
from testbed.designs.services.permissions import can_upload_for_site, require_upload_for_site
from testbed.designs.services.registered import registered_design, require_registered_design
from testbed.designs.services.sites import require_site, site_names
from testbed.designs.services.versions import pilot_summary, versioning
from testbed.errors import Conflict, NotFound
from testbed.tables import (
    Assignment,
)


def _block_label(site_id: int, stratum: str | None) -> str:
    # The labels set the order blocks are drawn in, so a re-run must build exactly these.
    return f"{site_id}/{stratum}" if stratum else str(site_id)


def _blocks(site_id: int, keys: list[str], strata: dict[str, str]) -> dict[str, str]:
    return {key: _block_label(site_id, strata.get(key)) for key in keys}


def _counts(mapping: dict[str, str], strata: dict[str, str], arms: list[str]) -> list[dict]:
    counts: dict[str, dict[str, int]] = {}
    for key, arm in mapping.items():
        block = strata.get(key, "whole site")
        counts.setdefault(block, dict.fromkeys(arms, 0))
        counts[block][arm] = counts[block].get(arm, 0) + 1
    return [{"block": block, "counts": counts[block]} for block in sorted(counts)]


async def _assignment(pilot_id: int, site_id: int) -> dict[str, Any] | None:
    row = (
        await Assignment.select(
            Assignment.id,
            Assignment.seed,
            Assignment.algorithm,
            Assignment.arms,
            Assignment.strata,
            Assignment.created_at,
            Assignment.design_version.version.as_alias("design_version"),
            Assignment.design_version.document.as_alias("design_document"),
        )
        .where((Assignment.pilot == pilot_id) & (Assignment.site == site_id))
        .first()
        .output(load_json=True)
    )
    return dict(row) if row else None


async def _arms_for(assignment: dict[str, Any], pilot_id: int) -> list[str]:
    """The arm list, in the order the draw used: the design it was drawn under, or (for
    assignments recorded without one) the registered design."""
    document = assignment["design_document"]
    if not document:
        design = await registered_design(pilot_id)
        document = design["document"] if design else {}
    if isinstance(document, str):
        document = json.loads(document)
    return list(document.get("arms") or sorted(set(assignment["arms"].values())))


def _assignment_summary(site: dict[str, Any], assignment: dict[str, Any], arms: list[str]):
    return {
        "site_id": site["site_id"],
        "site_name": site["name"],
        "seed": assignment["seed"],
        "algorithm": assignment["algorithm"],
        "units": len(assignment["arms"]),
        "design_version": assignment["design_version"],
        "created_at": assignment["created_at"],
        "blocks": _counts(assignment["arms"], assignment["strata"] or {}, arms),
    }


async def randomization_page(principal: Principal | None, pilot_id: int) -> dict[str, Any]:
    access = await pilot_access(principal, pilot_id)
    design = await registered_design(pilot_id)
    sites = []
    for site in await site_names(pilot_id):
        assignment = await _assignment(pilot_id, site["site_id"])
        summary = None
        if assignment:
            summary = _assignment_summary(site, assignment, await _arms_for(assignment, pilot_id))
        sites.append(
            {
                **site,
                "assignment": summary,
                "baseline_check": await latest_baseline_check(pilot_id, site),
                "can_upload": can_upload_for_site(access, site["site_id"]),
                "can_download": may_see_student_rows(access, site["site_id"]),
            }
        )
    outsiders = [s for s in sites if s["assignment"] and not s["can_download"]]
    if outsiders:
        await _suppress_assignment_counts(pilot_id, access, outsiders)
    return {
        "pilot": await pilot_summary(pilot_id),
        "design": design,
        "design_type": design["document"]["design_type"] if design else None,
        "sites": sites,
    }


async def _suppress_assignment_counts(
    pilot_id: int, access: PilotAccess, sites: list[dict[str, Any]]
) -> None:
    """Units per block and arm, as a viewer outside the site's district may see them: small
    blocks hidden (with complements), and an arm's counts hidden wherever the data page hides
    its randomized count (randomized minus analyzed would give the students lost)."""
    # Imported here: uploads.services builds on this module (registered designs).
    from testbed.uploads.services import randomized_shown

    shown = await randomized_shown(pilot_id, set(access.site_district_ids))
    for site in sites:
        assignment = site["assignment"]
        blocks = assignment["blocks"]
        arms = list(blocks[0]["counts"]) if blocks else []
        table = suppress_small_cells([[block["counts"][arm] for arm in arms] for block in blocks])
        rule = shown.get(site["site_id"], {})
        hidden_arms = {arm for arm in arms if not rule.get(arm, True)}
        for block, cells in zip(blocks, table.cells, strict=True):
            block["counts"] = {
                arm: None if arm in hidden_arms else value
                for arm, value in zip(arms, cells, strict=True)
            }
        if table.hidden_cells or hidden_arms or not rule.get("total", True):
            assignment["units"] = None


async def randomize_site(
    principal: Principal, pilot_id: int, site_id: int, data: bytes
) -> dict[str, Any]:
    """Assign the roster's units to the registered design's arms, blocked by site (and the
    roster's strata), with a fresh recorded seed. A site is randomized once."""
    access = await pilot_access(principal, pilot_id)
    require_upload_for_site(access, site_id)
    site = await require_site(pilot_id, site_id)
    design = await require_registered_design(pilot_id, before="randomizing")
    design_type = design["document"]["design_type"]
    if design_type not in documents.RANDOMIZED_TYPES:
        words = documents.DESIGN_TYPE_WORDS[design_type].lower()
        raise Conflict(
            f"This pilot's registered design is a {words}: the service randomizes only "
            "randomized trials."
        )
    if await _assignment(pilot_id, site_id):
        raise _already_randomized()
    roster = parse_roster(data)
    arms = list(design["document"]["arms"])
    seed = secrets.randbits(32)
    drawn = randomization.assign(
        roster.keys, arms, seed, blocks=_blocks(site_id, roster.keys, roster.strata)
    )
    async with versioning(pilot_id):
        if await _assignment(pilot_id, site_id):
            raise _already_randomized()
        await Assignment.insert(
            Assignment(
                pilot=pilot_id,
                site=site_id,
                seed=seed,
                algorithm=drawn.algorithm,
                arms={str(key): arm for key, arm in drawn.mapping.items()},
                strata=roster.strata,
                design_version=design["id"],
                created_by=principal.user_id,
            )
        )
        await audit.record(
            "randomized",
            actor_id=principal.user_id,
            object_type="pilot",
            object_id=pilot_id,
            detail={"site": site_id, "seed": seed, "units": len(roster.keys)},
        )
    assignment = await _assignment(pilot_id, site_id)
    assert assignment is not None
    return _assignment_summary(site, assignment, arms)


def _already_randomized() -> Conflict:
    return Conflict(
        "This site has already been randomized. Re-randomizing after assignment would let "
        "anyone redraw until they like the groups, which undermines the trial; the recorded "
        "assignment stands."
    )


async def verify_site(principal: Principal | None, pilot_id: int, site_id: int) -> dict[str, Any]:
    """Re-run the recorded draw from the stored keys, strata, seed and algorithm and compare."""
    access = await pilot_access(principal, pilot_id)
    site = await require_site(pilot_id, site_id)
    assignment = await _assignment(pilot_id, site_id)
    if assignment is None:
        raise NotFound("This site has not been randomized yet.")
    keys = list(assignment["arms"])
    strata = assignment["strata"] or {}
    arms = await _arms_for(assignment, pilot_id)
    if assignment["algorithm"] == randomization.ALGORITHM_UNBLOCKED:
        blocks = None
    elif assignment["algorithm"] == randomization.ALGORITHM:
        blocks = _blocks(site_id, keys, strata)
    else:
        raise Conflict(
            f"This assignment was made with an algorithm this service cannot re-run: "
            f"{assignment['algorithm']!r}."
        )
    redrawn = randomization.assign(keys, arms, assignment["seed"], blocks=blocks).mapping
    different = sorted(key for key in keys if redrawn.get(key) != assignment["arms"][key])
    identical = not different
    units: int | None = len(keys)
    if not may_see_student_rows(access, site_id):
        # Imported here: uploads.services builds on this module (registered designs).
        from testbed.uploads.services import randomized_shown

        shown = await randomized_shown(pilot_id, set(access.site_district_ids))
        if len(keys) < 10 or not shown.get(site_id, {}).get("total", True):
            units = None
    count = "all" if units is None else f"all {units:,}"
    return {
        "site_id": site_id,
        "site_name": site["name"],
        "identical": identical,
        "units": units,
        "differences": len(different),
        "different_keys": different[:100] if may_see_student_rows(access, site_id) else [],
        "seed": assignment["seed"],
        "algorithm": assignment["algorithm"],
        "sentence": (
            f"Identical: re-running the draw with seed {assignment['seed']} gives the same arm "
            f"for {count} units."
            if identical
            else f"Different: re-running the draw gives another arm for {len(different):,} of "
            f"{'the' if units is None else f'{units:,}'} units. The stored assignment does not "
            "match its seed."
        ),
    }


FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: str) -> str:
    # Spreadsheets run cells that begin like a formula; an apostrophe makes them plain text.
    return f"'{value}" if value.startswith(FORMULA_STARTS) else value


async def assignment_csv(principal: Principal, pilot_id: int, site_id: int) -> tuple[str, str]:
    """The site's assignment as CSV (key, arm[, stratum]) and a file name."""
    access = await pilot_access(principal, pilot_id)
    require_student_rows(access, site_id)
    await require_site(pilot_id, site_id)
    assignment = await _assignment(pilot_id, site_id)
    if assignment is None:
        raise NotFound("This site has not been randomized yet.")
    strata = assignment["strata"] or {}
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["key", "arm", "stratum"] if strata else ["key", "arm"])
    for key in sorted(assignment["arms"]):
        row = [key, assignment["arms"][key]] + ([strata.get(key, "")] if strata else [])
        writer.writerow([_cell(value) for value in row])
    return f"pilot-{pilot_id}-site-{site_id}-assignment.csv", buffer.getvalue()
