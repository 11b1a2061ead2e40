"""/admin/outbox: every message the service queued, its state and, when it failed, why."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get
from litestar.response import Template

from testbed.auth import access_rule, network_admin
from testbed.mail import outbox


class OutboxController(Controller):
    path = "/admin/outbox"
    tags = ["admin"]
    include_in_schema = False
    guards = [network_admin]
    opt = access_rule(network_admin)

    @get("/")
    async def outbox_page(self, request: Request) -> Template:
        settings = request.app.state["settings"]
        return Template(
            "mail/outbox.html.j2",
            context={
                "messages": await outbox.list_messages(),
                "smtp_configured": settings.smtp_url is not None,
                "outbox_dir": str(settings.outbox_dir),
                "give_up_hours": int(outbox.GIVE_UP.total_seconds() // 3600),
            },
        )


ROUTE_HANDLERS: list[Any] = [OutboxController]
