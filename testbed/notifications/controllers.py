"""The notifications page and API (the menu's unread count comes with the principal)."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get, post
from litestar.params import JSONBody, URLEncodedBody
from litestar.response import Redirect, Template

from testbed.auth import require_principal, signed_in
from testbed.errors import InvalidInput, NotFound
from testbed.notifications import services
from testbed.notifications.schemas import NotificationOut, ReadIn, ReadOut


def _notification_id(value: object) -> int | None:
    if value in (None, ""):
        return None
    try:
        return int(str(value))
    except ValueError:
        raise InvalidInput("That is not a notification.") from None


class NotificationController(Controller):
    path = "/notifications"
    tags = ["notifications"]
    include_in_schema = False
    guards = [signed_in]
    opt = {"access": "signed_in"}

    @get("/")
    async def notifications_page(self, request: Request) -> Template:
        items = await services.notifications_for(require_principal(request))
        return Template("notifications/index.html.j2", context={"notifications": items})

    @post("/read")
    async def mark_read(self, request: Request, data: URLEncodedBody[dict[str, Any]]) -> Redirect:
        await services.mark_read(
            require_principal(request), _notification_id(data.get("notification_id"))
        )
        return Redirect("/notifications")


class NotificationApiController(Controller):
    path = "/api/v1/notifications"
    tags = ["notifications"]
    guards = [signed_in]
    opt = {"access": "signed_in"}

    @get("/", summary="My notifications, newest first")
    async def list_notifications(self, request: Request) -> list[NotificationOut]:
        rows = await services.notifications_for(require_principal(request))
        return [NotificationOut(**row) for row in rows]

    @post(
        "/read", summary="Mark one notification (or all) read", status_code=200, raises=[NotFound]
    )
    async def mark_read(self, request: Request, data: JSONBody[ReadIn]) -> ReadOut:
        principal = require_principal(request)
        marked = await services.mark_read(principal, data.notification_id)
        return ReadOut(marked_read=marked, unread=await services.unread_count(principal.user_id))


ROUTE_HANDLERS = [NotificationController, NotificationApiController]
