"""Benchmark: every page kind at demo scale 10 and scale 100, on SQLite and PostgreSQL.

For each backend and scale the demo network is loaded once into a kept place (a data directory
for SQLite, a database for PostgreSQL; `testbed demo` skips a database that already has it and
applies any new migration), then a fresh process times every page kind of the crawl through
Litestar's TestClient: anonymously and signed in as each demo role (vendor founder, district
coordinator, researcher, network admin). Each row is `--repeats` requests after 2 unmeasured
ones; the script prints the median, the p95, the response size and the growth from the first
scale to the last. A bare Litestar handler (bench/bare_app.py) is timed in the same process as
the yardstick.

First views: for a published finding's page and a product evidence page, a fresh process starts
the app (its lifespan, warm-up included), asks for one page of another kind, then times the first
request of the page and then the warm ones.

Each process records `uptime` when it starts: the machine is shared.

Run: .venv/bin/python bench/bench_scale.py [--scales 10 100] [--backends sqlite postgresql]
     [--repeats 15] [--sqlite-dir /work/scale-data/s{scale}]
     [--postgres postgresql://postgres@127.0.0.1:5432/testbed_s{scale}]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ROLES = ("anonymous", "vendor", "district", "researcher", "admin")

# (kind, path with {placeholders}, roles that ask for it). Public kinds are asked by everyone:
# what a page shows (and costs) depends on who is asking.
EVERYONE = ROLES
PAGES = (
    ("home", "/", EVERYONE),
    ("district list", "/districts", EVERYONE),
    ("district search", "/districts?q=cedar", EVERYONE),
    ("district search API", "/api/v1/districts?q=cedar", ("anonymous",)),
    ("district page", "/districts/{district}", EVERYONE),
    ("district API", "/api/v1/districts/{district}", ("anonymous",)),
    ("similar districts", "/districts/{district}/similar", EVERYONE),
    ("need list", "/needs", EVERYONE),
    ("product list", "/products", EVERYONE),
    ("product list API", "/api/v1/products", ("anonymous",)),
    ("product page", "/products/{product}", EVERYONE),
    ("pilot list", "/pilots", EVERYONE),
    ("pilot list API", "/api/v1/pilots", EVERYONE),
    ("pilot page (published)", "/pilots/{pilot}", EVERYONE),
    ("finding list", "/findings", EVERYONE),
    ("finding list API", "/api/v1/findings", ("anonymous",)),
    ("finding page", "/findings/{finding}", EVERYONE),
    ("finding API", "/api/v1/findings/{finding}", ("anonymous", "admin")),
    ("evidence page", "/products/{product}/evidence", EVERYONE),
    ("evidence API", "/api/v1/products/{product}/evidence", ("anonymous",)),
    ("network dashboard", "/network", EVERYONE),
    ("network dashboard API", "/api/v1/network/dashboard", ("anonymous",)),
    ("network findings API (a page)", "/api/v1/network/findings", ("anonymous",)),
    ("network findings CSV (a page)", "/network/findings.csv?limit=100", ("anonymous",)),
    ("network numbers API", "/api/v1/network/numbers", ("anonymous",)),
    ("glossary", "/glossary", ("anonymous",)),
    ("your work", "/work", ("vendor", "district", "researcher", "admin")),
    ("your work API", "/api/v1/me/work", ("vendor", "district", "researcher", "admin")),
    ("notifications", "/notifications", ("vendor", "district", "researcher", "admin")),
    ("account", "/account", ("vendor", "district", "researcher", "admin")),
    ("own pilot page", "/pilots/{own_pilot}", ("vendor", "researcher")),
    ("own pilot design", "/pilots/{own_pilot}/design", ("vendor", "researcher")),
    ("own pilot data", "/pilots/{own_pilot}/data", ("vendor", "researcher")),
    ("own pilot findings", "/pilots/{own_pilot}/findings", ("vendor", "researcher")),
    ("volunteers of an open call", "/pilots/{open_pilot}/volunteers", ("vendor",)),
    ("matching recommendations", "/matching", ("district",)),
    ("recommendations API", "/api/v1/matching/recommendations", ("district",)),
    ("own needs", "/districts/{own_district}/needs", ("district",)),
    ("own profile form", "/districts/{own_district}/profile", ("district",)),
    ("admin", "/admin", ("admin",)),
    ("admin matching", "/admin/matching", ("admin",)),
    ("admin organizations API", "/api/v1/admin/organizations", ("admin",)),
    ("admin audit API", "/api/v1/admin/audit", ("admin",)),
)
FIRST_VIEWS = (
    ("finding page", "/findings/{finding}", "/findings/{other_finding}"),
    ("evidence page", "/products/{product}/evidence", "/products/{other_product}/evidence"),
)


def _environment(backend: str, scale: int, args: argparse.Namespace) -> dict[str, str]:
    env = {
        **os.environ,
        "PICCOLO_CONF": "testbed.piccolo_conf",
        # The periodic sweeps would run beside the measured requests: off, as in bench_load.
        "TESTBED_NOTIFICATION_SWEEP_SECONDS": "0",
    }
    env.pop("TESTBED_DEBUG", None)
    if backend == "postgresql":
        env["DATABASE_URL"] = args.postgres.format(scale=scale)
        env["TESTBED_DATA_DIR"] = args.sqlite_dir.format(scale=f"pg{scale}")
    else:
        env.pop("DATABASE_URL", None)
        env["TESTBED_DATA_DIR"] = args.sqlite_dir.format(scale=scale)
    return env


def _uptime() -> str:
    return subprocess.run(["/usr/bin/uptime"], capture_output=True, text=True).stdout.strip()


# --- the child processes ---------------------------------------------------------------------


def _ids() -> dict[str, int]:
    """The objects the pages are asked about, read before the app (and its pool) starts."""
    from testbed.demo.generate import COORDINATOR_EMAIL, FOUNDER_EMAIL, RESEARCHER_EMAIL
    from testbed.tables import Finding

    def one(sql: str, *values) -> int:
        rows = Finding.raw(sql, *values).run_sync()
        assert rows, sql
        return next(iter(rows[0].values()))

    published = (
        "SELECT f.id, p.product FROM finding f JOIN pilot p ON p.id = f.pilot "
        "WHERE f.published_at IS NOT NULL AND f.retracted_at IS NULL ORDER BY f.id"
    )
    findings = Finding.raw(published).run_sync()
    by_product: dict[int, int] = {}
    for row in findings:
        by_product[row["product"]] = by_product.get(row["product"], 0) + 1
    products = sorted(by_product, key=lambda product: (-by_product[product], product))
    own_district = one(
        "SELECT m.organization FROM membership m JOIN account a ON a.id = m.user "
        "WHERE a.email = {} ORDER BY m.id LIMIT 1",
        COORDINATOR_EMAIL,
    )
    return {
        "finding": findings[0]["id"],
        "other_finding": findings[len(findings) // 2]["id"],
        "product": products[0],
        "other_product": products[1],
        "pilot": one("SELECT pilot FROM finding WHERE id = {}", findings[0]["id"]),
        "district": own_district,
        "own_district": own_district,
        "own_pilot": one(
            "SELECT pr.pilot FROM pilot_role pr JOIN account a ON a.id = pr.user "
            "JOIN pilot p ON p.id = pr.pilot WHERE a.email = {} AND p.status = 'active' "
            "ORDER BY pr.pilot LIMIT 1",
            RESEARCHER_EMAIL,
        ),
        "open_pilot": one(
            "SELECT p.id FROM pilot p JOIN product d ON d.id = p.product "
            "JOIN membership m ON m.organization = d.vendor JOIN account a ON a.id = m.user "
            "WHERE a.email = {} AND p.status = 'open' ORDER BY p.id LIMIT 1",
            FOUNDER_EMAIL,
        ),
    }


def _sign_in(client, role: str) -> None:
    from testbed.demo.generate import (
        COORDINATOR_EMAIL,
        DEMO_PASSWORD,
        FOUNDER_EMAIL,
        NETWORK_ADMIN_EMAIL,
        RESEARCHER_EMAIL,
    )

    email = {
        "vendor": FOUNDER_EMAIL,
        "district": COORDINATOR_EMAIL,
        "researcher": RESEARCHER_EMAIL,
        "admin": NETWORK_ADMIN_EMAIL,
    }[role]
    client.cookies.clear()
    client.get("/login")
    csrf = client.cookies["csrftoken"]
    response = client.post(
        "/login",
        data={
            "email": email,
            "password": DEMO_PASSWORD,
            "_csrf_token": csrf,
        },
        follow_redirects=False,
    )
    assert response.status_code in (302, 303), response.text[:300]


def _time(client, path: str, repeats: int) -> tuple[list[float], int]:
    times = []
    size = 0
    for index in range(repeats + 2):
        start = time.perf_counter()
        response = client.get(path)
        elapsed = (time.perf_counter() - start) * 1000
        if response.status_code != 200:
            raise SystemExit(f"{path}: {response.status_code} {response.text[:300]}")
        size = len(response.content)
        if index >= 2:
            times.append(elapsed)
    return times, size


def _bare_median(repeats: int) -> float:
    from litestar.testing import TestClient

    sys.path.insert(0, str(ROOT / "bench"))
    from bare_app import app

    with TestClient(app) as client:
        times, _ = _time(client, "/", max(repeats, 30))
    return statistics.median(times)


def child_pages(repeats: int, kinds: list[str], roles: list[str]) -> dict:
    from litestar.testing import TestClient

    from testbed.app import create_app

    uptime = _uptime()
    ids = _ids()
    rows = []
    with TestClient(create_app()) as client:
        for role in roles:
            if role == "anonymous":
                client.cookies.clear()
            else:
                _sign_in(client, role)
            for kind, template, askers in PAGES:
                if role not in askers or (kinds and kind not in kinds):
                    continue
                times, size = _time(client, template.format(**ids), repeats)
                rows.append({"kind": kind, "role": role, "times": times, "bytes": size})
    return {"uptime": uptime, "ids": ids, "rows": rows, "bare": _bare_median(repeats)}


def child_first_view(kind: str, repeats: int) -> dict:
    from litestar.testing import TestClient

    from testbed.app import create_app

    uptime = _uptime()
    ids = _ids()
    _, template, other = next(view for view in FIRST_VIEWS if view[0] == kind)
    with TestClient(create_app()) as client:
        client.get(other.format(**ids))  # the process has served a page of this kind
        start = time.perf_counter()
        response = client.get(template.format(**ids))
        first = (time.perf_counter() - start) * 1000
        assert response.status_code == 200
        warm, _ = _time(client, template.format(**ids), repeats)
    return {"uptime": uptime, "first": first, "warm": statistics.median(warm)}


# --- the parent ------------------------------------------------------------------------------


def _run_child(env: dict[str, str], *arguments: str) -> dict:
    result = subprocess.run(
        [sys.executable, __file__, *arguments],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    if result.returncode != 0:
        raise SystemExit(
            f"child {arguments} failed:\n{result.stdout[-2000:]}{result.stderr[-4000:]}"
        )
    return json.loads(result.stdout.strip().splitlines()[-1])


def _load(env: dict[str, str], scale: int) -> None:
    started = time.perf_counter()
    result = subprocess.run(
        [str(ROOT / ".venv/bin/testbed"), "demo", "--scale", str(scale)],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    if result.returncode != 0:
        raise SystemExit(result.stderr[-3000:])
    said = result.stdout.strip().splitlines()[-1]
    print(f"  demo: {said[:110]}… ({time.perf_counter() - started:.0f} s)")
    # Drawn once per database, as a first start would in the background: not during the run.
    started = time.perf_counter()
    result = subprocess.run(
        [str(ROOT / ".venv/bin/testbed"), "draw-plots"], env=env, cwd=ROOT, capture_output=True
    )
    if result.returncode != 0:
        raise SystemExit(result.stderr[-3000:])
    print(f"  {result.stdout.decode().strip()} ({time.perf_counter() - started:.0f} s)")


def _percentile(times: list[float], share: float) -> float:
    ordered = sorted(times)
    return ordered[round(share * (len(ordered) - 1))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scales", type=int, nargs="+", default=[10, 100])
    parser.add_argument("--backends", nargs="+", default=["sqlite", "postgresql"])
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--first-view-runs", type=int, default=3)
    parser.add_argument("--sqlite-dir", default="/work/scale-data/s{scale}")
    parser.add_argument(
        "--postgres", default="postgresql://postgres@127.0.0.1:5432/testbed_s{scale}"
    )
    parser.add_argument("--kinds", nargs="*", default=[], help="only these page kinds")
    parser.add_argument("--roles", nargs="*", default=list(ROLES), choices=ROLES)
    parser.add_argument("--child", choices=["pages", "first-view"])
    parser.add_argument("--kind")
    args = parser.parse_args()
    if args.child:
        sys.path.insert(0, str(ROOT))
        if args.child == "pages":
            print(json.dumps(child_pages(args.repeats, args.kinds, args.roles)))
        else:
            print(json.dumps(child_first_view(args.kind, args.repeats)))
        return

    for backend in args.backends:
        results = {}
        for scale in args.scales:
            env = _environment(backend, scale, args)
            print(f"{backend}, scale {scale}: {_uptime()}")
            _load(env, scale)
            pages = _run_child(
                env,
                *("--child", "pages", "--repeats", str(args.repeats)),
                *("--kinds", *args.kinds, "--roles", *args.roles),
            )
            firsts = {
                kind: [
                    _run_child(
                        env, "--child", "first-view", "--kind", kind, "--repeats", str(args.repeats)
                    )
                    for _ in range(args.first_view_runs)
                ]
                for kind, _, _ in FIRST_VIEWS
            }
            results[scale] = (pages, firsts)
            print(f"  pages measured from: {pages['uptime']}")
            print(f"  bare handler: {pages['bare']:.2f} ms")
        low, high = args.scales[0], args.scales[-1]
        print(f"\n{backend}: median / p95 ms, bytes, growth {low} -> {high} (median)")
        print(
            f"| page | role | {low} median | {low} p95 | {high} median | {high} p95 | "
            f"× bare ({high}) | KB {low} / {high} | growth |"
        )
        print("|---|---|---:|---:|---:|---:|---:|---|---:|")
        bare = results[high][0]["bare"]
        worst = []
        for before, after in zip(results[low][0]["rows"], results[high][0]["rows"], strict=True):
            m_low, m_high = statistics.median(before["times"]), statistics.median(after["times"])
            p_low, p_high = _percentile(before["times"], 0.95), _percentile(after["times"], 0.95)
            growth = m_high / m_low
            flag = " **" if m_high > 300 or p_high > 500 else ""
            print(
                f"| {after['kind']} | {after['role']} | {m_low:.1f} | {p_low:.1f} | "
                f"{m_high:.1f}{flag} | {p_high:.1f} | {m_high / bare:.0f} | "
                f"{before['bytes'] / 1000:.1f} / {after['bytes'] / 1000:.1f} | {growth:.2f} |"
            )
            worst.append((m_high, p_high, growth, after["kind"], after["role"]))
        print(
            f"slowest median at {high}: {max(worst)[0]:.1f} ms ({max(worst)[3]}, {max(worst)[4]});"
            f" worst p95: {max(w[1] for w in worst):.1f} ms;"
            f" largest growth: {max(w[2] for w in worst):.2f}"
        )
        print(f"\n{backend}: first view after a restart (median of runs) vs warm")
        print("| page | scale | first ms | warm ms | first / warm | load average at start |")
        print("|---|---:|---:|---:|---:|---|")
        for scale in args.scales:
            for kind, runs in results[scale][1].items():
                first = statistics.median(run["first"] for run in runs)
                warm = statistics.median(run["warm"] for run in runs)
                load = runs[0]["uptime"].split("load average:")[-1].strip()
                print(
                    f"| {kind} | {scale} | {first:.1f} | {warm:.1f} | {first / warm:.1f} | {load} |"
                )


if __name__ == "__main__":
    main()
