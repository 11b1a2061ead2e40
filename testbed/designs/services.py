"""Pilot designs: the rules for writing, registering, amending, verifying and exporting a
pilot's design, and for randomizing its sites. The pages, the API and later issues (outcome
uploads call `require_registered_design`) share them.

Who may do what (checked here as well as in the guards):
- see the design: anyone who may see the pilot; drafts only the pilot's team (vendor,
  researchers with a role, site districts, network admins). Registered versions are what the
  public sees of a published pilot.
- write a draft, register, amend: the vendor's members, the pilot's researchers, admins.
- upload a site's roster or baseline groups: that site's district, admins.
- download a site's key-by-arm list (and see which keys a re-draw disagrees on): whoever
  `testbed.access.may_see_student_rows` lets see the site's student rows.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import secrets
import statistics
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

from piccolo.engine.sqlite import TransactionType

from analysis import randomization
from analysis.effect_sizes import hedges_g
from analysis.suppression import suppress_small_cells
from analysis.wwc import baseline_equivalence
from testbed import audit
from testbed.access import (
    RESEARCHER_ROLE,
    PilotAccess,
    may_see_student_rows,
    pilot_access,
    pilot_roles,
    require_student_rows,
)
from testbed.auth import Principal
from testbed.designs import document as documents
from testbed.designs import rees
from testbed.designs.canonical import canonical_json, sha256_of_text
from testbed.designs.power_panel import power_panel
from testbed.designs.rosters import parse_baseline_groups, parse_roster
from testbed.errors import Conflict, Forbidden, InvalidInput, NotFound
from testbed.tables import (
    Assignment,
    BaselineCheck,
    DesignVersion,
    Enrollment,
    Pilot,
)

# --- who may do what ------------------------------------------------------------------------


def can_edit_design(access: PilotAccess) -> bool:
    return access.is_network_admin or access.is_vendor or access.is_researcher


def require_edit_design(access: PilotAccess) -> None:
    if not can_edit_design(access):
        raise Forbidden(
            "Only the pilot's vendor, its researchers and network administrators can write, "
            "register or amend its design."
        )


def can_see_drafts(access: PilotAccess) -> bool:
    return can_edit_design(access) or access.has_role or access.is_site_district


def can_upload_for_site(access: PilotAccess, site_id: int) -> bool:
    return access.is_network_admin or site_id in access.site_district_ids


def require_upload_for_site(access: PilotAccess, site_id: int) -> None:
    if not can_upload_for_site(access, site_id):
        raise Forbidden("Only this site's district (or a network administrator) can upload here.")


# --- versions -------------------------------------------------------------------------------


def _plain_version(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": row["id"],
        "version": row["version"],
        "status": "registered" if row["registered_at"] else "draft",
        "registered_at": row["registered_at"],
        "sha256": row["sha256"] or None,
        "amendment_reason": row["amendment_reason"],
        "author": row["author_name"],
        "created_at": row["created_at"],
        "document": row["document"],
    }


async def _versions(pilot_id: int) -> list[dict[str, Any]]:
    rows = (
        await DesignVersion.select(
            DesignVersion.id,
            DesignVersion.version,
            DesignVersion.document,
            DesignVersion.registered_at,
            DesignVersion.sha256,
            DesignVersion.amendment_reason,
            DesignVersion.author.name.as_alias("author_name"),
            DesignVersion.created_at,
        )
        .where(DesignVersion.pilot == pilot_id)
        .order_by(DesignVersion.version)
        .output(load_json=True)
    )
    return [_plain_version(row) for row in rows]


def _visible(access: PilotAccess, versions: list[dict[str, Any]]) -> list[dict[str, Any]]:
    if can_see_drafts(access):
        return versions
    return [v for v in versions if v["status"] == "registered"]


@asynccontextmanager
async def _versioning(pilot_id: int) -> AsyncIterator[None]:
    """A transaction for read-then-write on one pilot's versions and assignments: SQLite takes
    the write lock at the start (IMMEDIATE), PostgreSQL locks the pilot's row, so two people
    registering or amending at once are serialized instead of both reading the same state.
    The unique indexes (pilot, version) and (pilot, site) back this up."""
    db = DesignVersion._meta.db
    if db.engine_type == "sqlite":
        async with db.transaction(transaction_type=TransactionType.immediate):
            yield
    else:
        async with db.transaction():
            await Pilot.select(Pilot.id).where(Pilot.id == pilot_id).lock_rows()
            yield


def _frozen(version: dict[str, Any]) -> Conflict:
    when = version["registered_at"].strftime("%Y-%m-%d %H:%M UTC")
    return Conflict(
        f"Version {version['version']} was registered on {when} and is frozen: it cannot be "
        "changed. To change the design, start an amendment (a new version, with a reason)."
    )


def _moved_on(latest: dict[str, Any] | None) -> Conflict:
    if latest is not None and latest["status"] == "draft":
        return Conflict(
            f"Someone has started version {latest['version']} of this design since you opened "
            "it, so saving would overwrite their amendment. Reload the page and edit that draft."
        )
    latest_words = f"version {latest['version']}" if latest else "no version"
    return Conflict(
        f"The design has changed since you opened it (it is now at {latest_words}); reload the "
        "page."
    )


def _reason_problem(message: str) -> dict[str, str]:
    return {"field": "amendment_reason", "message": message}


REASON_NEEDED = (
    "Say why the registered design is being amended (for example: enrollment came in lower "
    "than planned, before any outcome data were collected)."
)


async def save_draft(
    principal: Principal,
    pilot_id: int,
    document: dict[str, Any],
    *,
    from_form: bool = False,
    amendment_reason: str | None = None,
    expected_version: int | None = None,
    base_version: int | None = None,
) -> dict[str, Any]:
    """Write the pilot's draft: version 1, the draft being edited, or (after a registration) a
    new amendment version, which needs a reason. A registered version is never changed.

    `document` is the API's document, or the editor's form when `from_form`. `amendment_reason`
    None keeps a draft amendment's stored reason; "" clears it (and is refused).
    `expected_version` names the draft the person was editing. `base_version` names the
    registered version the person saw when starting an amendment: if another version has been
    started since, the write is refused instead of overwriting that other amendment."""
    access = await pilot_access(principal, pilot_id)
    require_edit_design(access)
    async with _versioning(pilot_id):
        versions = await _versions(pilot_id)
        latest = versions[-1] if versions else None
        if base_version is not None and (
            latest is None or latest["version"] != base_version or latest["status"] != "registered"
        ):
            raise _moved_on(latest)
        if expected_version is not None:
            target = next((v for v in versions if v["version"] == expected_version), None)
            if target is None:
                raise Conflict(
                    f"There is no version {expected_version} of this design; reload the page."
                )
            if target["status"] == "registered":
                raise _frozen(target)
        problems: list[dict[str, str]] = []
        try:
            validated = (
                documents.document_from_form(document)
                if from_form
                else documents.validate_document(document)
            )
        except InvalidInput as error:
            problems += error.errors
            validated = None
        starts_amendment = latest is not None and latest["status"] == "registered"
        is_amendment = starts_amendment or (latest is not None and latest["version"] > 1)
        reason = (
            latest["amendment_reason"]
            if amendment_reason is None and latest is not None and not starts_amendment
            else (amendment_reason or "").strip()
        )
        if is_amendment and not reason:
            problems.append(_reason_problem(REASON_NEEDED))
        if problems or validated is None:
            count = len(problems)
            raise InvalidInput(
                f"The design has {count} problem{'s' if count != 1 else ''}; "
                "see the marked fields.",
                errors=problems,
            )
        if latest is None or starts_amendment:
            number = 1 if latest is None else latest["version"] + 1
            await DesignVersion.insert(
                DesignVersion(
                    pilot=pilot_id,
                    version=number,
                    document=validated,
                    amendment_reason=reason if is_amendment else "",
                    author=principal.user_id,
                )
            )
            action = "design_amendment_started" if starts_amendment else "design_created"
        else:
            number = latest["version"]
            updated = (
                await DesignVersion.update(
                    {
                        DesignVersion.document: validated,
                        DesignVersion.amendment_reason: reason if is_amendment else "",
                        DesignVersion.author: principal.user_id,
                    }
                )
                .where((DesignVersion.id == latest["id"]) & DesignVersion.registered_at.is_null())
                .returning(DesignVersion.id)
            )
            if not updated:
                raise _frozen(latest)
            action = "design_edited"
        await audit.record(
            action,
            actor_id=principal.user_id,
            object_type="pilot",
            object_id=pilot_id,
            detail={"version": number},
        )
    return await get_version(principal, pilot_id, number)


async def start_amendment(
    principal: Principal,
    pilot_id: int,
    reason: str,
    document: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Open a new draft version after a registration, starting from the registered document
    (or the one given), with the reason for the amendment."""
    access = await pilot_access(principal, pilot_id)
    require_edit_design(access)
    async with _versioning(pilot_id):
        versions = await _versions(pilot_id)
        latest = versions[-1] if versions else None
        if latest is None:
            raise Conflict("This pilot has no registered design to amend; write one first.")
        if latest["status"] == "draft":
            raise Conflict(
                f"Version {latest['version']} is still a draft: edit it instead"
                + (" (it is the amendment in progress)." if latest["version"] > 1 else ".")
            )
        problems = [] if reason.strip() else [_reason_problem(REASON_NEEDED)]
        validated = latest["document"]
        if document is not None:
            try:
                validated = documents.validate_document(document)
            except InvalidInput as error:
                problems += error.errors
        if problems:
            raise InvalidInput("An amendment needs a reason and a valid design.", errors=problems)
        number = latest["version"] + 1
        await DesignVersion.insert(
            DesignVersion(
                pilot=pilot_id,
                version=number,
                document=validated,
                amendment_reason=reason.strip(),
                author=principal.user_id,
            )
        )
        await audit.record(
            "design_amendment_started",
            actor_id=principal.user_id,
            object_type="pilot",
            object_id=pilot_id,
            detail={"version": number, "reason": reason.strip()},
        )
    return await get_version(principal, pilot_id, number)


