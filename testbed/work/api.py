"""The JSON API of "your work": /api/v1/me/work."""

from __future__ import annotations

from litestar import Controller, get

from testbed.auth import SignedIn, access_rule, signed_in
from testbed.work import services
from testbed.work.schemas import WorkItemOut


class WorkApiController(Controller):
    path = "/api/v1/me/work"
    tags = ["accounts"]
    guards = [signed_in]
    opt = access_rule(signed_in)

    @get("/", summary="What needs me now, overdue first, one link each")
    async def work(self, principal: SignedIn) -> list[WorkItemOut]:
        items = await services.work_for(principal)
        return [WorkItemOut(i.kind, i.words, i.link, i.overdue) for i in items]


ROUTE_HANDLERS = [WorkApiController]
