"""Pilot calls and their lifecycle: who may move a pilot to which status, and when."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from piccolo.columns import Column
from piccolo.columns.combination import Combinable

from testbed import audit, vocabulary
from testbed.access import (
    CALL_STATUSES,
    SITE_STATUSES,
    PilotAccess,
    pilot_access,
    visible_pilots_where,
)
from testbed.auth import Principal
from testbed.catalog.services.listing import (
    ListFilters,
    Page,
    fetch_page,
    has_any_code,
    has_code,
    search_terms,
)
from testbed.catalog.services.products import vendor_options
from testbed.errors import Conflict, Forbidden, InvalidInput, NotFound
from testbed.inputs import InputReader
from testbed.tables import (
    MAX_ID,
    Enrollment,
    Finding,
    Pilot,
    Product,
)

EDITABLE_PILOT_STATUSES = frozenset({"draft", "open"})
# A pilot has outcome data (uploads, data quality, findings) from the day it starts.
DATA_STATUSES = frozenset({"active", "analysis", "published", "closed"})
PILOT_LIST_COLUMNS = (
    Pilot.id,
    Pilot.title,
    Pilot.status,
    Pilot.grades,
    Pilot.subjects,
    Pilot.pillars,
    Pilot.sites_wanted,
    Pilot.students_per_site,
    Pilot.weeks,
    Pilot.start_window,
    Pilot.product.id.as_alias("product_id"),
    Pilot.product.name.as_alias("product_name"),
    Pilot.product.vendor.id.as_alias("vendor_id"),
    Pilot.product.vendor.name.as_alias("vendor_name"),
)
PILOT_COLUMNS = (
    *PILOT_LIST_COLUMNS,
    Pilot.research_question,
    Pilot.devices_required,
    Pilot.training_hours,
    Pilot.sites_receive,
    Pilot.created_at,
    Pilot.updated_at,
)

# The lifecycle: from each status, the statuses a pilot may move to.
TRANSITIONS: dict[str, tuple[str, ...]] = {
    "draft": ("open", "withdrawn"),
    "open": ("matching", "withdrawn"),
    "matching": ("active", "open", "withdrawn"),
    "active": ("analysis", "withdrawn"),
    "analysis": ("published", "closed"),
    "published": ("closed",),
    "closed": (),
    "withdrawn": (),
}
# The vendor runs its own call until it becomes a study, and may withdraw it at any point;
# the later steps are the network's (registration, data and approvals will gate them).
VENDOR_MOVES_FROM = frozenset({"draft", "open", "matching"})


async def list_pilots(principal: Principal | None, filters: ListFilters, page: int) -> Page:
    where: list[Combinable] = [visible_pilots_where(principal)]
    if filters.status:
        where.append(Pilot.status == filters.status)
    if filters.product:
        where.append(Pilot.product == filters.product)
    if filters.vendor:
        where.append(Pilot.product.vendor == filters.vendor)
    if filters.pillar:
        where.append(has_code(Pilot.pillars, filters.pillar))
    if filters.grade_band:
        where.append(has_any_code(Pilot.grades, vocabulary.GRADE_BANDS[filters.grade_band]))
    if filters.subject:
        where.append(has_code(Pilot.subjects, filters.subject))
    where += search_terms(filters.words, (Pilot.title, Pilot.research_question, Pilot.product.name))
    return await fetch_page(
        Pilot, PILOT_LIST_COLUMNS, where, (Pilot.title, Pilot.id), filters, page
    )


async def get_pilot(principal: Principal | None, pilot_id: int) -> tuple[dict, PilotAccess]:
    access = await pilot_access(principal, pilot_id)
    pilot = await Pilot.select(*PILOT_COLUMNS).where(Pilot.id == pilot_id).first()
    if pilot is None:
        raise NotFound("There is no such pilot.")
    return pilot, access


def _read_pilot(reader: InputReader) -> dict[Column, Any]:
    return {
        Pilot.title: reader.text("title", "a title"),
        Pilot.research_question: reader.text(
            "research_question", "the research question", max_length=2000
        ),
        Pilot.grades: reader.codes("grades", "grades", vocabulary.GRADE_CODES),
        Pilot.subjects: reader.codes("subjects", "subjects", vocabulary.SUBJECTS),
        Pilot.pillars: reader.codes("pillars", "pillars", vocabulary.PILLARS),
        Pilot.sites_wanted: reader.number(
            "sites_wanted", "the number of sites", minimum=1, maximum=100, whole=True
        ),
        Pilot.students_per_site: reader.number(
            "students_per_site", "the students per site", minimum=1, maximum=100_000, whole=True
        ),
        Pilot.weeks: reader.number("weeks", "the weeks", minimum=1, maximum=104, whole=True),
        Pilot.start_window: reader.text(
            "start_window", "the start window", required=False, max_length=100
        ),
        Pilot.devices_required: reader.text(
            "devices_required", "the devices required", required=False
        ),
        Pilot.training_hours: reader.number(
            "training_hours", "the training hours", minimum=0, maximum=1000, whole=True
        ),
        Pilot.sites_receive: reader.text(
            "sites_receive", "what sites receive", required=False, max_length=5000
        ),
    }


async def create_pilot(principal: Principal, values: Mapping[str, Any]) -> int:
    """A new call, as a draft, for a product of one of the principal's verified vendors."""
    reader = InputReader(values)
    product_id = reader.number("product", "the product", minimum=1, maximum=MAX_ID, whole=True)
    pilot = _read_pilot(reader)
    if product_id is not None:
        product = await Product.select(Product.vendor).where(Product.id == product_id).first()
        own = {vendor_id for vendor_id, _ in await vendor_options(principal)}
        if product is None:
            reader.problem("product", "There is no such product.")
        elif product["vendor"] not in own:
            raise Forbidden("Only the product's verified vendor can open a call for it.")
    reader.raise_problems()
    rows = await Pilot.insert(
        Pilot(
            product=product_id,
            status="draft",
            **{column._meta.name: value for column, value in pilot.items()},
        )
    )
    await audit.record(
        "pilot_created", actor_id=principal.user_id, object_type="pilot", object_id=rows[0]["id"]
    )
    return rows[0]["id"]