async def register_draft(
    principal: Principal, pilot_id: int, *, expected_version: int | None = None
) -> dict[str, Any]:
    """Freeze the draft: record the time and the SHA-256 of its canonical JSON, computed from
    the document as the database returns it (what every later verification reads)."""
    access = await pilot_access(principal, pilot_id)
    require_edit_design(access)
    async with _versioning(pilot_id):
        versions = await _versions(pilot_id)
        latest = versions[-1] if versions else None
        if latest is None:
            raise Conflict("There is no design to register yet; write one first.")
        if latest["status"] == "registered":
            raise _frozen(latest)
        if expected_version is not None and expected_version != latest["version"]:
            raise Conflict(
                f"The draft is version {latest['version']}, not {expected_version}; reload the "
                "page and check what you are registering."
            )
        documents.validate_document(latest["document"])
        if latest["version"] > 1 and not latest["amendment_reason"].strip():
            raise InvalidInput(
                "An amendment needs a reason before it is registered.",
                errors=[_reason_problem(REASON_NEEDED)],
            )
        digest = sha256_of_text(canonical_json(latest["document"]))
        registered = (
            await DesignVersion.update(
                {DesignVersion.registered_at: datetime.now(UTC), DesignVersion.sha256: digest}
            )
            .where((DesignVersion.id == latest["id"]) & DesignVersion.registered_at.is_null())
            .returning(DesignVersion.id)
        )
        if not registered:
            raise Conflict("This version was registered meanwhile; reload the page.")
        await audit.record(
            "design_registered" if latest["version"] == 1 else "design_amended",
            actor_id=principal.user_id,
            object_type="pilot",
            object_id=pilot_id,
            detail={"version": latest["version"], "sha256": digest},
        )
    return await get_version(principal, pilot_id, latest["version"])


