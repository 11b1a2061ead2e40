"""Benchmark: the product evidence page with 200 published pilots, and the network dashboard
at 10x the demo network.

1. Loads the demo network at scale 10 into a temporary data directory (SQLite), with the
   published findings of its published and closed pilots (load_demo computes them).
2. Times `/network` (the dashboard) and one demo product's evidence page.
3. Adds a product with 200 published pilots: synthetic Finding rows written directly (a results
   document reduced to what synthesis reads, from tests/web/test_synthesis.py), effects drawn
   around 0.15 SD, two site districts each. Times `/products/{id}/evidence` against rendering
   the same template with the same, precomputed context (the "bare template render").

Run: .venv/bin/python bench/bench_synthesis.py [--repeats N]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
import types
from pathlib import Path


def _configure() -> None:
    # Piccolo picks its engine on the first query: the environment is set before any import.
    os.environ["TESTBED_DATA_DIR"] = tempfile.mkdtemp(prefix="testbed-bench-")
    os.environ["PICCOLO_CONF"] = "testbed.piccolo_conf"
    os.environ.pop("TESTBED_DEBUG", None)
    os.environ.pop("DATABASE_URL", None)
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def _timed(request, repeats: int) -> tuple[float, float]:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        request()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times), sorted(times)[int(0.95 * (len(times) - 1))]


async def product_with_200_pilots() -> int:
    import datetime

    import numpy as np

    from testbed.tables import (
        DesignVersion,
        DistrictProfile,
        Enrollment,
        Finding,
        Organization,
        Pilot,
        Product,
    )
    from tests.web.test_synthesis import results_document

    vendor = await Organization.select(Organization.id).where(Organization.kind == "vendor").first()
    product = (
        await Product.insert(
            Product(
                vendor=vendor["id"],
                name="Bench Adaptive",
                description="Synthetic",
                grade_bands=[],
                subjects=[],
                pillars=[2],
                platforms=[],
            )
        )
    )[0]["id"]
    districts = [
        row["organization"]
        for row in await DistrictProfile.select(DistrictProfile.organization).limit(400)
    ]
    rng = np.random.default_rng(7)
    now = datetime.datetime.now(datetime.UTC)
    for index in range(200):
        sites = districts[2 * index : 2 * index + 2]
        pilot = (
            await Pilot.insert(
                Pilot(
                    product=product,
                    title=f"Bench pilot {index + 1}",
                    research_question="?",
                    grades=[],
                    subjects=[],
                    pillars=[2],
                    sites_wanted=2,
                    students_per_site=100,
                    weeks=10,
                    status="published",
                )
            )
        )[0]["id"]
        await Enrollment.insert(
            *[
                Enrollment(
                    pilot=pilot, district=site, status="site", capacity_students=100, grades=[]
                )
                for site in sites
            ]
        )
        design = (
            await DesignVersion.insert(
                DesignVersion(pilot=pilot, version=1, document={}, registered_at=now)
            )
        )[0]["id"]
        se = float(rng.uniform(0.06, 0.2))
        g = float(rng.normal(0.15, 0.1) + rng.normal(0, se))
        await Finding.insert(
            Finding(
                pilot=pilot,
                design_version=design,
                dataset_ids=[],
                results=results_document(g, se, sites, int(rng.integers(40, 200))),
                published_at=now,
            )
        )
    return product


async def _most_evidenced_product() -> int:
    from collections import Counter

    from testbed.tables import Finding

    rows = await Finding.select(Finding.pilot.product.as_alias("product"))
    return Counter(row["product"] for row in rows).most_common(1)[0][0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=15)
    repeats = parser.parse_args().repeats
    _configure()

    import asyncio

    from litestar.testing import TestClient

    from testbed.app import create_app
    from testbed.demo.load import load_demo
    from testbed.migrate import apply_migrations
    from testbed.synthesis import pages, services

    asyncio.run(apply_migrations())
    started = time.perf_counter()
    asyncio.run(load_demo(scale=10, reset=True))
    print(f"demo scale 10 loaded, with its findings, in {time.perf_counter() - started:.1f} s")
    demo_product = asyncio.run(_most_evidenced_product())
    synthetic = asyncio.run(product_with_200_pilots())

    app = create_app()
    with TestClient(app) as client:

        def get(path: str):
            def request():
                response = client.get(path)
                assert response.status_code == 200, (path, response.status_code)

            return request

        rows = []
        for label, path in (
            ("/network (dashboard, scale 10 + the 200-pilot product)", "/network"),
            ("/api/v1/network/dashboard", "/api/v1/network/dashboard"),
            ("/products/{demo}/evidence", f"/products/{demo_product}/evidence"),
        ):
            rows.append((label, *_timed(get(path), repeats)))
        path = f"/products/{synthetic}/evidence"
        start = time.perf_counter()
        get(path)()
        cold = (time.perf_counter() - start) * 1000
        median, p95 = _timed(get(path), repeats)
        rows.append(("/products/{200 pilots}/evidence (forest plot cached)", median, p95))

        evidence = client.blocking_portal.call(services.product_evidence, synthetic)
        context = {
            "evidence": evidence,
            "forest": pages._forest(evidence),
            **pages.HELPERS,
        }
        template = app.template_engine.get_template("synthesis/evidence.html.j2")

        # The page's request, as far as the layout reads it: nobody signed in.
        anonymous = types.SimpleNamespace(scope={})

        def bare():
            template.render(**context, request=anonymous)

        bare_median, _ = _timed(bare, repeats)
        api = _timed(get(f"/api/v1/products/{synthetic}/evidence"), repeats)
    for label, median_ms, p95_ms in rows:
        print(f"| {label} | {median_ms:.1f} | {p95_ms:.1f} |")
    print(f"| /api/v1/products/{{200 pilots}}/evidence | {api[0]:.1f} | {api[1]:.1f} |")
    print(f"first request of the 200-pilot page (draws the forest plot): {cold:.0f} ms")
    print(
        f"bare render of the same template and context: {bare_median:.1f} ms; "
        f"page / bare = {median / bare_median:.1f}"
    )


if __name__ == "__main__":
    main()
