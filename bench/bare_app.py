"""The yardstick of bench_load.py: a bare Litestar app with one constant handler, served by the
same uvicorn with the same number of workers as Testbed."""

from litestar import Litestar, MediaType, get


@get("/", media_type=MediaType.TEXT)
async def constant() -> str:
    return "ok"


app = Litestar(route_handlers=[constant], logging_config=None)
