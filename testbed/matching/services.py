"""Volunteering, fit scores, recommendations, matching rounds and acceptance: the rules.

Enrollment statuses: volunteered -> proposed (by a round) -> accepted_by_district or
accepted_by_vendor -> site (both accepted); declined (either side); withdrawn (the district,
before it is accepted).

Capacity is never oversubscribed: every change of an enrollment's status runs in one
transaction that holds the pilot's lock (PostgreSQL: SELECT ... FOR UPDATE on the pilot row,
then on the district's organization row; SQLite: BEGIN IMMEDIATE, which serializes writers)
and counts the sites again before it writes.
"""

from __future__ import annotations

import statistics
import time
from collections import Counter
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import numpy as np
from piccolo.engine.sqlite import TransactionType

from analysis import matching as optimizer
from testbed import audit, vocabulary
from testbed.access import CALL_STATUSES, pilot_access
from testbed.auth import Principal
from testbed.errors import Conflict, Forbidden, InvalidInput, NotFound
from testbed.matching.fit import (
    DEFAULT_WEIGHTS,
    PART_LABELS,
    PARTS,
    CallFacts,
    DistrictFacts,
    Fit,
    NeedFacts,
    check_weights,
    explain,
    score_matrix,
)
from testbed.notifications.services import notify_organization
from testbed.tables import (
    DistrictProfile,
    Enrollment,
    FitWeight,
    MatchingRound,
    Need,
    Organization,
    Pilot,
)

DEFAULT_MAX_CONCURRENT_PILOTS = 2
# A site of a pilot in any of these statuses counts toward the district's concurrent pilots.
# "open" is included (stricter than matching/active/analysis) because a site accepted while the
# call is still open is as much a commitment, and stays one when the call moves on.
CONCURRENT_PILOT_STATUSES = ("open", "matching", "active", "analysis")
PENDING_STATUSES = ("proposed", "accepted_by_district", "accepted_by_vendor")
# Statuses that hold a place: a round counts them against sites wanted and district limits.
HOLDING_STATUSES = (*PENDING_STATUSES, "site")
WITHDRAWABLE_STATUSES = ("volunteered", "proposed")
ROUND_TIME_LIMIT_SECONDS = 30.0
RECOMMENDATIONS_SHOWN = 10
NON_VOLUNTEERS_SHOWN = 10
NOTE_MAX_CHARACTERS = 2000
STATUS_WORDS = {
    "volunteered": "Volunteered",
    "proposed": "Proposed by a matching round",
    "accepted_by_district": "Accepted by the district, waiting for the vendor",
    "accepted_by_vendor": "Accepted by the vendor, waiting for the district",
    "site": "Site",
    "declined": "Declined",
    "withdrawn": "Withdrawn",
}


# --- locking ----------------------------------------------------------------------------------


@asynccontextmanager
async def _locked(pilot_id: int, district_id: int | None = None) -> AsyncIterator[None]:
    """A transaction that holds the pilot (and district) lock; always pilot first."""
    engine = Pilot._meta.db
    if engine.engine_type == "postgres":
        async with engine.transaction():
            await Pilot.select(Pilot.id).where(Pilot.id == pilot_id).lock_rows()
            if district_id is not None:
                await (
                    Organization.select(Organization.id)
                    .where(Organization.id == district_id)
                    .lock_rows()
                )
            yield
    else:
        async with engine.transaction(transaction_type=TransactionType.immediate):
            yield


# --- weights ----------------------------------------------------------------------------------


async def fit_weights() -> dict[str, float]:
    stored = await FitWeight.select(FitWeight.part, FitWeight.points)
    return {
        **DEFAULT_WEIGHTS,
        **{row["part"]: row["points"] for row in stored if row["part"] in DEFAULT_WEIGHTS},
    }


async def set_fit_weights(principal: Principal, values: Mapping[str, object]) -> dict[str, float]:
    """Network admins change the weights; every change is audited with before and after."""
    if not principal.is_network_admin:
        raise Forbidden("Only network administrators can change the fit weights.")
    errors, parsed = [], {}
    for part in PARTS:
        raw = values.get(part, DEFAULT_WEIGHTS[part])
        try:
            number = float(str(raw).strip())
        except ValueError:
            errors.append({"field": part, "message": "Enter a number from 0 to 100."})
            continue
        if not 0 <= number <= 100:
            errors.append({"field": part, "message": "Enter a number from 0 to 100."})
        parsed[part] = number
    if errors:
        raise InvalidInput("Some weights need fixing.", errors=errors)
    try:
        weights = check_weights(parsed)
    except ValueError as error:
        raise InvalidInput(str(error)) from None
    before = await fit_weights()
    now = datetime.now(UTC)
    async with FitWeight._meta.db.transaction():
        await FitWeight.delete().where(FitWeight.part.is_in(list(PARTS)))
        await FitWeight.insert(
            *(
                FitWeight(part=part, points=points, updated_by=principal.user_id, updated_at=now)
                for part, points in weights.items()
            )
        )
        await audit.record(
            "fit_weights_changed",
            actor_id=principal.user_id,
            object_type="fit_weights",
            detail={"before": before, "after": weights},
        )
    return weights