async def list_versions(principal: Principal | None, pilot_id: int) -> list[dict[str, Any]]:
    access = await pilot_access(principal, pilot_id)
    return _visible(access, await _versions(pilot_id))


async def get_version(principal: Principal | None, pilot_id: int, number: int) -> dict[str, Any]:
    """One version with its verification: the canonical JSON exactly as hashed, the stored hash
    and the hash recomputed now from that text."""
    access = await pilot_access(principal, pilot_id)
    found = next(
        (v for v in _visible(access, await _versions(pilot_id)) if v["version"] == number), None
    )
    if found is None:
        raise NotFound(f"This pilot's design has no version {number} you can see.")
    text = canonical_json(found["document"])
    recomputed = sha256_of_text(text)
    return {
        **found,
        "canonical_json": text,
        "recomputed_sha256": recomputed,
        "matches": found["sha256"] == recomputed if found["sha256"] else None,
    }


async def diff_versions(
    principal: Principal | None, pilot_id: int, from_version: int | None, to_version: int | None
) -> dict[str, Any]:
    """Field-by-field differences between two versions (defaults: the last two)."""
    access = await pilot_access(principal, pilot_id)
    versions = {v["version"]: v for v in _visible(access, await _versions(pilot_id))}
    if not versions:
        raise NotFound("This pilot has no design versions you can see yet.")
    numbers = sorted(versions)
    if to_version is None:
        to_version = numbers[-1]
    if from_version is None:
        earlier = [number for number in numbers if number < to_version]
        from_version = earlier[-1] if earlier else to_version
    for number in (from_version, to_version):
        if number not in versions:
            raise NotFound(f"This pilot's design has no version {number} you can see.")
    changes = documents.diff(versions[from_version]["document"], versions[to_version]["document"])
    return {
        "from_version": from_version,
        "to_version": to_version,
        "versions": numbers,
        "changes": [{"path": p, "old": old, "new": new} for p, old, new in changes],
    }


