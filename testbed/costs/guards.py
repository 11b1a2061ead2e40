"""Who may read and enter costs. Each guard runs before the body is read, so an outsider is
refused (404 for a pilot they may not see, 403 otherwise) before any input is validated; the
services check the same again."""

from __future__ import annotations

from litestar.connection import ASGIConnection
from litestar.handlers.base import BaseRouteHandler

from testbed.auth import require_principal
from testbed.catalog.services import require_product_editor
from testbed.costs import services


def _site(connection: ASGIConnection) -> tuple[int, int]:
    return int(connection.path_params["pilot_id"]), int(connection.path_params["site_id"])


async def price_keeper(connection: ASGIConnection, _: BaseRouteHandler) -> None:
    """The product's vendor or a network admin: list prices."""
    await require_product_editor(
        require_principal(connection), int(connection.path_params["product_id"])
    )


async def site_cost_reader(connection: ASGIConnection, _: BaseRouteHandler) -> None:
    """The site's own district, the product's vendor or a network admin."""
    await services.site_access(require_principal(connection), *_site(connection))


async def site_cost_keeper(connection: ASGIConnection, _: BaseRouteHandler) -> None:
    """The site's own district: it enters what it spent."""
    await services.require_site_keeper(require_principal(connection), *_site(connection))
