"""Your work: the page a person lands on after signing in, and the same list in the API."""

from __future__ import annotations

import msgspec
from litestar import Controller, get
from litestar.response import Template

from testbed.auth import SignedIn, access_rule, signed_in
from testbed.work import services


class WorkItemOut(msgspec.Struct, frozen=True):
    kind: str
    words: str
    link: str
    overdue: bool


class WorkController(Controller):
    path = "/work"
    include_in_schema = False
    guards = [signed_in]
    opt = access_rule(signed_in)

    @get("/")
    async def work_page(self, principal: SignedIn) -> Template:
        items = await services.work_for(principal)
        return Template("work/index.html.j2", context={"items": items})


class WorkApiController(Controller):
    path = "/api/v1/me/work"
    tags = ["accounts"]
    guards = [signed_in]
    opt = access_rule(signed_in)

    @get("/", summary="What needs me now, overdue first, one link each")
    async def work(self, principal: SignedIn) -> list[WorkItemOut]:
        items = await services.work_for(principal)
        return [WorkItemOut(i.kind, i.words, i.link, i.overdue) for i in items]


ROUTE_HANDLERS = [WorkController, WorkApiController]
