"""Who may run, read, approve or manage a finding, and the finding reference in a path
("12", "12.csv"); the guards run before the body is read, and the services check again."""

from __future__ import annotations

from litestar import Request
from litestar.connection import ASGIConnection
from litestar.handlers.base import BaseRouteHandler

from testbed.access import pilot_access
from testbed.auth import (
    current_principal,
    require_principal,
)
from testbed.errors import Forbidden, NotFound
from testbed.findings import services

FORMATS = ("html", "csv", "json")


def parse_reference(reference: str) -> tuple[int, str]:
    """ "12", "12.csv" or "12.json" -> (12, format); anything else is not a finding."""
    number, _, suffix = reference.partition(".")
    fmt = suffix or "html"
    if not number.isdigit() or fmt not in FORMATS or len(number) > 12:
        raise NotFound("There is no such finding.")
    return int(number), fmt


async def pilot_analyst(connection: ASGIConnection, _: BaseRouteHandler) -> None:
    principal = require_principal(connection)
    access = await pilot_access(principal, int(connection.path_params["pilot_id"]))
    if not services.may_run(access):
        raise Forbidden("Only the pilot's vendor, its researchers or a network admin do this.")


async def pilot_site_district(connection: ASGIConnection, _: BaseRouteHandler) -> None:
    principal = require_principal(connection)
    access = await pilot_access(principal, int(connection.path_params["pilot_id"]))
    if not access.is_site_district:
        raise Forbidden("Only a district that hosted the pilot records its decision.")


def _finding_id(connection: ASGIConnection) -> int:
    value = connection.path_params["finding_id"]
    return value if isinstance(value, int) else parse_reference(str(value))[0]


async def finding_reader(connection: ASGIConnection, _: BaseRouteHandler) -> None:
    read = await services.read_finding(current_principal(connection), _finding_id(connection))
    if connection.scope.get("method") == "GET":
        # A page view reads nothing new in its handler: it shows what this check just read.
        connection.state.finding_read = read


def guard_read(request: Request) -> services.FindingRead | None:
    """What finding_reader read for this GET request (None for any other request)."""
    return request.state.get("finding_read") if request.method == "GET" else None


async def finding_party(connection: ASGIConnection, _: BaseRouteHandler) -> None:
    principal = require_principal(connection)
    _, access = await services.finding_access(principal, _finding_id(connection))
    if not (access.is_vendor or access.is_site_district):
        raise Forbidden("Only the pilot's vendor and its site districts approve a finding.")


async def finding_manager(connection: ASGIConnection, _: BaseRouteHandler) -> None:
    principal = require_principal(connection)
    _, access = await services.finding_access(principal, _finding_id(connection))
    access.require_manage()