# --- facts for the fit score ------------------------------------------------------------------


async def district_facts(district_ids: Sequence[int] | None = None) -> list[DistrictFacts]:
    """Verified districts with their profiles and open needs, in three queries."""
    where = (Organization.kind == "district") & Organization.verified.eq(True)
    if district_ids is not None:
        where = where & Organization.id.is_in(list(district_ids) or [-1])
    organizations = (
        await Organization.select(Organization.id, Organization.name)
        .where(where)
        .order_by(Organization.id)
    )
    ids = [row["id"] for row in organizations]
    profile_where = DistrictProfile.organization.is_in(ids or [-1])
    need_where = Need.district.is_in(ids or [-1]) & Need.is_open.eq(True)
    if district_ids is None:
        profile_where = DistrictProfile.organization.kind == "district"
        need_where = Need.is_open.eq(True)
    profiles = {
        row["organization"]: row for row in await DistrictProfile.select().where(profile_where)
    }
    needs: dict[int, list[NeedFacts]] = {}
    for row in (
        await Need.select(Need.district, Need.title, Need.subject, Need.pillars, Need.grade_band)
        .where(need_where)
        .order_by(Need.id)
    ):
        needs.setdefault(row["district"], []).append(
            NeedFacts(
                title=row["title"],
                subject=row["subject"],
                pillars=tuple(row["pillars"] or ()),
                grade_band=row["grade_band"],
            )
        )
    facts = []
    for row in organizations:
        profile = profiles.get(row["id"])
        district_needs = tuple(needs.get(row["id"], ()))
        if profile is None:
            facts.append(DistrictFacts(id=row["id"], name=row["name"], needs=district_needs))
            continue
        facts.append(
            DistrictFacts(
                id=row["id"],
                name=row["name"],
                has_profile=True,
                grades_served=tuple(profile["grades_served"] or ()),
                platforms=tuple(profile["platforms"] or ()),
                device_ratio=float(profile["device_ratio"]),
                signed_ndpa=bool(profile["signed_ndpa"]),
                enrollment=int(profile["enrollment"]),
                locale=profile["locale"],
                frl_share=float(profile["frl_share"]),
                needs=district_needs,
            )
        )
    return facts


async def call_rows(
    pilot_ids: Sequence[int] | None = None, statuses: Sequence[str] = tuple(CALL_STATUSES)
) -> list[dict[str, Any]]:
    """Calls with their product's platforms, vendor and name, in one query."""
    where = Pilot.status.is_in(list(statuses))
    if pilot_ids is not None:
        where = where & Pilot.id.is_in(list(pilot_ids) or [-1])
    return (
        await Pilot.select(
            Pilot.id,
            Pilot.title,
            Pilot.status,
            Pilot.grades,
            Pilot.subjects,
            Pilot.pillars,
            Pilot.sites_wanted,
            Pilot.students_per_site,
            Pilot.product.name.as_alias("product_name"),
            Pilot.product.platforms.as_alias("platforms"),
            Pilot.product.vendor.id.as_alias("vendor_id"),
            Pilot.product.vendor.name.as_alias("vendor_name"),
        )
        .where(where)
        .order_by(Pilot.id)
    )


def call_facts(row: Mapping[str, Any]) -> CallFacts:
    return CallFacts(
        id=row["id"],
        title=row["title"],
        grades=tuple(row["grades"] or ()),
        subjects=tuple(row["subjects"] or ()),
        pillars=tuple(row["pillars"] or ()),
        platforms=tuple(row["platforms"] or ()),
        students_per_site=int(row["students_per_site"]),
    )


def _fit_out(fit: Fit) -> dict[str, Any]:
    return {
        "score": fit.score,
        "out_of": fit.out_of,
        "parts": [{**part.as_dict(), "label": PART_LABELS[part.part]} for part in fit.parts],
    }


# --- volunteering -----------------------------------------------------------------------------


