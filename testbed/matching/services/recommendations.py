"""Recommendations for a district, a call's volunteers and other good fits, and invitations."""

from __future__ import annotations

from typing import Any

import numpy as np

from testbed import audit, vocabulary
from testbed.access import CALL_STATUSES, pilot_access
from testbed.auth import Principal
from testbed.errors import Conflict, Forbidden, InvalidInput, NotFound
from testbed.matching.fit import (
    DistrictFacts,
    explain,
    score_matrix,
)
from testbed.matching.services.enrollments import (
    NON_VOLUNTEERS_SHOWN,
    PENDING_STATUSES,
    RECOMMENDATIONS_SHOWN,
    STATUS_WORDS,
    WITHDRAWABLE_STATUSES,
)
from testbed.matching.services.facts import (
    call_facts,
    call_rows,
    district_facts,
    fit_out,
    fit_weights,
)
from testbed.notifications.services import notify_organization
from testbed.tables import (
    Enrollment,
    Organization,
    Pilot,
)


def _district_of(principal: Principal, district_id: int | None) -> int:
    districts = principal.organizations_of_kind("district")
    if not districts:
        raise Forbidden("Recommendations are for district members.")
    if district_id is None:
        return districts[0]
    if district_id not in districts:
        raise Forbidden("You can see recommendations only for your own district.")
    return district_id


async def district_dashboard(
    principal: Principal, district_id: int | None = None
) -> dict[str, Any]:
    """Open calls ranked by fit for the district, and its enrollments with what it can do."""
    district_id = _district_of(principal, district_id)
    organization = (
        await Organization.select(Organization.id, Organization.name, Organization.verified)
        .where(Organization.id == district_id)
        .first()
    )
    enrollments = (
        await Enrollment.select(
            Enrollment.id,
            Enrollment.pilot,
            Enrollment.status,
            Enrollment.capacity_students,
            Enrollment.fit_score,
            Enrollment.fit_explanation,
            Enrollment.updated_at,
            Enrollment.pilot.title.as_alias("title"),
            Enrollment.pilot.product.vendor.name.as_alias("vendor_name"),
        )
        .where(Enrollment.district == district_id)
        .order_by(Enrollment.updated_at, ascending=False)
        .output(load_json=True)
    )
    for row in enrollments:
        row["status_words"] = STATUS_WORDS.get(row["status"], row["status"])
        row["can_accept"] = row["status"] in ("proposed", "accepted_by_vendor")
        row["can_decline"] = row["status"] in PENDING_STATUSES
        row["can_withdraw"] = row["status"] in WITHDRAWABLE_STATUSES
    return {
        "district": organization,
        "districts": [m for m in principal.memberships if m.kind == "district"],
        "recommendations": await recommendations(principal, district_id),
        "enrollments": enrollments,
    }


async def recommendations(
    principal: Principal,
    district_id: int | None = None,
    *,
    limit: int = RECOMMENDATIONS_SHOWN,
) -> list[dict[str, Any]]:
    """The open calls that fit the district best (leaving out those it has volunteered for),
    each with its parts in words."""
    district_id = _district_of(principal, district_id)
    facts = await district_facts([district_id])
    if not facts:
        return []
    enrolled = {
        row["pilot"]
        for row in await Enrollment.select(Enrollment.pilot).where(
            (Enrollment.district == district_id) & (Enrollment.status != "withdrawn")
        )
    }
    calls = [row for row in await call_rows() if row["id"] not in enrolled]
    if not calls:
        return []
    weights = await fit_weights()
    scores = score_matrix(facts, [call_facts(row) for row in calls], weights)[0]
    order = sorted(range(len(calls)), key=lambda index: (-scores[index], calls[index]["id"]))
    ranked = []
    for index in order[:limit]:
        row = calls[index]
        ranked.append(
            {
                "pilot_id": row["id"],
                "title": row["title"],
                "status": row["status"],
                "product": row["product_name"],
                "vendor": row["vendor_name"],
                "sites_wanted": row["sites_wanted"],
                **fit_out(explain(facts[0], call_facts(row), weights)),
            }
        )
    return ranked


