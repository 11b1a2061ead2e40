"""Benchmark: the catalog's list pages and API at 10x the demo network.

Loads the demo network at scale 10 (1,500 districts, 450 products, 250 pilots) into a
temporary data directory (or the PostgreSQL database given with --database-url, which is
emptied first), then requests each list, HTML and JSON, with and without filters and search,
through Litestar's TestClient, anonymously and as the demo district coordinator. It reports
the median and 95th percentile in milliseconds, the ratio to a bare Litestar handler that
returns a constant (measured in the same run, through the same kind of client), and the SQL
queries each request ran at 10 and at 100 items per page: the same count at both sizes means
no query per row (no N+1).

Run: .venv/bin/python bench/bench_catalog.py [--repeats N] [--database-url postgresql://...]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

CASES = (
    ("/districts", {}),
    ("/districts", {"state": "CA", "locale": "city"}),
    ("/districts", {"pillar": "2", "subject": "math", "grade_band": "g35"}),
    ("/districts", {"q": "cedar"}),
    ("/needs", {}),
    ("/needs", {"pillar": "1", "grade_band": "g68", "locale": "rural"}),
    ("/products", {}),
    ("/products", {"pillar": "2", "grade_band": "g35", "subject": "math"}),
    ("/products", {"q": "practice math"}),
    ("/pilots", {}),
    ("/pilots", {"status": "open", "subject": "math", "grade_band": "g35"}),
    ("/pilots", {"q": "reading"}),
)


def _configure(database_url: str | None) -> None:
    # Piccolo picks its engine on the first query: the environment is set before any import.
    os.environ["TESTBED_DATA_DIR"] = tempfile.mkdtemp(prefix="testbed-bench-")
    os.environ["PICCOLO_CONF"] = "testbed.piccolo_conf"
    os.environ.pop("TESTBED_DEBUG", None)
    if database_url:
        os.environ["DATABASE_URL"] = database_url
    else:
        os.environ.pop("DATABASE_URL", None)
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


class QueryCounter:
    """Counts the SQL statements the engine runs (patched on the engine's class: its instances
    have read-only attributes)."""

    def __init__(self, engine):
        self.count = 0
        engine_class = type(engine)
        original = engine_class.run_querystring

        async def counted(engine_self, *args, **kwargs):
            self.count += 1
            return await original(engine_self, *args, **kwargs)

        engine_class.run_querystring = counted


def _timed(client, path: str, params: dict, repeats: int, headers=None) -> list[float]:
    for _ in range(3):
        client.get(path, params=params, headers=headers)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        response = client.get(path, params=params, headers=headers)
        times.append((time.perf_counter() - start) * 1000)
        assert response.status_code == 200, (path, params, response.status_code)
    return times


def _queries(client, counter: QueryCounter, path: str, params: dict) -> int:
    counter.count = 0
    client.get(path, params=params)
    return counter.count


def _service_timed(client, list_call, repeats: int) -> float:
    """The list service alone (its queries, no HTTP, session or rendering), median ms."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        client.blocking_portal.call(list_call)
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def _p95(times: list[float]) -> float:
    return statistics.quantiles(times, n=20)[-1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=50)
    parser.add_argument("--database-url", default=None)
    arguments = parser.parse_args()
    _configure(arguments.database_url)

    import asyncio

    from litestar import Litestar, get
    from litestar.testing import TestClient

    from testbed import vocabulary
    from testbed.app import create_app
    from testbed.auth import load_principal
    from testbed.catalog import services
    from testbed.demo.generate import COORDINATOR_EMAIL, DEMO_PASSWORD
    from testbed.demo.load import load_demo
    from testbed.migrate import apply_migrations
    from testbed.tables import Organization, User

    asyncio.run(apply_migrations())
    started = time.perf_counter()
    asyncio.run(load_demo(scale=10, reset=True))
    print(f"loaded the demo network at scale 10 in {time.perf_counter() - started:.1f} s")

    @get("/constant", opt={"access": "public"})
    async def constant() -> dict[str, str]:
        return {"status": "ok"}

    with TestClient(Litestar([constant])) as bare_client:
        bare = statistics.median(_timed(bare_client, "/constant", {}, arguments.repeats * 2))

    engine = Organization._meta.db
    backend = "PostgreSQL" if engine.engine_type == "postgres" else "SQLite"
    print(
        f"{backend}; Python {platform.python_version()}; {os.cpu_count()} CPUs; "
        f"{arguments.repeats} requests per row; bare constant handler {bare:.2f} ms (median)"
    )
    print()
    print(
        "| request | who | median ms | p95 ms | × bare | service alone, median ms "
        "| queries at 10 / 100 per page |"
    )
    print("|---|---|---:|---:|---:|---:|---|")
    list_services = {
        "/districts": (services.list_districts, ()),
        "/needs": (services.list_needs, services.NEED_STATUSES),
        "/products": (lambda _, filters, page: services.list_products(filters, page), ()),
        "/pilots": (services.list_pilots, vocabulary.PILOT_STATUSES),
    }
    with TestClient(create_app()) as client:
        counter = QueryCounter(engine)
        principal = None
        for who in ("anonymous", "coordinator"):
            if who == "coordinator":
                coordinator = client.blocking_portal.call(
                    User.select(User.id).where(User.email == COORDINATOR_EMAIL).first().run
                )
                principal = client.blocking_portal.call(load_principal, coordinator["id"])
                client.get("/login")
                client.post(
                    "/login",
                    data={
                        "email": COORDINATOR_EMAIL,
                        "password": DEMO_PASSWORD,
                        "_csrf_token": client.cookies["csrftoken"],
                    },
                    follow_redirects=False,
                )
            for list_path, params in CASES:
                if who == "coordinator" and list_path != "/pilots":
                    continue  # only the pilot list depends on who is asking
                list_service, statuses = list_services[list_path]
                filters = services.parse_filters(statuses=statuses, **params)
                service_ms = _service_timed(
                    client,
                    lambda: list_service(principal, filters, 1),  # noqa: B023 (called at once)
                    arguments.repeats,
                )
                for path in (list_path, "/api/v1" + list_path):
                    times = _timed(client, path, params, arguments.repeats)
                    small = _queries(client, counter, path, {**params, "per_page": 10})
                    large = _queries(client, counter, path, {**params, "per_page": 100})
                    shown = "&".join(f"{k}={v}" for k, v in params.items())
                    median = statistics.median(times)
                    print(
                        f"| `{path}{'?' + shown if shown else ''}` | {who} | {median:.1f} | "
                        f"{_p95(times):.1f} | {median / bare:.0f} | {service_ms:.1f} | "
                        f"{small} / {large} |"
                    )


if __name__ == "__main__":
    main()