def _volunteering_district(principal: Principal, district_id: object) -> int:
    verified = principal.organizations_of_kind("district", verified_only=True)
    if not verified:
        raise Forbidden("Only members of a verified district can volunteer for a pilot.")
    if district_id in (None, ""):
        if len(verified) == 1:
            return verified[0]
        raise InvalidInput(
            "Choose the district that volunteers.",
            errors=[{"field": "district_id", "message": "Choose your district."}],
        )
    try:
        chosen = int(str(district_id))
    except ValueError:
        chosen = -1
    if chosen not in verified:
        raise Forbidden("You can volunteer only for a verified district you belong to.")
    return chosen


def _whole_number(data: Mapping[str, object], name: str, errors: list, minimum: int) -> int:
    raw = data.get(name)
    try:
        number = int(str(raw).strip()) if raw not in (None, "") else None
    except ValueError:
        number = None
    if number is None or number < minimum:
        errors.append({"field": name, "message": f"Enter a whole number of at least {minimum}."})
        return 0
    return number


def _volunteer_input(data: Mapping[str, object], call_grades: Sequence[str]) -> dict[str, Any]:
    errors: list[dict[str, str]] = []
    students = _whole_number(data, "capacity_students", errors, 1)
    classrooms = _whole_number(
        {"capacity_classrooms": data.get("capacity_classrooms") or 0},
        "capacity_classrooms",
        errors,
        0,
    )
    raw_grades = data.get("grades") or []
    grades = [raw_grades] if isinstance(raw_grades, str) else list(raw_grades)  # type: ignore[arg-type]
    unknown = [g for g in grades if g not in call_grades]
    if unknown:
        errors.append({"field": "grades", "message": "Choose among the grades the call needs."})
    note = str(data.get("note") or "").strip()
    if len(note) > NOTE_MAX_CHARACTERS:
        errors.append(
            {"field": "note", "message": f"Keep the note under {NOTE_MAX_CHARACTERS} characters."}
        )
    if errors:
        raise InvalidInput("Some of what you entered needs fixing.", errors=errors)
    return {
        "capacity_students": students,
        "capacity_classrooms": classrooms,
        "grades": grades or list(call_grades),
        "note": note,
    }


async def volunteer(principal: Principal, pilot_id: int, data: Mapping[str, object]) -> int:
    """Volunteer the principal's district for an open call; returns the enrollment id.

    Once per call: volunteering again after a withdrawal reopens the same enrollment.
    """
    await pilot_access(principal, pilot_id)
    district_id = _volunteering_district(principal, data.get("district_id"))
    async with _locked(pilot_id):
        pilot = (
            await Pilot.select(Pilot.title, Pilot.status, Pilot.grades)
            .where(Pilot.id == pilot_id)
            .first()
        )
        if pilot is None:
            raise NotFound("There is no such pilot.")
        if pilot["status"] not in CALL_STATUSES:
            raise Conflict(
                f"“{pilot['title']}” is not taking volunteers: it is "
                f"{pilot['status']}, and volunteering is for open calls."
            )
        values = _volunteer_input(data, pilot["grades"] or [])
        existing = (
            await Enrollment.select(Enrollment.id, Enrollment.status)
            .where((Enrollment.pilot == pilot_id) & (Enrollment.district == district_id))
            .first()
        )
        now = datetime.now(UTC)
        if existing is None:
            rows = await Enrollment.insert(
                Enrollment(pilot=pilot_id, district=district_id, status="volunteered", **values)
            )
            enrollment_id = rows[0]["id"]
        elif existing["status"] == "withdrawn":
            enrollment_id = existing["id"]
            await Enrollment.update(
                {
                    Enrollment.status: "volunteered",
                    Enrollment.fit_score: None,
                    Enrollment.fit_explanation: [],
                    Enrollment.updated_at: now,
                    **{getattr(Enrollment, key): value for key, value in values.items()},
                }
            ).where(Enrollment.id == enrollment_id)
        else:
            raise Conflict(
                "Your district has already volunteered for this call (its status: "
                f"{STATUS_WORDS.get(existing['status'], existing['status'])})."
            )
        await audit.record(
            "volunteered",
            actor_id=principal.user_id,
            object_type="enrollment",
            object_id=enrollment_id,
            detail={
                "pilot": pilot_id,
                "district": district_id,
                "capacity_students": values["capacity_students"],
            },
        )
    return enrollment_id


