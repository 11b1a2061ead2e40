"""The home page, the network's live numbers and the health check (their reads: numbers.py)."""

from __future__ import annotations

from dataclasses import dataclass

from litestar import Controller, MediaType, Response, get
from litestar.openapi.datastructures import ResponseSpec
from litestar.response import Template

from testbed.auth import PUBLIC
from testbed.numbers import NetworkNumbers, database_reachable, network_numbers


@dataclass
class Health:
    status: str
    database: str


class HomeController(Controller):
    tags = ["network"]
    opt = PUBLIC

    @get("/", media_type=MediaType.HTML, include_in_schema=False)
    async def home(self) -> Template:
        return Template("home.html.j2", context={"numbers": await network_numbers()})

    @get("/api/v1/network/numbers", summary="Live counts of the network")
    async def numbers(self) -> NetworkNumbers:
        return await network_numbers()

    @get(
        "/health",
        summary="Liveness and database check",
        responses={503: ResponseSpec(Health, description="The database cannot be reached.")},
    )
    async def health(self) -> Response[Health]:
        if not await database_reachable():
            return Response(Health(status="unavailable", database="unreachable"), status_code=503)
        return Response(Health(status="ok", database="ok"))
