"""Benchmark: importing a 1,000,000-row outcome file, against the minimal pipeline.

Each stage runs in a fresh Python process, so its peak memory (ru_maxrss) is its own:

- minimal SQLite: `csv.reader` over the file and `sqlite3.executemany` of its rows into a
  table with the same columns, committed;
- Testbed SQLite: the upload pipeline (read, decode, check every cell, pseudonymize every key,
  store Dataset + Observations in one transaction through `testbed.bulk.bulk_insert`) into a
  fresh, migrated data directory;
- minimal PostgreSQL: `csv.reader` and asyncpg's `copy_records_to_table` into a fresh table;
- Testbed PostgreSQL: the same pipeline with DATABASE_URL set (a fresh database).

Run: `.venv/bin/python bench/bench_import.py` (options: --rows, --postgres URL of a server
where databases may be created, --no-postgres, --no-sqlite). Results: bench/README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import os
import resource
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
COLUMNS = (
    "student_key",
    "arm",
    "cluster",
    "frl",
    "el",
    "swd",
    "baseline",
    "math_scale_score",
    "met_benchmark",
    "dosage",
)
DESIGN = {
    "design_type": "cluster_rct",
    "unit_of_assignment": "classroom",
    "arms": ["treatment", "control"],
    "outcomes": [
        {
            "name": "math_scale_score",
            "label": "Spring math",
            "kind": "continuous",
            "primary": True,
            "min": 100,
            "max": 300,
        },
        {
            "name": "met_benchmark",
            "label": "Met the benchmark",
            "kind": "binary",
            "primary": False,
            "min": 0,
            "max": 1,
        },
    ],
    "baseline_measure": "fall_math_scale_score",
}


def write_csv(path: Path, rows: int, seed: int = 2026) -> None:
    """A demo-like file: 25 students a classroom, 8 % missing outcomes, dosage when treated."""
    rng = np.random.default_rng(seed)
    room = np.arange(rows) // 25
    treated = (room % 2).astype(bool)
    baseline = np.round(rng.normal(200, 20, rows), 1)
    score = 30 + 0.85 * baseline + 4 * treated + rng.normal(0, 12, rows)
    score = np.clip(np.round(score, 1), 100, 300)
    missing = rng.random(rows) < 0.08
    flags = rng.random((rows, 3)) < (0.45, 0.12, 0.13)
    dosage = np.maximum(0, np.round(rng.normal(400, 120, rows)))
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(COLUMNS)
        for i in range(rows):
            writer.writerow(
                (
                    f"S{i:08d}",
                    "treatment" if treated[i] else "control",
                    f"room-{room[i]:05d}",
                    *("yes" if flag else "no" for flag in flags[i]),
                    baseline[i],
                    "" if missing[i] else score[i],
                    "" if missing[i] else int(score[i] >= 200),
                    dosage[i] if treated[i] else "",
                )
            )


def _peak_megabytes() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def stage_minimal_sqlite(csv_path: Path, workdir: Path) -> dict:
    database = workdir / "minimal.sqlite"
    start, cpu = time.perf_counter(), _cpu_seconds()
    connection = sqlite3.connect(database)
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute(f"CREATE TABLE upload ({', '.join(COLUMNS)})")
    with csv_path.open(newline="", encoding="utf-8") as handle:
        reader = csv.reader(handle)
        next(reader)
        placeholders = ", ".join("?" for _ in COLUMNS)
        connection.executemany(f"INSERT INTO upload VALUES ({placeholders})", reader)  # noqa: S608
    connection.commit()
    rows = connection.execute("SELECT COUNT(*) FROM upload").fetchone()[0]
    connection.close()
    return {"seconds": time.perf_counter() - start, "cpu": _cpu_seconds() - cpu, "rows": rows}


async def _minimal_postgres(csv_path: Path, url: str) -> dict:
    import asyncpg

    start, cpu = time.perf_counter(), _cpu_seconds()
    connection = await asyncpg.connect(url)
    await connection.execute(f"CREATE TABLE upload ({', '.join(f'{c} text' for c in COLUMNS)})")
    with csv_path.open(newline="", encoding="utf-8") as handle:
        reader = csv.reader(handle)
        next(reader)
        await connection.copy_records_to_table("upload", records=reader, columns=list(COLUMNS))
    rows = await connection.fetchval("SELECT COUNT(*) FROM upload")
    await connection.close()
    return {"seconds": time.perf_counter() - start, "cpu": _cpu_seconds() - cpu, "rows": rows}


async def _seed() -> tuple:
    """A pilot with a registered design, its site and an uploader; returns the request parts."""
    from datetime import UTC, datetime

    from testbed.access import PilotAccess
    from testbed.auth import load_principal
    from testbed.migrate import apply_migrations
    from testbed.tables import (
        DesignVersion,
        Enrollment,
        Membership,
        Organization,
        Pilot,
        Product,
        User,
    )

    await apply_migrations()
    site = (
        await Organization.insert(Organization(kind="district", name="D", slug="d", verified=True))
    )[0]["id"]
    vendor = (
        await Organization.insert(Organization(kind="vendor", name="V", slug="v", verified=True))
    )[0]["id"]
    no_password = "-"  # noqa: S105 (the uploader never signs in)
    user = (await User.insert(User(email="u@d.example", name="U", password_hash=no_password)))[0][
        "id"
    ]
    await Membership.insert(Membership(user=user, organization=site))
    product = (
        await Product.insert(
            Product(
                vendor=vendor,
                name="P",
                description="",
                grade_bands=[],
                subjects=[],
                pillars=[],
                platforms=[],
            )
        )
    )[0]["id"]
    pilot = (
        await Pilot.insert(
            Pilot(
                product=product,
                title="T",
                research_question="?",
                grades=[],
                subjects=[],
                pillars=[],
                sites_wanted=1,
                students_per_site=1,
                weeks=1,
                status="active",
            )
        )
    )[0]["id"]
    await Enrollment.insert(
        Enrollment(pilot=pilot, district=site, status="site", capacity_students=1, grades=[])
    )
    await DesignVersion.insert(
        DesignVersion(pilot=pilot, version=1, document=DESIGN, registered_at=datetime.now(UTC))
    )
    access = PilotAccess(
        pilot_id=pilot, status="active", vendor_id=vendor, site_district_ids=frozenset({site})
    )
    return await load_principal(user), access, site


async def _testbed_import(csv_path: Path) -> dict:
    from testbed.settings import Settings
    from testbed.tables import Observation
    from testbed.uploads import services
    from testbed.uploads.pseudonymize import pilot_key, pseudonymizer
    from testbed.uploads.validation import validate_students

    settings = Settings.from_env()
    principal, access, site = await _seed()
    start, cpu = time.perf_counter(), _cpu_seconds()
    data = csv_path.read_bytes()
    rules = await services.upload_rules(access.pilot_id, site, len(data) + 1)
    request = services.UploadRequest(principal, access, site, "students", csv_path.name, data)
    students = validate_students(
        data, rules, pseudonymizer(pilot_key(settings.secret_key, access.pilot_id))
    )
    checked = time.perf_counter()
    await services.import_students(request, students)
    seconds = time.perf_counter() - start
    rows = await Observation.count()
    return {
        "seconds": seconds,
        "cpu": _cpu_seconds() - cpu,
        "rows": rows,
        "validation_seconds": checked - start,
        "storage_seconds": seconds - (checked - start),
    }


def run_stage(stage: str, csv_path: Path, workdir: Path, url: str | None) -> dict:
    if stage == "minimal_sqlite":
        result = stage_minimal_sqlite(csv_path, workdir)
    elif stage == "minimal_postgres":
        result = asyncio.run(_minimal_postgres(csv_path, url))
    else:
        result = asyncio.run(_testbed_import(csv_path))
    return {**result, "peak_mb": _peak_megabytes()}


def _in_subprocess(stage: str, csv_path: Path, workdir: Path, env: dict) -> dict:
    output = subprocess.run(
        [
            sys.executable,
            __file__,
            "--stage",
            stage,
            "--csv",
            str(csv_path),
            "--workdir",
            str(workdir),
        ],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(output.stdout.strip().splitlines()[-1])


def _fresh_postgres_database(url: str, name: str) -> str:
    import asyncpg

    async def create() -> None:
        connection = await asyncpg.connect(url)
        await connection.execute(f"DROP DATABASE IF EXISTS {name}")
        await connection.execute(f"CREATE DATABASE {name}")
        await connection.close()

    asyncio.run(create())
    return url.rsplit("/", 1)[0] + f"/{name}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--no-postgres", action="store_true")
    parser.add_argument("--no-sqlite", action="store_true")
    parser.add_argument("--stage")
    parser.add_argument("--csv")
    parser.add_argument("--workdir")
    args = parser.parse_args()
    if args.stage:
        result = run_stage(
            args.stage, Path(args.csv), Path(args.workdir), os.environ.get("BENCH_PG")
        )
        print(json.dumps(result))
        return

    workdir = Path(tempfile.mkdtemp(prefix="bench-import-"))
    csv_path = workdir / "outcomes.csv"
    write_csv(csv_path, args.rows)
    print(
        f"{args.rows:,} rows, {csv_path.stat().st_size / 1e6:.1f} MB; load average "
        f"{os.getloadavg()[0]:.2f}"
    )
    base_env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    base_env["TESTBED_SECRET_KEY"] = "bench-secret"  # noqa: S105 (a throwaway data directory)
    base_env["PICCOLO_CONF"] = "testbed.piccolo_conf"
    base_env["PYTHONPATH"] = str(ROOT)

    runs = []
    if not args.no_sqlite:
        runs += [
            ("SQLite", "minimal_sqlite", {**base_env, "TESTBED_DATA_DIR": str(workdir / "m")}),
            ("SQLite", "testbed", {**base_env, "TESTBED_DATA_DIR": str(workdir / "t")}),
        ]
    if not args.no_postgres:
        minimal_url = _fresh_postgres_database(args.postgres, "bench_import_minimal")
        testbed_url = _fresh_postgres_database(args.postgres, "bench_import_testbed")
        runs += [
            ("PostgreSQL", "minimal_postgres", {**base_env, "BENCH_PG": minimal_url}),
            (
                "PostgreSQL",
                "testbed",
                {**base_env, "DATABASE_URL": testbed_url, "TESTBED_DATA_DIR": str(workdir / "p")},
            ),
        ]
    results: dict[tuple[str, str], dict] = {}
    for backend, stage, env in runs:
        results[backend, stage] = result = _in_subprocess(stage, csv_path, workdir, env)
        assert result["rows"] == args.rows, result
        extra = (
            f", checking {result['validation_seconds']:.2f} s + storing "
            f"{result['storage_seconds']:.2f} s"
            if stage == "testbed"
            else ""
        )
        print(
            f"{backend:10} {stage:17} {result['seconds']:6.2f} s wall, {result['cpu']:6.2f} s "
            f"CPU, peak {result['peak_mb']:6.0f} MB{extra}"
        )
    for backend, minimal in (("SQLite", "minimal_sqlite"), ("PostgreSQL", "minimal_postgres")):
        if (backend, minimal) in results:
            ours, bare = results[backend, "testbed"], results[backend, minimal]
            print(
                f"{backend}: Testbed / minimal = {ours['seconds'] / bare['seconds']:.2f}x wall, "
                f"{ours['cpu'] / bare['cpu']:.2f}x CPU"
            )


if __name__ == "__main__":
    main()
