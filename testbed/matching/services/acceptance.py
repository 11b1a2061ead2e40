"""Accepting and declining a proposed site: both sides accept before it becomes a site."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from testbed import audit
from testbed.auth import Principal
from testbed.errors import Conflict, NotFound
from testbed.matching.services.enrollments import (
    CONCURRENT_PILOT_STATUSES,
    DEFAULT_MAX_CONCURRENT_PILOTS,
    PENDING_STATUSES,
    STATUS_WORDS,
    locked,
)
from testbed.notifications.services import notify_organization
from testbed.tables import (
    DistrictProfile,
    Enrollment,
)


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
    async with locked(first["pilot"], first["district"]):
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
    async with locked(first["pilot"]):
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