async def own_enrollment(principal: Principal, pilot_id: int) -> dict[str, Any] | None:
    """The enrollment of the principal's district in this call, if any."""
    districts = principal.organizations_of_kind("district")
    return (
        await Enrollment.select()
        .where((Enrollment.pilot == pilot_id) & Enrollment.district.is_in(districts or [-1]))
        .order_by(Enrollment.id)
        .first()
    )


async def withdraw(principal: Principal, pilot_id: int) -> int:
    await pilot_access(principal, pilot_id)
    districts = principal.organizations_of_kind("district")
    async with _locked(pilot_id):
        enrollment = (
            await Enrollment.select(
                Enrollment.id,
                Enrollment.status,
                Enrollment.district.name.as_alias("district_name"),
                Enrollment.pilot.title.as_alias("title"),
                Enrollment.pilot.product.vendor.as_alias("vendor_id"),
            )
            .where((Enrollment.pilot == pilot_id) & Enrollment.district.is_in(districts or [-1]))
            .first()
        )
        if enrollment is None:
            raise NotFound("Your district has not volunteered for this call.")
        if enrollment["status"] not in WITHDRAWABLE_STATUSES:
            raise Conflict(
                "You can withdraw only before both sides accept; this volunteering "
                f"is: {STATUS_WORDS.get(enrollment['status'], enrollment['status'])}."
            )
        await Enrollment.update(
            {Enrollment.status: "withdrawn", Enrollment.updated_at: datetime.now(UTC)}
        ).where(Enrollment.id == enrollment["id"])
        if enrollment["status"] == "proposed":
            await notify_organization(
                enrollment["vendor_id"],
                kind="withdrawn",
                message=f"{enrollment['district_name']} withdrew from “{enrollment['title']}”.",
                link=f"/pilots/{pilot_id}/volunteers",
            )
        await audit.record(
            "withdrew",
            actor_id=principal.user_id,
            object_type="enrollment",
            object_id=enrollment["id"],
            detail={"pilot": pilot_id},
        )
    return enrollment["id"]


# --- accepting and declining ------------------------------------------------------------------


async def _enrollment_parties(enrollment_id: int) -> dict[str, Any]:
    row = (
        await Enrollment.select(
            Enrollment.id,
            Enrollment.pilot,
            Enrollment.district,
            Enrollment.status,
            Enrollment.district.name.as_alias("district_name"),
            Enrollment.pilot.title.as_alias("title"),
            Enrollment.pilot.sites_wanted.as_alias("sites_wanted"),
            Enrollment.pilot.product.vendor.as_alias("vendor_id"),
            Enrollment.pilot.product.vendor.name.as_alias("vendor_name"),
        )
        .where(Enrollment.id == enrollment_id)
        .first()
    )
    if row is None:
        raise NotFound("There is no such proposal.")
    return row


async def enrollment_party(principal: Principal, enrollment_id: int) -> str:
    """ "district" or "vendor": the side the principal answers for (404 to anyone else)."""
    row = await _enrollment_parties(enrollment_id)
    return _side(principal, row)


def _side(principal: Principal, row: Mapping[str, Any]) -> str:
    is_district = principal.is_member_of(row["district"])
    is_vendor = principal.is_member_of(row["vendor_id"])
    if is_district and is_vendor:
        # Both hats: answer for the side that has not accepted yet.
        return "vendor" if row["status"] == "accepted_by_district" else "district"
    if is_district:
        return "district"
    if is_vendor:
        return "vendor"
    raise NotFound("There is no such proposal.")


async def _check_capacity(row: Mapping[str, Any]) -> None:
    """Refuse (409) when the call has all its sites or the district is at its limit."""
    sites = await Enrollment.count().where(
        (Enrollment.pilot == row["pilot"]) & (Enrollment.status == "site")
    )
    if sites >= row["sites_wanted"]:
        raise Conflict(
            f"“{row['title']}” already has the {row['sites_wanted']} site(s) it "
            "wanted, so this proposal can no longer be accepted."
        )
    profile = (
        await DistrictProfile.select(DistrictProfile.max_concurrent_pilots)
        .where(DistrictProfile.organization == row["district"])
        .first()
    )
    limit = profile["max_concurrent_pilots"] if profile else DEFAULT_MAX_CONCURRENT_PILOTS
    hosting = await Enrollment.count().where(
        (Enrollment.district == row["district"])
        & (Enrollment.status == "site")
        & Enrollment.pilot.status.is_in(list(CONCURRENT_PILOT_STATUSES))
    )
    if hosting >= limit:
        raise Conflict(
            f"{row['district_name']} already hosts {hosting} pilot(s), its limit of "
            "concurrent pilots, so it cannot become a site of another one now."
        )


