"""The researchers' export of the network's published findings: one row per pilot × outcome,
as a JSON API, a CSV and a JSON download (columns in EXPORT_DICTIONARY, also in docs/synthesis.md
and on /network/data-dictionary).

It pages by keyset, not by offset: a page is the next `limit` pilots (by id) after the cursor,
each with the outcomes of its latest published finding, so asking for page 500 costs what page 1
costs and a finding published meanwhile neither repeats nor skips a row. The full downloads go
through the same pages and are streamed, so memory stays flat however many findings there are.
Each finding's rows are worked out once per worker: published results never change (a finding
is frozen when computed), and they are disclosed for the public, as on every public page.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import AsyncIterator
from typing import Any

from testbed.errors import TestbedError
from testbed.findings import disclosure
from testbed.findings.services import neutralize
from testbed.tables import Finding

DEFAULT_LIMIT = 100
MAX_LIMIT = 500
DOWNLOAD_BATCH = 200

# The data dictionary of the export (also in docs/synthesis.md and on /network/data-dictionary).
EXPORT_DICTIONARY = (
    ("pilot_id", "integer", "The pilot's id (its page is /pilots/{pilot_id})."),
    ("finding_id", "integer", "The published finding's id (/findings/{finding_id})."),
    ("pilot_title", "text", "The pilot's title."),
    ("product", "text", "The product piloted."),
    ("vendor", "text", "The vendor of the product."),
    ("outcome", "text", "The outcome's code in the registered design."),
    ("outcome_label", "text", "The outcome's name in words."),
    ("kind", "text", "continuous, binary or count."),
    ("primary", "true/false", "Whether this is the pilot's registered primary outcome."),
    ("direction", "text", "higher_is_better or lower_is_better (e.g. days absent)."),
    (
        "effect_size",
        "number",
        "Hedges' g (continuous and count outcomes) or the Cox index (binary), in standard "
        "deviations, treatment minus comparison, as measured (not flipped for direction); the "
        "ANCOVA-adjusted or cluster-corrected estimate when the design called for it.",
    ),
    ("ci_low", "number", "Lower end of the effect size's 95 % confidence interval."),
    ("ci_high", "number", "Upper end of the effect size's 95 % confidence interval."),
    ("se", "number", "Standard error of the effect size."),
    (
        "n_treatment",
        "integer",
        "Students analyzed in the group that used the product; empty when fewer than 10 "
        "(or hidden so that a small group cannot be worked out).",
    ),
    ("n_control", "integer", "Students analyzed in the comparison group; empty as above."),
    ("p", "number", "Two-sided p-value of the effect (unadjusted for multiple outcomes)."),
    ("design_type", "text", "rct, cluster_rct, quasi_experiment or pre_post."),
    ("attrition", "text", "The WWC attrition rating, low or high; empty if not rated."),
    (
        "baseline_equivalence",
        "text",
        "satisfied, requires_adjustment or not_satisfied (WWC); empty without a baseline.",
    ),
    ("published_at", "date-time", "When the finding was published (UTC, ISO 8601)."),
    ("retracted", "true/false", "Whether the finding was later retracted."),
)
EXPORT_COLUMNS = tuple(name for name, _, _ in EXPORT_DICTIONARY)


# The latest published finding of each pilot after the cursor (a later publication of the same
# pilot supersedes it), without the results document: that is read only for findings this
# worker has not worked out yet.
PAGE_SQL = """
SELECT f.id, f.pilot, f.computed_at FROM finding f
WHERE f.published_at IS NOT NULL AND f.pilot > {}
  AND NOT EXISTS (
    SELECT 1 FROM finding later
    WHERE later.pilot = f.pilot AND later.published_at IS NOT NULL
      AND (later.published_at > f.published_at
           OR (later.published_at = f.published_at AND later.id > f.id))
  )
ORDER BY f.pilot LIMIT {}
"""
ROWS_SQL = """
SELECT f.id, f.pilot AS pilot_id, f.results, f.published_at, f.retracted_at, p.title,
       product.name AS product, vendor.name AS vendor
