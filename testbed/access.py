"""Who may see and do what with a pilot: the ownership rules every pilot service applies.

A pilot that a principal may not see answers 404, exactly like one that does not exist, so ids
cannot be probed.

Pilot roles (PilotRole) are for researchers: a role counts only while its holder is a member of
a verified research organization and not a member of the pilot's vendor. The rule is applied
when a role is read, not only when it is granted, so a role granted earlier (or a membership
changed since) never widens what a vendor's member sees. Student-level rows (assignments,
observations, rosters) reach only `may_see_student_rows`: the site's own district, the
pilot's researchers and network administrators.
"""

from __future__ import annotations

from dataclasses import dataclass

from litestar.connection import ASGIConnection
from litestar.handlers.base import BaseRouteHandler
from piccolo.columns.combination import Combinable

from testbed.auth import Principal, current_principal, load_principal, require_principal
from testbed.errors import Forbidden, NotFound
from testbed.tables import Enrollment, Pilot, PilotRole

PUBLIC_STATUSES = frozenset({"published", "closed"})
CALL_STATUSES = frozenset({"open", "matching"})
SITE_STATUSES = frozenset({"accepted_by_district", "accepted_by_vendor", "site"})
# Organization kinds whose members may hold a role on a pilot (docs/access.md says why).
ROLE_HOLDER_KINDS = frozenset({"research"})
# The pilot role that writes the design, runs analyses and reads student rows; the other role
# ("observer") only sees the pilot as its team does.
RESEARCHER_ROLE = "researcher"


@dataclass(frozen=True)
class PilotAccess:
    pilot_id: int
    status: str
    vendor_id: int
    is_network_admin: bool = False
    is_vendor: bool = False
    has_role: bool = False  # a pilot role that counts (see may_hold_pilot_role), of any kind
    is_researcher: bool = False  # ... and that role is "researcher"
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


def may_hold_pilot_role(principal: Principal, vendor_id: int) -> bool:
    """Whether a pilot role can count for this person on a pilot of this vendor: a member of a
    verified research organization who is not a member of the pilot's vendor."""
    return _in_role_holder_organization(principal) and not principal.is_member_of(vendor_id)


def _in_role_holder_organization(principal: Principal) -> bool:
    return any(m.kind in ROLE_HOLDER_KINDS and m.verified for m in principal.memberships)


async def pilot_roles(pilot_id: int) -> list[dict]:
    """The pilot's role rows (id, role, name, email), each with `in_effect`: whether it counts
    today. A role whose holder left their research organization (or whose organization is no
    longer verified), or who joined the pilot's vendor, is listed but counts for nothing."""
    vendor_id = await pilot_vendor_id(pilot_id)
    roles = (
        await PilotRole.select(
            PilotRole.id,
            PilotRole.role,
            PilotRole.user,
            PilotRole.user.name.as_alias("name"),
            PilotRole.user.email.as_alias("email"),
        )
        .where(PilotRole.pilot == pilot_id)
        .order_by(PilotRole.id)
    )
    for role in roles:  # a pilot's team is a handful of people
        holder = await load_principal(role.pop("user"))
        role["in_effect"] = holder is not None and may_hold_pilot_role(holder, vendor_id)
    return roles


async def pilot_vendor_id(pilot_id: int) -> int:
    pilot = (
        await Pilot.select(Pilot.product.vendor.as_alias("vendor_id"))
        .where(Pilot.id == pilot_id)
        .first()
    )
    if pilot is None:
        raise NotFound("There is no such pilot.")
    return pilot["vendor_id"]


def may_see_student_rows(access: PilotAccess, site_id: int) -> bool:
    """The one rule for student-level rows of a site (its assignment list, rosters, uploaded
    observations and whatever describes its uploads): the site's own district, the pilot's
    researchers (a role that counts) and network administrators. Never the vendor."""
    return access.is_network_admin or access.is_researcher or site_id in access.site_district_ids


def require_student_rows(access: PilotAccess, site_id: int) -> None:
    if not may_see_student_rows(access, site_id):
        raise Forbidden(
            "Student-level rows stay with the site's own district, the pilot's researchers and "
            "network administrators."
        )


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
        role = None
        if may_hold_pilot_role(principal, vendor_id):  # otherwise a role row counts for nothing
            found = (
                await PilotRole.select(PilotRole.role)
                .where((PilotRole.pilot == pilot_id) & (PilotRole.user == principal.user_id))
                .first()
            )
            role = found["role"] if found else None
        access = PilotAccess(
            pilot_id=pilot_id,
            status=status,
            vendor_id=vendor_id,
            is_network_admin=principal.is_network_admin,
            is_vendor=principal.is_member_of(vendor_id),
            has_role=role is not None,
            is_researcher=role == RESEARCHER_ROLE,
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
    if access.is_network_admin or access.is_vendor or access.has_role:
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
    if _in_role_holder_organization(principal):
        # The pilots of the principal's own vendor are visible above; on any other, the role
        # counts (may_hold_pilot_role). Without a verified research membership no role does.
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


async def pilot_viewer(connection: ASGIConnection, _: BaseRouteHandler) -> None:
    """Whoever may see the pilot (signed in or not); others get 404."""
    await pilot_access(current_principal(connection), int(connection.path_params["pilot_id"]))


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
