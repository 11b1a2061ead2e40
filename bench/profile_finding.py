"""Profile: one finding page, in process, view after view (where a view's time goes).

Serves the app in this process through httpx's ASGI transport (no server, no sockets), signs in
as the demo network admin, runs the analysis of a pilot in analysis, views that unpublished
finding `--warmup` times unmeasured, then `--views` times under cProfile and `--views` times
without it, and prints milliseconds per view for both. The profile is written to `--output`
(read it with `python -m pstats FILE`, e.g. `sort tottime`, `stats 30`).

It uses the demo network already loaded where the environment points (DATABASE_URL, or
TESTBED_DATA_DIR for SQLite): load it first with `testbed demo --reset`.

Run: [DATABASE_URL=postgresql://...] TESTBED_DATA_DIR=DIR .venv/bin/python
     bench/profile_finding.py [--views 300] [--warmup 20] [--output finding.prof]
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import os
import sys
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("PICCOLO_CONF", "testbed.piccolo_conf")

from testbed.app import create_app  # noqa: E402
from testbed.demo.generate import DEMO_PASSWORD, NETWORK_ADMIN_EMAIL  # noqa: E402
from testbed.settings import Settings  # noqa: E402


async def _finding_as_admin(client: httpx.AsyncClient) -> str:
    await client.get("/login")
    signed_in = await client.post(
        "/login",
        data={
            "email": NETWORK_ADMIN_EMAIL,
            "password": DEMO_PASSWORD,
            "_csrf_token": client.cookies["csrftoken"],
        },
    )
    if signed_in.status_code not in (302, 303):
        raise RuntimeError(f"signing in answered {signed_in.status_code}; is the demo loaded?")
    pilots = (await client.get("/api/v1/pilots", params={"status": "analysis"})).json()["items"]
    ran = await client.post(
        f"/pilots/{pilots[0]['id']}/findings/run",
        data={"_csrf_token": client.cookies["csrftoken"]},
    )
    if ran.status_code not in (302, 303):
        raise RuntimeError(f"running the analysis answered {ran.status_code}")
    return ran.headers["location"]


async def _views(client: httpx.AsyncClient, path: str, count: int) -> float:
    """Seconds for `count` views of the page, each checked to answer 200."""
    started = time.perf_counter()
    for _ in range(count):
        response = await client.get(path)
        if response.status_code != 200:
            raise RuntimeError(f"{path} answered {response.status_code}")
    return time.perf_counter() - started


async def main(views: int, warmup: int, output: Path) -> None:
    app = create_app(Settings.from_env())
    transport = httpx.ASGITransport(app=app)
    async with (
        app.lifespan(),
        httpx.AsyncClient(transport=transport, base_url="http://testserver.local") as client,
    ):
        path = await _finding_as_admin(client)
        await _views(client, path, warmup)
        profile = cProfile.Profile()
        profile.enable()
        profiled = await _views(client, path, views)
        profile.disable()
        plain = await _views(client, path, views)
    profile.dump_stats(output)
    backend = "PostgreSQL" if Settings.from_env().uses_postgres else "SQLite"
    print(f"{backend}, {path}, {views} views after {warmup} unmeasured:")
    print(f"  {plain / views * 1000:.2f} ms a view; {profiled / views * 1000:.2f} ms profiled")
    print(f"  profile written to {output}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--views", type=int, default=300)
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--output", type=Path, default=Path("finding.prof"))
    args = parser.parse_args()
    asyncio.run(main(args.views, args.warmup, args.output))
