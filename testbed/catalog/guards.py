"""Who may edit a district's profile and needs, a product, or propose a pilot; they run before the
body is read, and the services check again."""

from __future__ import annotations

from litestar.connection import ASGIConnection
from litestar.handlers.base import BaseRouteHandler

from testbed.auth import member_of, require_principal
from testbed.catalog import services

verified_vendor = member_of("vendor", verified=True)


def district_member(connection: ASGIConnection, _: BaseRouteHandler) -> None:
    services.require_district_member(
        require_principal(connection), int(connection.path_params["district_id"])
    )


async def product_editor(connection: ASGIConnection, _: BaseRouteHandler) -> None:
    await services.require_product_editor(
        require_principal(connection), int(connection.path_params["product_id"])
    )
