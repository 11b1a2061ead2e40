"""Plots drawn once and kept in the database, so no reader waits for matplotlib.

A finding's plots take a few tenths of a second to draw, a 200-pilot forest plot more than a
second. They are drawn when a finding is computed, published or retracted (its own plots for
each audience, and its product's evidence forest plot) and, for what was not drawn yet (the
demo's findings, findings from before this module), by a warm-up when a worker starts. They
are stored by key (`testbed.findings.plots.Drawn.key`: the SHA-256 of the drawing code and the
numbers), and a page reads them (`testbed.findings.plot_store.load`) before it renders, so a
restarted worker serves the stored drawing instead of drawing it again. A drawing under a key
never goes out of date; when a finding's numbers or the drawing code change, the new key is
drawn.

The plots are drawn from disclosed numbers only (testbed.findings.disclosure): what is stored
is exactly what the audience it was drawn for may see, and a key names the numbers it shows.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from testbed.findings import plot_store
from testbed.findings.plots import DRAWING_CODE
from testbed.findings.services import shown_to
from testbed.synthesis import services as synthesis
from testbed.synthesis.plots import forest
from testbed.tables import Finding

logger = logging.getLogger("testbed.drawings")

FINDING_SQL = """
SELECT f.id, f.results, f.published_at, f.retracted_at, p.product, product.name AS product_name
FROM finding f JOIN pilot p ON p.id = f.pilot JOIN product ON product.id = p.product
WHERE f.id = {}
"""
# A subject is drawn by this code when a drawing of it carries this code's version: after a
# change of the drawing code, everything is drawn again.
VERSION = DRAWING_CODE[:12]
NOT_DRAWN_SQL = """
SELECT f.id FROM finding f
WHERE f.published_at IS NOT NULL
  AND NOT EXISTS (
    SELECT 1 FROM drawing d WHERE d.subject = 'finding:' || CAST(f.id AS VARCHAR(20)) || {}
  )
ORDER BY f.id
"""
EVIDENCE_NOT_DRAWN_SQL = """
SELECT DISTINCT p.product FROM finding f JOIN pilot p ON p.id = f.pilot
WHERE f.published_at IS NOT NULL
  AND NOT EXISTS (
    SELECT 1 FROM drawing d WHERE d.subject = 'product:' || CAST(p.product AS VARCHAR(20)) || {}
  )
ORDER BY p.product
"""


async def _draw(subject: str, keys: list[str], draw: Callable[[], object]) -> None:
    """Read what is stored, draw what is not (in memory), store that."""
    await plot_store.load(keys)
    draw()
    await plot_store.store(subject, keys)
    await plot_store.mark_drawn(subject)


async def draw_finding(finding_id: int, *, sites_too: bool = True) -> None:
    """Draw and keep a finding's plots for the public and (`sites_too`) for each site district,
    which sees its own small cells; then its product's evidence forest plot."""
    rows = await Finding.raw(FINDING_SQL, finding_id)
    if not rows:
        return
    finding = rows[0]
    shown = shown_to(finding, frozenset(), finding["product_name"])
    audiences = [shown] + [
        shown_to(finding, frozenset({site}), finding["product_name"])
        for site in (shown.sites if sites_too else [])
    ]
    for each in audiences:
        await _draw(f"finding:{finding_id}@{VERSION}", each.plot_keys, lambda each=each: each.plots)
    await draw_evidence(finding["product"])


async def draw_evidence(product_id: int) -> None:
    evidence = await synthesis.product_evidence(product_id)
    arguments = synthesis.forest_arguments(evidence)
    await _draw(
        f"product:{product_id}@{VERSION}", [forest.key(*arguments)], lambda: forest(*arguments)
    )


async def after_change(finding_id: int, *, sites_too: bool = True) -> None:
    """Called when a finding was computed, published or retracted. A drawing that fails is
    logged, not raised: the change is made, and a reader would draw the plot on demand."""
    try:
        await draw_finding(finding_id, sites_too=sites_too)
    except Exception:
        logger.exception("Drawing the plots of finding %s failed", finding_id)


async def warm_up() -> int:
    """Draw and keep what the public's view of published findings and the evidence pages need
    and nobody drew yet; returns how many subjects it drew. Yields to requests between
    subjects. (A site district's own view of a finding, drawn when the finding was computed or
    published through the service, is not redrawn here: it is drawn on its first view.)"""
    drawn = 0
    for row in await Finding.raw(NOT_DRAWN_SQL, f"@{VERSION}"):
        await after_change(row["id"], sites_too=False)
        drawn += 1
        await asyncio.sleep(0)
    for row in await Finding.raw(EVIDENCE_NOT_DRAWN_SQL, f"@{VERSION}"):
        try:
            await draw_evidence(row["product"])
        except Exception:
            logger.exception("Drawing the evidence of product %s failed", row["product"])
        drawn += 1
        await asyncio.sleep(0)
    return drawn