async def accept(principal: Principal, enrollment_id: int) -> str:
    """One side accepts a proposal; when both have, it becomes a site. Returns the new status."""
    first = await _enrollment_parties(enrollment_id)
    async with _locked(first["pilot"], first["district"]):
        row = await _enrollment_parties(enrollment_id)
        side = _side(principal, row)
        status = row["status"]
        if status == "volunteered":
            raise Conflict("This volunteer has not been proposed by a matching round yet.")
        if status not in PENDING_STATUSES:
            raise Conflict(f"This proposal is closed: {STATUS_WORDS.get(status, status).lower()}.")
        if status == f"accepted_by_{side}":
            waiting = "vendor" if side == "district" else "district"
            raise Conflict(f"You have already accepted; it is waiting for the {waiting}.")
        await _check_capacity(row)
        new_status = f"accepted_by_{side}" if status == "proposed" else "site"
        await Enrollment.update(
            {Enrollment.status: new_status, Enrollment.updated_at: datetime.now(UTC)}
        ).where(Enrollment.id == enrollment_id)
        link_for = {"district": "/matching", "vendor": f"/pilots/{row['pilot']}/volunteers"}
        if new_status == "site":
            message = f"{row['district_name']} is now a site of “{row['title']}”."
            for organization, side_name in (
                (row["district"], "district"),
                (row["vendor_id"], "vendor"),
            ):
                await notify_organization(
                    organization, kind="site", message=message, link=link_for[side_name]
                )
        else:
            other = "vendor" if side == "district" else "district"
            who = row["district_name"] if side == "district" else row["vendor_name"]
            await notify_organization(
                row["vendor_id"] if other == "vendor" else row["district"],
                kind="accepted",
                message=f"{who} accepted the proposal that {row['district_name']} host "
                f"“{row['title']}”. Accept it too to make it a site.",
                link=link_for[other],
            )
        await audit.record(
            "proposal_accepted",
            actor_id=principal.user_id,
            object_type="enrollment",
            object_id=enrollment_id,
            detail={"side": side, "status": new_status, "pilot": row["pilot"]},
        )
    return new_status


async def decline(principal: Principal, enrollment_id: int) -> str:
    first = await _enrollment_parties(enrollment_id)
    async with _locked(first["pilot"]):
        row = await _enrollment_parties(enrollment_id)
        side = _side(principal, row)
        if row["status"] not in PENDING_STATUSES:
            raise Conflict(
                "Only a proposal waiting for acceptance can be declined; this one is: "
                f"{STATUS_WORDS.get(row['status'], row['status']).lower()}."
            )
        await Enrollment.update(
            {Enrollment.status: "declined", Enrollment.updated_at: datetime.now(UTC)}
        ).where(Enrollment.id == enrollment_id)
        who = row["district_name"] if side == "district" else row["vendor_name"]
        other = row["vendor_id"] if side == "district" else row["district"]
        await notify_organization(
            other,
            kind="declined",
            message=f"{who} declined the proposal that {row['district_name']} host "
            f"“{row['title']}”.",
            link=f"/pilots/{row['pilot']}/volunteers" if side == "district" else "/matching",
        )
        await audit.record(
            "proposal_declined",
            actor_id=principal.user_id,
            object_type="enrollment",
            object_id=enrollment_id,
            detail={"side": side, "pilot": row["pilot"]},
        )
    return "declined"


# --- recommendations and the call's volunteers ------------------------------------------------


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
                **_fit_out(explain(facts[0], call_facts(row), weights)),
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
                **_fit_out(fit),
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
                    **_fit_out(explain(district, facts, weights)),
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


# --- matching rounds ------------------------------------------------------------------------


def _ordinal(number: int) -> str:
    suffix = (
        "th" if 10 <= number % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(number % 10, "th")
    )
    return f"{number}{suffix}"


def _percent(share: float | None) -> str:
    return "unknown" if share is None else f"{100 * share:.0f} %"


