"""Design versions: drafts, registration, amendments, differences between versions, and the
design and editor pages' state."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

from piccolo.engine.sqlite import TransactionType

from testbed import audit
from testbed.access import (
    PilotAccess,
    pilot_access,
)
from testbed.auth import Principal
from testbed.designs import document as documents
from testbed.designs.canonical import canonical_json, sha256_of_text
from testbed.designs.power_panel import power_panel
from testbed.designs.services.permissions import (
    can_edit_design,
    can_see_drafts,
    require_edit_design,
)
from testbed.errors import Conflict, InvalidInput, NotFound
from testbed.tables import (
    DesignVersion,
    Pilot,
)


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


async def all_versions(pilot_id: int) -> list[dict[str, Any]]:
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


def visible_versions(access: PilotAccess, versions: list[dict[str, Any]]) -> list[dict[str, Any]]:
    if can_see_drafts(access):
        return versions
    return [v for v in versions if v["status"] == "registered"]


@asynccontextmanager
async def versioning(pilot_id: int) -> AsyncIterator[None]:
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
    async with versioning(pilot_id):
        versions = await all_versions(pilot_id)
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
    async with versioning(pilot_id):
        versions = await all_versions(pilot_id)
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
    async with versioning(pilot_id):
        versions = await all_versions(pilot_id)
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
    return visible_versions(access, await all_versions(pilot_id))


async def get_version(principal: Principal | None, pilot_id: int, number: int) -> dict[str, Any]:
    """One version with its verification: the canonical JSON exactly as hashed, the stored hash
    and the hash recomputed now from that text."""
    access = await pilot_access(principal, pilot_id)
    found = next(
        (
            v
            for v in visible_versions(access, await all_versions(pilot_id))
            if v["version"] == number
        ),
        None,
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
    versions = {v["version"]: v for v in visible_versions(access, await all_versions(pilot_id))}
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
    versions = visible_versions(access, await all_versions(pilot_id))
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
    versions = await all_versions(pilot_id)
    latest = versions[-1] if versions else None
    return {
        "pilot": await pilot_summary(pilot_id),
        "latest": latest,
        "draft": latest if latest and latest["status"] == "draft" else None,
        "amending": latest is not None
        and (latest["status"] == "registered" or latest["version"] > 1),
    }