FROM finding f
JOIN pilot p ON p.id = f.pilot
JOIN product ON product.id = p.product
JOIN organization vendor ON vendor.id = product.vendor
WHERE f.id IN ({})
"""  # noqa: S608 (the ids are ints)
RETRACTED_SQL = "SELECT id, retracted_at FROM finding WHERE id IN ({})"  # noqa: S608 (ints)

# (finding id, computed at) -> its rows, without `retracted`, which can change.
_rows_of: dict[tuple[int, str], list[dict[str, Any]]] = {}


# A cursor is the id of the last pilot of the previous page, in decimal: every string of this
# form is a cursor the service could have given, which is what the OpenAPI document promises.
CURSOR_PATTERN = r"^[0-9]{1,18}$"


def encode_cursor(pilot_id: int) -> str:
    return str(pilot_id)


def decode_cursor(cursor: str | None) -> int:
    """The pilot id a cursor continues after (0: from the start); a cursor this service could
    not have given is a 400 naming the parameter."""
    if cursor is None:
        return 0
    if re.fullmatch(CURSOR_PATTERN, cursor) is None:
        message = (
            "This cursor is not one the service gave: use the `next` link of the previous page, "
            "or leave the cursor out to start from the first page."
        )
        raise TestbedError(message, errors=[{"field": "cursor", "message": message}])
    return int(cursor)


def check_limit(limit: int) -> int:
    if not 1 <= limit <= MAX_LIMIT:
        message = f"limit must be a whole number from 1 to {MAX_LIMIT} (findings per page)."
        raise TestbedError(message, errors=[{"field": "limit", "message": message}])
    return limit


def _finding_rows(row: dict[str, Any]) -> list[dict[str, Any]]:
    results = disclosure.disclose(json.loads(row["results"]), frozenset())
    baseline = results.get("baseline")
    rows = []
    for outcome in results["outcomes"]:
        effect = outcome.get("headline")
        attrition = outcome.get("attrition")
        rows.append(
            {
                "pilot_id": row["pilot_id"],
                "finding_id": row["id"],
                "pilot_title": row["title"],
                "product": row["product"],
                "vendor": row["vendor"],
                "outcome": outcome["name"],
                "outcome_label": outcome["label"],
                "kind": outcome["kind"],
                "primary": outcome["primary"],
                "direction": outcome["direction"],
                "effect_size": effect["g"] if effect else None,
                "ci_low": effect["ci"][0] if effect else None,
                "ci_high": effect["ci"][1] if effect else None,
                "se": effect["se"] if effect else None,
                "n_treatment": outcome["arms"].get("treatment", {}).get("n"),
                "n_control": outcome["arms"].get("control", {}).get("n"),
                "p": effect["p"] if effect else None,
                "design_type": results["design"]["design_type"],
                "attrition": attrition["rating"] if attrition else None,
                "baseline_equivalence": baseline["rating"] if baseline else None,
                "published_at": row["published_at"].isoformat(),
            }
        )
    return rows


def _ids(values: list[int]) -> str:
    return ", ".join(str(int(value)) for value in values)


async def export_page(
    limit: int = DEFAULT_LIMIT, after_pilot: int = 0
) -> tuple[list[dict[str, Any]], int | None]:
    """One row per outcome of the latest published finding of the next `limit` pilots after
    `after_pilot` (retracted findings included and flagged; arms of fewer than 10 students
    suppressed: None), and the pilot id to continue after (None on the last page)."""
    found = await Finding.raw(PAGE_SQL, after_pilot, limit + 1)
    more = len(found) > limit
    found = found[:limit]
    keys = {row["id"]: (row["id"], str(row["computed_at"])) for row in found}
    missing = [row["id"] for row in found if keys[row["id"]] not in _rows_of]
    if missing:
        for row in await Finding.raw(ROWS_SQL.format(_ids(missing))):
            _rows_of[keys[row["id"]]] = _finding_rows(row)
    retracted = {}
    if found:
        retracted = {
            row["id"]: row["retracted_at"] is not None
            for row in await Finding.raw(RETRACTED_SQL.format(_ids(list(keys))))
        }
    rows = [
        {**each, "retracted": retracted[row["id"]]}
        for row in found
        for each in _rows_of.get(keys[row["id"]], [])
    ]
    return rows, (found[-1]["pilot"] if more else None)


async def export_batches() -> AsyncIterator[list[dict[str, Any]]]:
    """Every row of the export, a page at a time (what the full downloads stream)."""
    after: int | None = 0
    while after is not None:
        rows, after = await export_page(DOWNLOAD_BATCH, after)
        yield rows


def csv_text(rows: list[dict[str, Any]], *, header: bool = True) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    if header:
        writer.writerow(EXPORT_COLUMNS)
    for row in rows:
        writer.writerow([neutralize("" if row[c] is None else row[c]) for c in EXPORT_COLUMNS])
    return buffer.getvalue()


async def csv_download() -> AsyncIterator[str]:
    """The whole export as CSV, streamed a page at a time."""
    yield csv_text([])
    async for rows in export_batches():
        yield csv_text(rows, header=False)


async def json_download() -> AsyncIterator[str]:
    """The whole export as a JSON list, streamed a page at a time."""
    first = True
    yield "["
    async for rows in export_batches():
        for row in rows:
            yield ("\n" if first else ",\n") + json.dumps(row, sort_keys=True)
            first = False
    yield "\n]\n"