async def run_round(principal: Principal, pilot_ids: Sequence[int] | None = None) -> int:
    """Propose sites for calls from their volunteers; store the round with its explanations.

    Network admins may include every open call (pilot_ids None); anyone else only calls they
    manage, named in pilot_ids. Returns the round's id.
    """
    started = time.perf_counter()
    if pilot_ids is None and not principal.is_network_admin:
        raise Forbidden("Only network administrators run a round over the whole network.")
    for pilot_id in pilot_ids or ():
        (await pilot_access(principal, pilot_id)).require_manage()
    calls = await call_rows(pilot_ids)
    call_ids = [row["id"] for row in calls]
    if pilot_ids is not None and set(pilot_ids) - set(call_ids):
        raise Conflict("A matching round is for calls open for volunteers; this pilot is not.")
    weights = await fit_weights()

    enrollments = await Enrollment.select(
        Enrollment.id,
        Enrollment.pilot,
        Enrollment.district,
        Enrollment.status,
        Enrollment.capacity_students,
    ).where(
        Enrollment.pilot.is_in(call_ids or [-1])
        & Enrollment.status.is_in(["volunteered", *HOLDING_STATUSES])
    )
    volunteers = [row for row in enrollments if row["status"] == "volunteered"]
    networks = await district_facts()
    frl_shares = [d.frl_share for d in networks if d.frl_share is not None]
    median_frl = statistics.median(frl_shares) if frl_shares else None
    facts_of = {d.id: d for d in networks}
    volunteer_ids = sorted({row["district"] for row in volunteers if row["district"] in facts_of})
    districts = [facts_of[d] for d in volunteer_ids]
    row_of = {d: index for index, d in enumerate(volunteer_ids)}
    column_of = {pilot_id: index for index, pilot_id in enumerate(call_ids)}

    offered = np.full((len(districts), len(calls)), np.nan)
    enrollment_of: dict[tuple[int, int], int] = {}
    for row in volunteers:
        if row["district"] in row_of:
            key = (row_of[row["district"]], column_of[row["pilot"]])
            offered[key] = row["capacity_students"]
            enrollment_of[key] = row["id"]
    call_facts_list = [call_facts(row) for row in calls]
    fit = score_matrix(districts, call_facts_list, weights, offered)
    fit[np.isnan(offered)] = np.nan

    holding = [row for row in enrollments if row["status"] in HOLDING_STATUSES]
    held_sites = {
        pilot_id: [r["district"] for r in holding if r["pilot"] == pilot_id]
        for pilot_id in call_ids
    }
    sites_wanted = [max(0, row["sites_wanted"] - len(held_sites[row["id"]])) for row in calls]
    capacity = await _remaining_capacity(volunteer_ids)

    def high(district: DistrictFacts | None) -> bool:
        return bool(
            district
            and median_frl is not None
            and district.frl_share is not None
            and district.frl_share > median_frl
        )

    result = optimizer.assign_sites(
        fit,
        sites_wanted,
        [capacity[d] for d in volunteer_ids],
        [d.locale for d in districts],
        [high(d) for d in districts],
        call_locales_held=[
            {
                facts_of[d].locale
                for d in held_sites[pilot_id]
                if d in facts_of and facts_of[d].locale
            }
            for pilot_id in call_ids
        ],
        call_has_high_frl=[
            any(high(facts_of.get(d)) for d in held_sites[pilot_id]) for pilot_id in call_ids
        ],
        time_limit=ROUND_TIME_LIMIT_SECONDS,
    )

    sites_proposed = Counter(proposal.call for proposal in result.proposals)
    proposals = []
    for proposal in result.proposals:
        district, row = districts[proposal.district], calls[proposal.call]
        explained = explain(
            district,
            call_facts_list[proposal.call],
            weights,
            int(offered[proposal.district, proposal.call]),
        )
        proposals.append(
            {
                "enrollment_id": enrollment_of[(proposal.district, proposal.call)],
                "pilot_id": row["id"],
                "title": row["title"],
                "vendor_id": row["vendor_id"],
                "district_id": district.id,
                "district_name": district.name,
                "locale": district.locale,
                "frl_share": district.frl_share,
                "score": explained.score,
                "out_of": explained.out_of,
                "parts": explained.explanation(),
                "reasons": _reasons(
                    proposal, district, explained, median_frl, sites_proposed[proposal.call]
                ),
            }
        )
    shortfalls = [
        {
            "pilot_id": calls[s.call]["id"],
            "title": calls[s.call]["title"],
            "vendor_id": calls[s.call]["vendor_id"],
            "code": s.code,
            "numbers": s.numbers,
            "words": _shortfall_words(s, calls[s.call]["title"], median_frl),
        }
        for s in result.shortfalls
    ]
    message = result.message
    if not calls:
        message = "No call was open for volunteers, so there was nothing to match."
    elif not volunteers:
        message = "No call had volunteers waiting for a round, so there was nothing to match."
    vendors = {row["vendor_id"] for row in calls}
    summary = {
        "calls": len(calls),
        "volunteers": len(volunteers),
        "districts": len(districts),
        "eligible_pairs": result.eligible_pairs,
        "sites_wanted": int(sum(sites_wanted)),
        "proposals": len(proposals),
        "median_frl_share": median_frl,
        "weights": weights,
        "diversity_penalty": result.diversity_penalty,
        "penalty": result.penalty,
    }
    async with MatchingRound._meta.db.transaction():
        rows = await MatchingRound.insert(
            MatchingRound(
                run_by=principal.user_id,
                scope="network" if principal.is_network_admin else "vendor",
                vendor=next(iter(vendors)) if len(vendors) == 1 else None,
                pilot_ids=call_ids,
                status=result.status,
                message=message,
                summary=summary,
                proposals=proposals,
                shortfalls=shortfalls,
                objective=result.objective,
                lp_bound=None if np.isnan(result.lp_bound) else result.lp_bound,
                gap=None if np.isnan(result.gap) else result.gap,
                seconds=round(time.perf_counter() - started, 3),
            )
        )
        round_id = rows[0]["id"]
        for item in proposals:
            await Enrollment.update(
                {
                    Enrollment.status: "proposed",
                    Enrollment.fit_score: item["score"],
                    Enrollment.fit_explanation: item["parts"],
                    Enrollment.updated_at: datetime.now(UTC),
                }
            ).where((Enrollment.id == item["enrollment_id"]) & (Enrollment.status == "volunteered"))
            text = (
                f"A matching round proposes that {item['district_name']} host "
                f"“{item['title']}” (fit {item['score']:g} of {item['out_of']:g}). "
                "Both sides must accept."
            )
            await notify_organization(
                item["district_id"], kind="proposal", message=text, link="/matching"
            )
            await notify_organization(
                item["vendor_id"],
                kind="proposal",
                message=text,
                link=f"/pilots/{item['pilot_id']}/volunteers",
            )
        await audit.record(
            "matching_round_run",
            actor_id=principal.user_id,
            object_type="matching_round",
            object_id=round_id,
            detail={"calls": len(calls), "proposals": len(proposals), "status": result.status},
        )
    return round_id


