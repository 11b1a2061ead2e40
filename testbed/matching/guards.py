"""Who may volunteer, act on an enrollment or see a matching round; they run before the body is
read (the services check again)."""

from __future__ import annotations

from litestar.connection import ASGIConnection
from litestar.handlers.base import BaseRouteHandler

from testbed.access import pilot_access
from testbed.auth import (
    require_principal,
)
from testbed.errors import Forbidden, NotFound
from testbed.matching import services

UNVERIFIED_DISTRICT = (
    "Your district has not been verified by the network yet. You can browse calls, but not "
    "volunteer until it is."
)


def _member_of_a_verified_district(connection: ASGIConnection, _: BaseRouteHandler) -> None:
    """A member of a verified district (network admins do not volunteer on a district's behalf)."""
    principal = require_principal(connection)
    districts = [m for m in principal.memberships if m.kind == "district"]
    if not districts:
        raise Forbidden("Volunteering is for district coordinators.")
    if not any(m.verified for m in districts):
        raise Forbidden(UNVERIFIED_DISTRICT)


def district_coordinator(connection: ASGIConnection, _: BaseRouteHandler) -> None:
    principal = require_principal(connection)
    if not principal.organizations_of_kind("district"):
        raise Forbidden("This page is for district coordinators.")


async def verified_district(connection: ASGIConnection, handler: BaseRouteHandler) -> None:
    """A member of a verified district, on a pilot they may see (others: 404)."""
    _member_of_a_verified_district(connection, handler)
    await pilot_access(require_principal(connection), int(connection.path_params["pilot_id"]))


async def enrollment_party(connection: ASGIConnection, _: BaseRouteHandler) -> None:
    """The district's members or the vendor's members of this enrollment; 404 for others."""
    await services.enrollment_party(
        require_principal(connection), int(connection.path_params["enrollment_id"])
    )


async def round_viewer(connection: ASGIConnection, _: BaseRouteHandler) -> None:
    principal = require_principal(connection)
    if not await services.round_viewable(principal, int(connection.path_params["round_id"])):
        raise NotFound("There is no such matching round.")