async def pilot_summary(pilot_id: int) -> dict[str, Any]:
    row = (
        await Pilot.select(
            Pilot.id,
            Pilot.title,
            Pilot.research_question,
            Pilot.status,
            Pilot.grades,
            Pilot.subjects,
            Pilot.weeks,
            Pilot.start_window,
            Pilot.sites_wanted,
            Pilot.students_per_site,
            Pilot.product.name.as_alias("product_name"),
            Pilot.product.description.as_alias("product_description"),
            Pilot.product.vendor.name.as_alias("vendor_name"),
        )
        .where(Pilot.id == pilot_id)
        .first()
    )
    if row is None:
        raise NotFound("There is no such pilot.")
    return row


async def design_page(principal: Principal | None, pilot_id: int) -> dict[str, Any]:
    """Everything the design page shows: the versions this person may see, the draft (for the
    team), the latest registration, and the power of whichever is current."""
    access = await pilot_access(principal, pilot_id)
    versions = _visible(access, await _versions(pilot_id))
    draft = next((v for v in versions if v["status"] == "draft"), None)
    registered = next((v for v in reversed(versions) if v["status"] == "registered"), None)
    current = draft or registered
    return {
        "pilot": await pilot_summary(pilot_id),
        "versions": versions,
        "draft": draft,
        "registered": registered,
        "current": current,
        "power": power_panel(current["document"]) if current else None,
        "can_edit": can_edit_design(access),
    }


async def editor_state(principal: Principal, pilot_id: int) -> dict[str, Any]:
    """What the editor starts from: the draft, or the latest registered version (an amendment
    then needs a reason), or nothing."""
    access = await pilot_access(principal, pilot_id)
    require_edit_design(access)
    versions = await _versions(pilot_id)
    latest = versions[-1] if versions else None
    return {
        "pilot": await pilot_summary(pilot_id),
        "latest": latest,
        "draft": latest if latest and latest["status"] == "draft" else None,
        "amending": latest is not None
        and (latest["status"] == "registered" or latest["version"] > 1),
    }


# --- for later issues -------------------------------------------------------------------------


async def registered_design(pilot_id: int) -> dict[str, Any] | None:
    """The pilot's current registered design: the latest registered version's number, id,
    document, SHA-256 and registration time; None when nothing is registered. No access check:
    callers have checked who is asking."""
    row = (
        await DesignVersion.select(
            DesignVersion.id,
            DesignVersion.version,
            DesignVersion.document,
            DesignVersion.sha256,
            DesignVersion.registered_at,
        )
        .where((DesignVersion.pilot == pilot_id) & DesignVersion.registered_at.is_not_null())
        .order_by(DesignVersion.version, ascending=False)
        .first()
        .output(load_json=True)
    )
    return dict(row) if row else None


async def require_registered_design(
    pilot_id: int, *, before: str = "uploading data"
) -> dict[str, Any]:
    """The current registered design, or Conflict: nothing is collected before registration."""
    design = await registered_design(pilot_id)
    if design is None:
        raise Conflict(
            f"This pilot's design is not registered yet: register the design before {before}, "
            "so the plan is fixed before any data arrive."
        )
    return design


# --- REES export ------------------------------------------------------------------------------


async def rees_export(
    principal: Principal | None, pilot_id: int, version: int | None = None
) -> dict[str, Any]:
    """A registration in the field groups of SREE's Registry of Efficacy and Effectiveness
    Studies, to file there too."""
    access = await pilot_access(principal, pilot_id)
    registered = [
        v for v in _visible(access, await _versions(pilot_id)) if v["status"] == "registered"
    ]
    chosen = (
        next((v for v in registered if v["version"] == version), None)
        if version is not None
        else (registered[-1] if registered else None)
    )
    if chosen is None:
        raise NotFound("There is no registered version to export yet: register the design first.")
    sites = await _site_names(pilot_id)
    return rees.export(
        pilot=await pilot_summary(pilot_id),
        version=chosen,
        power=power_panel(chosen["document"]),
        sites=sites,
        researchers=[
            role["name"]
            for role in await pilot_roles(pilot_id)
            if role["in_effect"] and role["role"] == RESEARCHER_ROLE
        ],
    )


# --- randomization and baseline equivalence ---------------------------------------------------


async def _site_names(pilot_id: int) -> list[dict[str, Any]]:
    return await (
        Enrollment.select(
            Enrollment.district.id.as_alias("site_id"),
            Enrollment.district.name.as_alias("name"),
            Enrollment.district.state.as_alias("state"),
        )
        .where((Enrollment.pilot == pilot_id) & (Enrollment.status == "site"))
        .order_by(Enrollment.district.name)
    )


