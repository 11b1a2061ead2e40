"""The accounts domain's own guard; the organization guards are shared (testbed/access.py)."""

from __future__ import annotations

from litestar.connection import ASGIConnection
from litestar.handlers.base import BaseRouteHandler

from testbed.accounts import services
from testbed.auth import require_principal


async def invited_address(connection: ASGIConnection, _: BaseRouteHandler) -> None:
    """Signed in with the address an invitation still open was sent to (the service checks
    again when accepting)."""
    principal = require_principal(connection)
    invitation = await services.usable_invitation(connection.path_params["token"])
    services.require_invited_address(invitation, principal.email)
