"""Benchmark: what each part of the observation table costs PostgreSQL's COPY.

The same 1,000,000 records (shaped like an imported outcome file's: a 64-character key, a
cluster, an arm, three flags, two numbers and the outcomes as JSON text, 8 % of outcomes null)
are copied with asyncpg's `copy_records_to_table`, 50,000 rows per COPY inside one
transaction as the import does, into a fresh table per variant, each adding one thing:

1. ten text columns, no key (the minimal COPY the import benchmark compares with);
2. the Observation columns with their types, outcomes as text;
3. outcomes as `json` (the server parses every document);
4. an `id serial` primary key (a sequence value and a unique index entry per row);
5. the index on `dataset`;
6. the foreign key to `dataset` as PostgreSQL checks it, row by row (the schema until
   migration 2026-12-07T19:30);
7. instead, the per-statement check of that migration (what Observation has now).

The records are built before the clock starts, so the figures are the server's work plus
asyncpg's encoding. Each variant runs `--repeats` times, interleaved; the median is shown with
its ratio to the first variant's median.

Run: `.venv/bin/python bench/bench_import_costs.py` (options `--rows`, `--repeats`, `--postgres`
URL of a server where the database `bench_import_costs` may be created).
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import importlib.util
import os
import statistics
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
CHUNK_ROWS = 50_000
COLUMNS = [
    "dataset",
    "student_key",
    "cluster",
    "arm",
    "frl",
    "el",
    "swd",
    "baseline",
    "dosage",
    "outcomes",
]
TYPED = (
    "dataset integer, student_key varchar(64) NOT NULL DEFAULT '', "
    "cluster varchar(64) NOT NULL DEFAULT '', arm varchar(32) NOT NULL DEFAULT '', "
    "frl boolean, el boolean, swd boolean, gender varchar(16) NOT NULL DEFAULT '', "
    "race_ethnicity varchar(32) NOT NULL DEFAULT '', baseline double precision, "
    "dosage double precision"
)
# Each variant's statements; {t} is its table.
TEXT = ["CREATE TABLE {t} (" + ", ".join(f"{c} text" for c in COLUMNS) + ")"]
TYPED_TEXT = [f"CREATE TABLE {{t}} ({TYPED}, outcomes text NOT NULL)"]
TYPED_JSON = [f"CREATE TABLE {{t}} ({TYPED}, outcomes json NOT NULL)"]
KEYED = [f"CREATE TABLE {{t}} (id serial PRIMARY KEY, {TYPED}, outcomes json NOT NULL)"]
INDEXED = [*KEYED, "CREATE INDEX {t}_dataset ON {t} (dataset)"]
FOREIGN_KEY = [
    *INDEXED,
    "ALTER TABLE {t} ADD FOREIGN KEY (dataset) REFERENCES dataset(id) "
    "ON UPDATE CASCADE ON DELETE CASCADE",
]


def _per_statement_check() -> list[str]:
    """The migration's trigger, pointed at the variant's table."""
    path = ROOT / "migrations" / "testbed_2026_12_07t19_30_00_000000.py"
    spec = importlib.util.spec_from_file_location("per_statement_check", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    function, trigger = module.FORWARDS[1], module.FORWARDS[2]
    # Braces in the SQL stay themselves under str.format.
    function, trigger = (text.replace("{", "{{").replace("}", "}}") for text in (function, trigger))
    return [
        function.replace("observation_datasets_exist", "{t}_datasets_exist"),
        trigger.replace("observation_datasets_exist", "{t}_datasets_exist")
        .replace("observation_dataset_on_insert", "{t}_on_insert")
        .replace("ON observation", "ON {t}"),
    ]


VARIANTS = {
    "1. text columns (minimal COPY)": TEXT,
    "2. typed columns, outcomes as text": TYPED_TEXT,
    "3. + outcomes as json": TYPED_JSON,
    "4. + id serial primary key": KEYED,
    "5. + index on dataset": INDEXED,
    "6. + foreign key, checked per row (before)": FOREIGN_KEY,
    "7. + per-statement check instead (now)": [*INDEXED, *_per_statement_check()],
}


def records(rows: int) -> list[tuple]:
    rng = np.random.default_rng(2026)
    baseline = np.round(rng.normal(200, 20, rows), 1).tolist()
    score = np.round(np.array(baseline) * 0.85 + 30 + rng.normal(0, 12, rows), 1).tolist()
    missing = (rng.random(rows) < 0.08).tolist()
    flags = (rng.random((rows, 3)) < (0.45, 0.12, 0.13)).tolist()
    dosage = np.maximum(0, np.round(rng.normal(400, 120, rows))).tolist()
    result = []
    for i in range(rows):
        treated = (i // 25) % 2 == 1
        outcomes = (
            '{"math_scale_score": null, "met_benchmark": null}'
            if missing[i]
            else f'{{"math_scale_score": {score[i]!r}, "met_benchmark": {int(score[i] >= 200)}}}'
        )
        result.append(
            (
                1,
                hashlib.blake2b(f"S{i:08d}".encode(), digest_size=32).hexdigest(),
                f"room-{i // 25:05d}",
                "treatment" if treated else "control",
                *flags[i],
                baseline[i],
                dosage[i] if treated else None,
                outcomes,
            )
        )
    return result


async def copy_into(connection, table: str, rows: list[tuple]) -> float:
    started = time.perf_counter()
    async with connection.transaction():
        for start in range(0, len(rows), CHUNK_ROWS):
            await connection.copy_records_to_table(
                table, records=rows[start : start + CHUNK_ROWS], columns=COLUMNS
            )
    return time.perf_counter() - started


async def main() -> None:
    import asyncpg

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432/postgres")
    args = parser.parse_args()

    typed_rows = records(args.rows)
    text_rows = [tuple(None if v is None else str(v) for v in row) for row in typed_rows]
    admin = await asyncpg.connect(args.postgres)
    await admin.execute("DROP DATABASE IF EXISTS bench_import_costs")
    await admin.execute("CREATE DATABASE bench_import_costs")
    await admin.close()
    connection = await asyncpg.connect(args.postgres.rsplit("/", 1)[0] + "/bench_import_costs")
    await connection.execute("CREATE TABLE dataset (id serial PRIMARY KEY)")
    await connection.execute("INSERT INTO dataset DEFAULT VALUES")
    print(f"{args.rows:,} rows; load average at the start {os.getloadavg()[0]:.2f}")
    seconds: dict[str, list[float]] = {name: [] for name in VARIANTS}
    for repeat in range(args.repeats):
        for number, (name, statements) in enumerate(VARIANTS.items()):
            table = f"t{repeat}_{number}"  # a new name: asyncpg caches a table's column types
            for statement in statements:
                await connection.execute(statement.format(t=table))
            await connection.execute("CHECKPOINT")
            rows = text_rows if number == 0 else typed_rows
            seconds[name].append(await copy_into(connection, table, rows))
            await connection.execute(f"DROP TABLE {table} CASCADE")
    await connection.close()
    print(f"load average at the end {os.getloadavg()[0]:.2f}")
    print()
    print("| table | median s | runs s | × minimal |")
    print("|---|---:|---|---:|")
    baseline = statistics.median(seconds[next(iter(VARIANTS))])
    for name, runs in seconds.items():
        median = statistics.median(runs)
        listed = ", ".join(f"{s:.2f}" for s in runs)
        print(f"| {name} | {median:.2f} | {listed} | {median / baseline:.2f} |")


if __name__ == "__main__":
    asyncio.run(main())
