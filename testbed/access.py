"""Who may see and do what with a pilot: the ownership rules every pilot service applies.

A pilot that a principal may not see answers 404, exactly like one that does not exist, so ids
cannot be probed.
"""

from __future__ import annotations

from dataclasses import dataclass

from litestar.connection import ASGIConnection
from litestar.handlers.base import BaseRouteHandler
from piccolo.columns.combination import Combinable

from testbed.auth import Principal, require_principal
from testbed.errors import Forbidden, NotFound
from testbed.tables import Enrollment, Pilot, PilotRole

PUBLIC_STATUSES = frozenset({"published", "closed"})
CALL_STATUSES = frozenset({"open", "matching"})
SITE_STATUSES = frozenset({"accepted_by_district", "accepted_by_vendor", "site"})


@dataclass(frozen=True)
class PilotAccess:
    pilot_id: int
    status: str
    vendor_id: int
    is_network_admin: bool = False
    is_vendor: bool = False
    is_researcher: bool = False
    site_district_ids: frozenset[int] = frozenset()

    @property
    def is_site_district(self) -> bool:
        return bool(self.site_district_ids)

    @property
    def can_manage(self) -> bool:
        """Edit the call, manage its team."""
        return self.is_network_admin or self.is_vendor

    def require_manage(self) -> None:
        if not self.can_manage:
            raise Forbidden("Only the pilot's vendor or a network administrator can do this.")


async def pilot_access(principal: Principal | None, pilot_id: int) -> PilotAccess:
    pilot = (
        await Pilot.select(Pilot.id, Pilot.status, Pilot.product.vendor.as_alias("vendor_id"))
        .where(Pilot.id == pilot_id)
        .first()
    )
    if pilot is None:
        raise NotFound("There is no such pilot.")
    return await access_to_pilot(principal, pilot_id, pilot["status"], pilot["vendor_id"])


async def access_to_pilot(
    principal: Principal | None, pilot_id: int, status: str, vendor_id: int
) -> PilotAccess:
    """`pilot_access` for a caller that has already read the pilot's status and vendor (in a
    join): the same rule, without reading the pilot again."""
    access = PilotAccess(pilot_id=pilot_id, status=status, vendor_id=vendor_id)
    if principal is not None:
        district_ids = principal.organizations_of_kind("district")
        sites = []
        if district_ids:  # without a district membership there is no site to find
            sites = await Enrollment.select(Enrollment.district).where(
                (Enrollment.pilot == pilot_id)
                & Enrollment.district.is_in(district_ids)
                & Enrollment.status.is_in(list(SITE_STATUSES))
            )
        access = PilotAccess(
            pilot_id=pilot_id,
            status=status,
            vendor_id=vendor_id,
            is_network_admin=principal.is_network_admin,
            is_vendor=principal.is_member_of(vendor_id),
            is_researcher=await PilotRole.exists().where(
                (PilotRole.pilot == pilot_id) & (PilotRole.user == principal.user_id)
            ),
            site_district_ids=frozenset(row["district"] for row in sites),
        )
    if not _may_see(principal, access):
        raise NotFound("There is no such pilot.")
    return access


def _may_see(principal: Principal | None, access: PilotAccess) -> bool:
    if access.status in PUBLIC_STATUSES:
        return True
    if principal is None:
        return False
    if access.is_network_admin or access.is_vendor or access.is_researcher:
        return True
    if access.is_site_district:
        return True
    # An open call is advertised to districts and researchers, not to competing vendors.
    return access.status in CALL_STATUSES and bool(principal.kinds & {"district", "research"})


def visible_pilots_where(principal: Principal | None) -> Combinable:
    """The pilots this principal may see, as one where-clause: the rule of `_may_see` in SQL,
    so a list never shows a pilot whose page would answer 404 (and needs no query per row)."""
    visible: Combinable = Pilot.status.is_in(sorted(PUBLIC_STATUSES))
    if principal is None:
        return visible
    if principal.is_network_admin:
        return Pilot.id.is_not_null()
    organization_ids = [m.organization_id for m in principal.memberships]
    if organization_ids:
        visible = visible | Pilot.product.vendor.is_in(organization_ids)
    visible = visible | Pilot.id.is_in(
        PilotRole.select(PilotRole.pilot).where(PilotRole.user == principal.user_id)
    )
    district_ids = principal.organizations_of_kind("district")
    if district_ids:
        visible = visible | Pilot.id.is_in(
            Enrollment.select(Enrollment.pilot).where(
                Enrollment.district.is_in(district_ids)
                & Enrollment.status.is_in(sorted(SITE_STATUSES))
            )
        )
    if principal.kinds & {"district", "research"}:
        visible = visible | Pilot.status.is_in(sorted(CALL_STATUSES))
    return visible


# --- object-level guards: they run before the request body is read, so an outsider is refused
# before anything about the request is validated ---------------------------------------------


async def pilot_manager(connection: ASGIConnection, _: BaseRouteHandler) -> None:
    principal = require_principal(connection)
    (await pilot_access(principal, int(connection.path_params["pilot_id"]))).require_manage()


def organization_member(connection: ASGIConnection, _: BaseRouteHandler) -> None:
    principal = require_principal(connection)
    organization_id = int(connection.path_params["organization_id"])
    if not (principal.is_network_admin or principal.is_member_of(organization_id)):
        raise Forbidden("Only this organization's members can do this.")


def organization_admin(connection: ASGIConnection, _: BaseRouteHandler) -> None:
    principal = require_principal(connection)
    organization_id = int(connection.path_params["organization_id"])
    if not (principal.is_network_admin or principal.is_admin_of(organization_id)):
        raise Forbidden("Only this organization's administrators can do this.")