async def call_matching(principal: Principal, pilot_id: int) -> dict[str, Any]:
    """For the vendor and admins: the call's volunteers with their fit, and the best-fitting
    verified districts that have not volunteered (they can be invited)."""
    (await pilot_access(principal, pilot_id)).require_manage()
    rows = await call_rows([pilot_id], statuses=vocabulary.PILOT_STATUSES)
    call = rows[0]
    facts = call_facts(call)
    weights = await fit_weights()
    enrollments = (
        await Enrollment.select(
            Enrollment.id,
            Enrollment.district,
            Enrollment.status,
            Enrollment.capacity_students,
            Enrollment.capacity_classrooms,
            Enrollment.grades,
            Enrollment.note,
            Enrollment.fit_score,
            Enrollment.district.name.as_alias("district_name"),
        )
        .where(Enrollment.pilot == pilot_id)
        .order_by(Enrollment.id)
    )
    districts = {d.id: d for d in await district_facts()}
    volunteers = []
    for row in enrollments:
        district = districts.get(row["district"]) or DistrictFacts(
            row["district"], row["district_name"]
        )
        fit = explain(district, facts, weights, row["capacity_students"])
        volunteers.append(
            {
                **row,
                "status_words": STATUS_WORDS.get(row["status"], row["status"]),
                "can_accept": row["status"] in ("proposed", "accepted_by_district"),
                "can_decline": row["status"] in PENDING_STATUSES,
                "locale": district.locale,
                "frl_share": district.frl_share,
                **fit_out(fit),
            }
        )
    volunteers.sort(key=lambda v: (v["status"] in ("withdrawn", "declined"), -v["score"]))
    enrolled = {row["district"] for row in enrollments if row["status"] != "withdrawn"}
    others = [d for d in districts.values() if d.id not in enrolled]
    suggestions = []
    if others:
        scores = score_matrix(others, [facts], weights)[:, 0]
        for index in np.argsort(-scores, kind="stable")[:NON_VOLUNTEERS_SHOWN]:
            district = others[int(index)]
            suggestions.append(
                {
                    "district_id": district.id,
                    "name": district.name,
                    "locale": district.locale,
                    "frl_share": district.frl_share,
                    **fit_out(explain(district, facts, weights)),
                }
            )
    return {
        "pilot": call,
        "is_call": call["status"] in CALL_STATUSES,
        "sites": sum(1 for row in enrollments if row["status"] == "site"),
        "volunteers": volunteers,
        "suggestions": suggestions,
    }


async def invite(principal: Principal, pilot_id: int, district_id: object) -> int:
    """Invite a district to volunteer: a notification for each of its members."""
    (await pilot_access(principal, pilot_id)).require_manage()
    try:
        chosen = int(str(district_id))
    except ValueError:
        raise InvalidInput(
            "Choose a district to invite.",
            errors=[{"field": "district_id", "message": "Choose a district to invite."}],
        ) from None
    pilot = (
        await Pilot.select(
            Pilot.title, Pilot.status, Pilot.product.vendor.name.as_alias("vendor_name")
        )
        .where(Pilot.id == pilot_id)
        .first()
    )
    if pilot is None:
        raise NotFound("There is no such pilot.")
    if pilot["status"] not in CALL_STATUSES:
        raise Conflict("Only an open call can invite districts to volunteer.")
    district = (
        await Organization.select(Organization.name)
        .where(
            (Organization.id == chosen)
            & (Organization.kind == "district")
            & Organization.verified.eq(True)
        )
        .first()
    )
    if district is None:
        raise InvalidInput(
            "Choose a verified district of the network.",
            errors=[
                {"field": "district_id", "message": "Choose a verified district of the network."}
            ],
        )
    if await Enrollment.exists().where(
        (Enrollment.pilot == pilot_id)
        & (Enrollment.district == chosen)
        & (Enrollment.status != "withdrawn")
    ):
        raise Conflict(f"{district['name']} has already volunteered for this call.")
    async with Pilot._meta.db.transaction():
        told = await notify_organization(
            chosen,
            kind="invitation",
            message=f"{pilot['vendor_name']} invites {district['name']} to volunteer for "
            f"“{pilot['title']}”.",
            link=f"/pilots/{pilot_id}/volunteer",
        )
        await audit.record(
            "district_invited",
            actor_id=principal.user_id,
            object_type="pilot",
            object_id=pilot_id,
            detail={"district": chosen, "members": told},
        )
    return told
