"""A district volunteers for a call, sees its enrollment, and withdraws it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from testbed import audit
from testbed.access import CALL_STATUSES, pilot_access
from testbed.auth import Principal
from testbed.errors import Conflict, Forbidden, InvalidInput, NotFound
from testbed.inputs import InputReader
from testbed.matching.services.enrollments import (
    NOTE_MAX_CHARACTERS,
    STATUS_WORDS,
    WITHDRAWABLE_STATUSES,
    locked,
)
from testbed.notifications.services import notify_organization
from testbed.tables import (
    Enrollment,
    Pilot,
)


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


def _whole_number(reader: InputReader, name: str, minimum: int, raw: object) -> int:
    try:
        number = int(str(raw).strip()) if raw not in (None, "") else None
    except ValueError:
        number = None
    if number is None or number < minimum:
        reader.problem(name, f"Enter a whole number of at least {minimum}.")
        return 0
    return number


def _volunteer_input(data: Mapping[str, object], call_grades: Sequence[str]) -> dict[str, Any]:
    reader = InputReader(data)
    students = _whole_number(reader, "capacity_students", 1, data.get("capacity_students"))
    classrooms = _whole_number(
        reader, "capacity_classrooms", 0, data.get("capacity_classrooms") or 0
    )
    raw_grades = data.get("grades") or []
    grades = [raw_grades] if isinstance(raw_grades, str) else list(raw_grades)  # type: ignore[arg-type]
    unknown = [g for g in grades if g not in call_grades]
    if unknown:
        reader.problem("grades", "Choose among the grades the call needs.")
    note = str(data.get("note") or "").strip()
    if len(note) > NOTE_MAX_CHARACTERS:
        reader.problem("note", f"Keep the note under {NOTE_MAX_CHARACTERS} characters.")
    reader.raise_problems()
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
    async with locked(pilot_id):
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
    async with locked(pilot_id):
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