async def _remaining_capacity(district_ids: Sequence[int]) -> dict[int, int]:
    """How many more pilots each district may take: its limit minus what it holds."""
    limits = {
        row["organization"]: row["max_concurrent_pilots"]
        for row in await DistrictProfile.select(
            DistrictProfile.organization, DistrictProfile.max_concurrent_pilots
        ).where(DistrictProfile.organization.is_in(list(district_ids) or [-1]))
    }
    held = await Enrollment.select(Enrollment.district).where(
        Enrollment.district.is_in(list(district_ids) or [-1])
        & Enrollment.status.is_in(list(HOLDING_STATUSES))
        & Enrollment.pilot.status.is_in(list(CONCURRENT_PILOT_STATUSES))
    )
    counts: dict[int, int] = {}
    for row in held:
        counts[row["district"]] = counts.get(row["district"], 0) + 1
    return {
        d: max(0, limits.get(d, DEFAULT_MAX_CONCURRENT_PILOTS) - counts.get(d, 0))
        for d in district_ids
    }


def _reasons(
    proposal: optimizer.Proposal,
    district: DistrictFacts,
    fit: Fit,
    median_frl: float | None,
    sites_proposed: int,
) -> list[str]:
    """Why the round proposed this pair, in sentences."""
    best = sorted(fit.parts, key=lambda part: -part.points)[:2]
    rank = proposal.rank_among_volunteers
    if proposal.volunteers == 1:
        standing = "the call's only eligible volunteer"
    else:
        place = "best" if rank == 1 else f"{_ordinal(rank)} best"
        standing = f"the {place} of the call's {proposal.volunteers} eligible volunteers"
    reasons = [
        f"Fit {fit.score:g} of {fit.out_of:g}, {standing}; strongest parts: "
        + "; ".join(f"{part.why} ({part.points:g} points)" for part in best)
        + "."
    ]
    if rank > sites_proposed:
        reasons.append(
            "A better-fitting volunteer of this call was proposed to another call it fits "
            "better, had reached its limit of concurrent pilots, or this district brings "
            "the diversity below."
        )
    if proposal.only_site_in_its_locale and district.locale:
        reasons.append(
            f"The call's only {vocabulary.LOCALE_WORDS[district.locale].lower()} site, so "
            "its sites span more than one locale."
        )
    if proposal.high_frl:
        reasons.append(
            f"Its FRL share ({_percent(district.frl_share)}) is above the network's "
            f"median ({_percent(median_frl)})."
        )
    return reasons