async def update_pilot(principal: Principal, pilot_id: int, values: Mapping[str, Any]) -> None:
    access = await pilot_access(principal, pilot_id)
    access.require_manage()
    if access.status not in EDITABLE_PILOT_STATUSES:
        raise Conflict(
            f"This pilot is {access.status}: a call can be edited only while it is a draft or "
            "open, so that what districts volunteered for does not change under them."
        )
    reader = InputReader(values)
    pilot = _read_pilot(reader)
    reader.raise_problems()
    updated = await (
        Pilot.update({**pilot, Pilot.updated_at: datetime.now(UTC)})
        .where((Pilot.id == pilot_id) & Pilot.status.is_in(sorted(EDITABLE_PILOT_STATUSES)))
        .returning(Pilot.id)
    )
    if not updated:
        raise Conflict("The pilot's status changed meanwhile; reload the page.")
    await audit.record(
        "pilot_updated", actor_id=principal.user_id, object_type="pilot", object_id=pilot_id
    )


def may_move(access: PilotAccess, target: str) -> bool:
    """Whether this principal may make this (legal) move: the vendor its own call's early
    moves, withdrawal and publication (gated by a published finding), a network admin any
    move."""
    if access.is_network_admin:
        return True
    return access.is_vendor and (
        access.status in VENDOR_MOVES_FROM or target in ("withdrawn", "published")
    )


def next_statuses(access: PilotAccess) -> list[str]:
    """The moves this principal can make now (for the buttons on the pilot's page)."""
    return [target for target in TRANSITIONS[access.status] if may_move(access, target)]


@dataclass(frozen=True)
class PilotActions:
    """What the pilot's page offers this person now, by the pilot's status and their part."""

    can_manage: bool  # its team, volunteers and status
    can_edit: bool  # the call itself
    next_statuses: list[str]
    has_outcome_data: bool  # uploads, data quality and findings exist from the start on
    may_volunteer: bool  # a district's member, while the call takes volunteers


def pilot_actions(principal: Principal | None, access: PilotAccess) -> PilotActions:
    return PilotActions(
        can_manage=access.can_manage,
        can_edit=access.can_manage and access.status in EDITABLE_PILOT_STATUSES,
        next_statuses=next_statuses(access),
        has_outcome_data=access.status in DATA_STATUSES,
        may_volunteer=principal is not None
        and "district" in principal.kinds
        and access.status in CALL_STATUSES,
    )


async def transition_problems(
    pilot_id: int, current: str, target: str, *, by_network_admin: bool = False
) -> list[str]:
    """What stands in the way of a legal move, beyond who may make it. Later issues add their
    conditions here: a registered design before `active`, current data before `analysis`,
    approved findings before `published`."""
    problems = []
    if target == "active":
        sites = await Enrollment.count().where(
            (Enrollment.pilot == pilot_id) & Enrollment.status.is_in(sorted(SITE_STATUSES))
        )
        if sites == 0:
            problems.append("A pilot becomes active only with at least one accepted site.")
    if target == "published" and not by_network_admin:
        # The vendor publishes a pilot only with its approved, published finding.
        published = await Finding.exists().where(
            (Finding.pilot == pilot_id)
            & Finding.published_at.is_not_null()
            & Finding.retracted_at.is_null()
        )
        if not published:
            problems.append(
                "A pilot is published with its finding: the vendor and every site district "
                "approve it on the pilot's findings page, then it is published there."
            )
    return problems


async def change_pilot_status(
    principal: Principal, pilot_id: int, target: str, *, ip_address: str = ""
) -> str:
    """Move a pilot along its lifecycle; returns the new status."""
    access = await pilot_access(principal, pilot_id)
    access.require_manage()
    if target not in vocabulary.PILOT_STATUSES:
        raise InvalidInput(
            f"Unknown status {target!r}.",
            errors=[{"field": "status", "message": "Choose one of the offered statuses."}],
        )
    current = access.status
    allowed = TRANSITIONS[current]
    if target not in allowed:
        raise Conflict(
            f"A pilot that is {current} cannot become {target}. "
            + (
                f"From {current} it can become: {', '.join(allowed)}."
                if allowed
                else f"{current.capitalize()} is a final status."
            )
        )
    if not may_move(access, target):
        raise Forbidden(
            f"Only a network administrator can move a pilot from {current} to {target}."
        )
    problems = await transition_problems(
        pilot_id, current, target, by_network_admin=access.is_network_admin
    )
    if problems:
        raise Conflict(" ".join(problems))
    updated = await (
        Pilot.update({Pilot.status: target, Pilot.updated_at: datetime.now(UTC)})
        .where((Pilot.id == pilot_id) & (Pilot.status == current))
        .returning(Pilot.id)
    )
    if not updated:
        raise Conflict("The pilot's status changed meanwhile; reload the page.")
    await audit.record(
        "pilot_status_changed",
        actor_id=principal.user_id,
        object_type="pilot",
        object_id=pilot_id,
        detail={"from": current, "to": target},
        ip_address=ip_address,
    )
    return target
