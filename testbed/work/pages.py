"""Your work: the page a person lands on after signing in (the same list: api.py)."""

from __future__ import annotations

from litestar import Controller, get
from litestar.response import Template

from testbed.auth import SignedIn, access_rule, signed_in
from testbed.work import services


class WorkController(Controller):
    path = "/work"
    include_in_schema = False
    guards = [signed_in]
    opt = access_rule(signed_in)

    @get("/")
    async def work_page(self, principal: SignedIn) -> Template:
        items = await services.work_for(principal)
        return Template("work/index.html.j2", context={"items": items})


ROUTE_HANDLERS = [WorkController]