def _shortfall_words(shortfall: optimizer.Shortfall, title: str, median_frl: float | None) -> str:
    n = shortfall.numbers
    code = shortfall.code
    if code == optimizer.TOO_FEW_VOLUNTEERS:
        words = (
            f"“{title}” wanted {n['wanted']} more site(s); only {n['eligible']} volunteer(s) "
            f"were eligible, so the round proposed {n['assigned']}."
        )
        unable = n["volunteers"] - n["eligible"]
        if unable > 0:
            words += f" {unable} other volunteer(s) had reached their limit of concurrent pilots."
        return words
    if code == optimizer.VOLUNTEERS_TAKEN:
        return (
            f"“{title}” wanted {n['wanted']} more site(s) and had {n['eligible']} eligible "
            f"volunteer(s), but only {n['assigned']} could be proposed: the others reached "
            "their limit of concurrent pilots with calls they fit better."
        )
    if code == optimizer.ONE_LOCALE_ONLY:
        return (
            f"“{title}”: its eligible volunteers (and sites) are all in one locale, so its "
            "sites cannot span two locales."
        )
    if code == optimizer.LOCALES_NOT_MET:
        return (
            f"“{title}”: volunteers came from {n['locales_available']} locales, but the "
            f"round's proposals span only {n['locales_assigned']}: the others were needed "
            "elsewhere."
        )
    if code == optimizer.NO_HIGH_FRL_VOLUNTEER:
        return (
            f"“{title}”: no volunteer above the network's median FRL share "
            f"({_percent(median_frl)})."
        )
    return (
        f"“{title}”: a volunteer above the network's median FRL share "
        f"({_percent(median_frl)}) was eligible but could not be placed here."
    )


async def round_viewable(principal: Principal, round_id: int) -> bool:
    """Admins see every round; vendors see rounds that include a call of theirs."""
    row = (
        await MatchingRound.select(MatchingRound.pilot_ids)
        .where(MatchingRound.id == round_id)
        .output(load_json=True)
        .first()
    )
    if row is None:
        return False
    if principal.is_network_admin:
        return True
    vendors = set(principal.organizations_of_kind("vendor"))
    return bool(vendors) and await Pilot.exists().where(
        Pilot.id.is_in(list(row["pilot_ids"]) or [-1]) & Pilot.product.vendor.is_in(list(vendors))
    )


async def round_detail(principal: Principal, round_id: int) -> dict[str, Any]:
    """A round's result; a vendor sees only the proposals and shortfalls of its own calls."""
    if not await round_viewable(principal, round_id):
        raise NotFound("There is no such matching round.")
    row = (
        await MatchingRound.select(
            *MatchingRound.all_columns(),
            MatchingRound.run_by.name.as_alias("run_by_name"),
        )
        .where(MatchingRound.id == round_id)
        .output(load_json=True)
        .first()
    )
    if not principal.is_network_admin:
        mine = set(principal.organizations_of_kind("vendor"))
        row["proposals"] = [p for p in row["proposals"] if p["vendor_id"] in mine]
        row["shortfalls"] = [s for s in row["shortfalls"] if s["vendor_id"] in mine]
        row["filtered"] = True
    else:
        row["filtered"] = False
    status = await Enrollment.select(Enrollment.id, Enrollment.status).where(
        Enrollment.id.is_in([p["enrollment_id"] for p in row["proposals"]] or [-1])
    )
    now = {item["id"]: item["status"] for item in status}
    for proposal in row["proposals"]:
        current = now.get(proposal["enrollment_id"], "")
        proposal["status_words"] = STATUS_WORDS.get(current, current)
    return row


async def list_rounds(limit: int = 50) -> list[dict[str, Any]]:
    return (
        await MatchingRound.select(
            MatchingRound.id,
            MatchingRound.created_at,
            MatchingRound.scope,
            MatchingRound.status,
            MatchingRound.objective,
            MatchingRound.gap,
            MatchingRound.seconds,
            MatchingRound.summary,
            MatchingRound.run_by.name.as_alias("run_by_name"),
        )
        .order_by(MatchingRound.id, ascending=False)
        .limit(limit)
        .output(load_json=True)
    )


async def admin_overview() -> dict[str, Any]:
    calls = await call_rows()
    waiting = await Enrollment.count().where(
        Enrollment.pilot.status.is_in(list(CALL_STATUSES)) & (Enrollment.status == "volunteered")
    )
    return {
        "calls": calls,
        "volunteers_waiting": waiting,
        "rounds": await list_rounds(),
        "weights": await fit_weights(),
    }
