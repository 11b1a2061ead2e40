"""Who may upload a site's data or follow an upload job; they run before the file is read."""

from __future__ import annotations

from litestar.connection import ASGIConnection
from litestar.handlers.base import BaseRouteHandler

from testbed.access import pilot_access
from testbed.auth import (
    member_of,
    require_principal,
)
from testbed.errors import NotFound
from testbed.uploads import services

_member_of_a_verified_district = member_of("district", verified=True)


async def site_uploader(connection: ASGIConnection, handler: BaseRouteHandler) -> None:
    """Verified members of the site's district, and network admins (pilot hidden: 404)."""
    _member_of_a_verified_district(connection, handler)
    principal = require_principal(connection)
    pilot_id = int(connection.path_params["pilot_id"])
    site_id = int(connection.path_params["site_id"])
    access = await pilot_access(principal, pilot_id)
    await services.require_site(pilot_id, site_id)
    services.require_upload_permission(principal, access, site_id)


async def upload_job_viewer(connection: ASGIConnection, _: BaseRouteHandler) -> None:
    principal = require_principal(connection)
    job = await services.get_job(int(connection.path_params["job_id"]))
    if not await services.may_see_job(principal, job):
        raise NotFound("There is no such upload.")
