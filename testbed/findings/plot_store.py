"""Drawings kept in the database (table Drawing), read into and stored from this worker's
memory of drawings (testbed.findings.plots). What is drawn when: testbed.drawings."""

from __future__ import annotations

import datetime
import hashlib
from collections.abc import Iterable

from testbed.findings import plots
from testbed.tables import Drawing

INSERT_SQL = """
INSERT INTO drawing (key, subject, svg, drawn_at) VALUES ({}, {}, {}, {})
ON CONFLICT (key) DO NOTHING
"""


async def load(keys: Iterable[str]) -> None:
    """Bring the stored drawings among these keys into this worker's memory (one query, none
    when every one is there already)."""
    missing = sorted({key for key in keys if not plots.in_memory(key)})
    if not missing:
        return
    rows = await Drawing.select(Drawing.key, Drawing.svg).where(Drawing.key.is_in(missing))
    for row in rows:
        plots.remember(row["key"], row["svg"] or None)


async def store(subject: str, keys: Iterable[str]) -> None:
    """Keep the drawings of these keys (drawn in this worker) in the database."""
    now = datetime.datetime.now(datetime.UTC)
    for key in keys:
        if plots.in_memory(key):
            await Drawing.raw(INSERT_SQL, key, subject, plots.recalled(key) or "", now)


async def mark_drawn(subject: str) -> None:
    """Record that everything `subject` shows is stored. Its drawings may be rows of other
    subjects (a drawing is stored once, under its key: two products with nothing to pool show
    the same empty plot), so the subject gets a row of its own, keyed on its name."""
    key = hashlib.sha256(f"subject\n{subject}".encode()).hexdigest()
    await Drawing.raw(INSERT_SQL, key, subject, "", datetime.datetime.now(datetime.UTC))
