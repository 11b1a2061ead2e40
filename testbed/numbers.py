"""The network's live numbers (home page and API) and the database check behind /health."""

from __future__ import annotations

import msgspec
from piccolo.query.functions.aggregate import Count

from analysis.suppression import DEFAULT_THRESHOLD
from testbed.findings.disclosure import rounded_reach
from testbed.synthesis.reach import students_reached
from testbed.tables import DistrictProfile, Organization, Pilot, Product
from testbed.vocabulary import NETWORK_PILOT_STATUSES


class NetworkNumbers(msgspec.Struct, frozen=True):
    districts: int
    states: int
    vendors: int
    products: int
    pilots: int
    pilots_by_status: dict[str, int]
    students_in_pilots: int | None


async def network_numbers() -> NetworkNumbers:
    organizations = await Organization.select(Organization.kind, Count(alias="n")).group_by(
        Organization.kind
    )
    by_kind = {row["kind"]: row["n"] for row in organizations}
    states = await DistrictProfile.select(DistrictProfile.organization.state).distinct()
    pilots = (
        await Pilot.select(Pilot.status, Count(alias="n"))
        .where(Pilot.status.is_in(list(NETWORK_PILOT_STATUSES)))
        .group_by(Pilot.status)
    )
    counted = {row["status"]: row["n"] for row in pilots}
    by_status = {status: counted.get(status, 0) for status in NETWORK_PILOT_STATUSES}
    reached = await students_reached()
    total = sum(reached.values())
    return NetworkNumbers(
        districts=by_kind.get("district", 0),
        states=len(states),
        vendors=by_kind.get("vendor", 0),
        products=await Product.count(),
        pilots=sum(by_status.values()),
        pilots_by_status=by_status,
        # A network total of fewer than 10 students is hidden like any small count (None).
        students_in_pilots=rounded_reach(total) if total >= DEFAULT_THRESHOLD else None,
    )


async def database_reachable() -> bool:
    try:
        await Organization.count()
    except Exception:  # any database failure means unhealthy, whatever the driver raised
        return False
    return True
