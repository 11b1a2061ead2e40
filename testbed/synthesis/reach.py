"""Students reached by the network's pilots, per (pilot, site), kept per worker until it changes.

Counting them means reading every pilot's registered design, current uploads and
randomizations (`uploads.services.network_students_reached`): about a second at demo scale 100,
too much for the home page and the dashboard on every request. What the count depends on only
changes when a dataset is uploaded or superseded, a design version is registered, or a site is
randomized; each of those adds or flags rows, never edits counted rows in place (an upload is a
new Dataset that supersedes the old; student rows and totals are written with their dataset;
randomizations are not redrawn). So a one-statement fingerprint of those tables — counts, the
last ids and the last times — tells whether the kept answer still holds, and the answer is
recomputed on the first request after a change.
"""

from __future__ import annotations

from typing import Any

from testbed.tables import Dataset
from testbed.uploads.services import network_students_reached

# Counts catch a row flagged or removed, last ids and times a row added (times also tell one
# database from another that reused the same ids, e.g. after a reset). Each part reads an index
# or the last row by id, never a whole table (randomization rows hold every student's arm):
# the times in the WHERE and MAX parts are indexed.
FINGERPRINT_PARTS = (
    "(SELECT COUNT(*) FROM dataset WHERE is_current)",
    "(SELECT MAX(id) FROM dataset)",
    "(SELECT uploaded_at FROM dataset ORDER BY id DESC LIMIT 1)",
    "(SELECT COUNT(*) FROM design_version WHERE registered_at IS NOT NULL)",
    "(SELECT MAX(id) FROM design_version)",
    "(SELECT MAX(registered_at) FROM design_version)",
    "(SELECT COUNT(*) FROM assignment)",
    "(SELECT MAX(id) FROM assignment)",
    "(SELECT created_at FROM assignment ORDER BY id DESC LIMIT 1)",
)


def fingerprint_sql(parts: tuple[str, ...]) -> str:
    return "SELECT " + ", ".join(f"{part} AS part_{index}" for index, part in enumerate(parts))


async def fingerprint(parts: tuple[str, ...] = FINGERPRINT_PARTS) -> tuple[str, ...]:
    (row,) = await Dataset.raw(fingerprint_sql(parts))
    # Text on both databases: SQLite returns aggregated times as text, asyncpg as datetimes.
    return tuple(str(value) for value in row.values())


_kept: dict[str, Any] = {}


async def students_reached() -> dict[tuple[int, int], int]:
    """(pilot, site) -> students reached, over every current upload of the network. Shared
    between requests: read, never change."""
    current = await fingerprint()
    if _kept.get("fingerprint") != current:
        _kept["reached"] = await network_students_reached()
        _kept["fingerprint"] = current
    return _kept["reached"]
