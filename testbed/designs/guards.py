"""Who may write a design or touch a site's rosters; they run before the body is read (the
services check again)."""

from __future__ import annotations

from litestar.connection import ASGIConnection
from litestar.handlers.base import BaseRouteHandler

from testbed.access import pilot_access, require_student_rows
from testbed.auth import require_principal
from testbed.designs import services


def _pilot_id(connection: ASGIConnection) -> int:
    return int(connection.path_params["pilot_id"])


async def design_editor(connection: ASGIConnection, _: BaseRouteHandler) -> None:
    access = await pilot_access(require_principal(connection), _pilot_id(connection))
    services.require_edit_design(access)


async def site_district(connection: ASGIConnection, _: BaseRouteHandler) -> None:
    """The site's district (or a network administrator): its rosters and baseline groups."""
    access = await pilot_access(require_principal(connection), _pilot_id(connection))
    services.require_upload_for_site(access, int(connection.path_params["site_id"]))


async def site_rows_reader(connection: ASGIConnection, _: BaseRouteHandler) -> None:
    access = await pilot_access(require_principal(connection), _pilot_id(connection))
    require_student_rows(access, int(connection.path_params["site_id"]))