async def _require_site(pilot_id: int, site_id: int) -> dict[str, Any]:
    site = next((s for s in await _site_names(pilot_id) if s["site_id"] == site_id), None)
    if site is None:
        raise NotFound("That district is not a site of this pilot.")
    return site


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
    for site in await _site_names(pilot_id):
        assignment = await _assignment(pilot_id, site["site_id"])
        summary = None
        if assignment:
            summary = _assignment_summary(site, assignment, await _arms_for(assignment, pilot_id))
        sites.append(
            {
                **site,
                "assignment": summary,
                "baseline_check": await _latest_baseline_check(pilot_id, site),
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
    site = await _require_site(pilot_id, site_id)
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
    async with _versioning(pilot_id):
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
    site = await _require_site(pilot_id, site_id)
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
    await _require_site(pilot_id, site_id)
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


RATING_WORDS = {
    "satisfied": "equivalence is satisfied (WWC)",
    "requires_adjustment": (
        "equivalence requires statistical adjustment (WWC): the impact analysis must adjust "
        "for the baseline"
    ),
    "not_satisfied": (
        "the groups are not equivalent (WWC): this comparison cannot support a causal claim"
    ),
}


def baseline_sentence(g: float, rating: str) -> str:
    higher = "treatment" if g > 0 else "comparison"
    lead = (
        f"The groups differ by {abs(g):.2f} SD at baseline (the {higher} group is higher)"
        if round(abs(g), 2) > 0
        else "The groups do not differ at baseline (0.00 SD)"
    )
    return f"{lead}: {RATING_WORDS[rating]}."


async def _latest_baseline_check(pilot_id: int, site: dict[str, Any]) -> dict[str, Any] | None:
    row = (
        await BaselineCheck.select()
        .where((BaselineCheck.pilot == pilot_id) & (BaselineCheck.site == site["site_id"]))
        .order_by(BaselineCheck.id, ascending=False)
        .first()
    )
    if row is None:
        return None
    return {
        "site_id": site["site_id"],
        "site_name": site["name"],
        **{
            name: row[name]
            for name in (
                "n_treatment",
                "n_comparison",
                "mean_treatment",
                "sd_treatment",
                "mean_comparison",
                "sd_comparison",
                "hedges_g",
                "rating",
                "created_at",
            )
        },
        "sentence": baseline_sentence(row["hedges_g"], row["rating"]),
    }


async def check_baseline(
    principal: Principal, pilot_id: int, site_id: int, data: bytes
) -> dict[str, Any]:
    """A quasi-experiment's baseline equivalence for one site, from the district's groups:
    Hedges' g on the baseline and the WWC rating. Only the summary is stored, not the rows."""
    access = await pilot_access(principal, pilot_id)
    require_upload_for_site(access, site_id)
    site = await _require_site(pilot_id, site_id)
    design = await require_registered_design(pilot_id, before="uploading baseline data")
    if design["document"]["design_type"] != "quasi_experiment":
        raise Conflict(
            "Baseline equivalence is checked here for quasi-experiments; this pilot's registered "
            "design assigns its groups at random."
        )
    groups = parse_baseline_groups(data)
    summary = {
        "n_treatment": len(groups.treatment),
        "n_comparison": len(groups.comparison),
        "mean_treatment": statistics.fmean(groups.treatment),
        "sd_treatment": statistics.stdev(groups.treatment),
        "mean_comparison": statistics.fmean(groups.comparison),
        "sd_comparison": statistics.stdev(groups.comparison),
    }
    try:
        g = hedges_g(
            summary["mean_treatment"],
            summary["sd_treatment"],
            summary["n_treatment"],
            summary["mean_comparison"],
            summary["sd_comparison"],
            summary["n_comparison"],
        ).g
    except ValueError as error:
        raise InvalidInput(f"The baseline difference cannot be computed: {error}.") from None
    rating = baseline_equivalence(g)
    await BaselineCheck.insert(
        BaselineCheck(
            pilot=pilot_id,
            site=site_id,
            design_version=design["id"],
            sha256=hashlib.sha256(data).hexdigest(),
            hedges_g=g,
            rating=rating,
            created_by=principal.user_id,
            **summary,
        )
    )
    await audit.record(
        "baseline_checked",
        actor_id=principal.user_id,
        object_type="pilot",
        object_id=pilot_id,
        detail={"site": site_id, "hedges_g": g, "rating": rating},
    )
    found = await _latest_baseline_check(pilot_id, site)
    assert found is not None
    return found
