"""The network dashboard: the network's pilots in aggregate, small cells hidden.

Its cost must not follow the size of the network's data. Each worker keeps the aggregate and
recomputes it when the network changed, which one statement of counts, last ids and last times
tells (`FINGERPRINT_PARTS`): a pilot created, edited or moved to another status, a site
accepted or dropped, a district profile (and with it the district's state) edited, a finding
computed, published or retracted, and everything the students reached depend on
(`reach.FINGERPRINT_PARTS`). Recomputing reads one row per pilot, state or finding, never per
student: the published findings' effects come from `services.primary_effects` (each finding's
frozen results read and disclosed once per worker) and the students reached from
`reach.students_reached`. The product and vendor names of the overdue list are read on every
request (a product can be renamed without a trace in the fingerprint).
"""

from __future__ import annotations

import datetime
import statistics
from collections import Counter
from typing import Any

from analysis.suppression import DEFAULT_THRESHOLD, suppress_small_cells
from testbed.findings import disclosure
from testbed.synthesis import reach
from testbed.synthesis.services import primary_effects
from testbed.tables import Pilot
from testbed.vocabulary import NETWORK_PILOT_STATUSES, PILLAR_WORDS

OVERDUE_AFTER_MONTHS = 12

FINGERPRINT_PARTS = (
    *reach.FINGERPRINT_PARTS,
    "(SELECT COUNT(*) FROM pilot)",
    "(SELECT MAX(updated_at) FROM pilot)",
    "(SELECT created_at FROM pilot ORDER BY id DESC LIMIT 1)",
    "(SELECT COUNT(*) FROM enrollment WHERE status = 'site')",
    "(SELECT MAX(id) FROM enrollment)",
    "(SELECT MAX(updated_at) FROM enrollment)",
    "(SELECT MAX(updated_at) FROM district_profile)",
    "(SELECT COUNT(*) FROM finding WHERE published_at IS NOT NULL)",
    "(SELECT COUNT(*) FROM finding WHERE retracted_at IS NOT NULL)",
    "(SELECT MAX(id) FROM finding)",
    "(SELECT MAX(published_at) FROM finding)",
    "(SELECT MAX(retracted_at) FROM finding)",
)
_kept: dict[str, Any] = {}

_STATUSES = ", ".join(f"'{status}'" for status in NETWORK_PILOT_STATUSES)
STUDIES_SQL = f"""
SELECT id, title, status, pillars, ends_on, product FROM pilot
WHERE status IN ({_STATUSES}) ORDER BY id
"""  # noqa: S608 (the statuses are constants)
# Each state with the number of pilots that have a site there (a pilot counts once per state).
PILOTS_BY_STATE_SQL = f"""
SELECT COALESCE(o.state, '–') AS state, COUNT(DISTINCT e.pilot) AS pilots
FROM enrollment e
JOIN organization o ON o.id = e.district
JOIN pilot p ON p.id = e.pilot
WHERE e.status = 'site' AND p.status IN ({_STATUSES})
GROUP BY COALESCE(o.state, '–')
"""  # noqa: S608 (the statuses are constants)
# Typed columns, not MIN(): SQLite returns an aggregate of timestamps as text.
PUBLISHED_SQL = "SELECT pilot, published_at FROM finding WHERE published_at IS NOT NULL"
REGISTERED_SQL = "SELECT pilot, registered_at FROM design_version WHERE registered_at IS NOT NULL"
NAMES_SQL = """
SELECT product.id, product.name AS product, vendor.name AS vendor
FROM product JOIN organization vendor ON vendor.id = product.vendor
WHERE product.id IN ({})
"""
STATES_SQL = "SELECT id, state FROM organization WHERE id IN ({})"


def _add_months(day: datetime.date, months: int) -> datetime.date:
    month = day.month - 1 + months
    year, month = day.year + month // 12, month % 12 + 1
    last = [
        31,
        29 if year % 4 == 0 and (year % 100 or year % 400 == 0) else 28,
        31,
        30,
        31,
        30,
        31,
        31,
        30,
        31,
        30,
        31,
    ][month - 1]
    return datetime.date(year, month, min(day.day, last))


def _suppressed_counts(counts: dict[Any, int]) -> dict[Any, int | None]:
    """Students reached by one dimension, cells under 10 hidden (with their complements), the
    rest to the nearest 10."""
    if not counts:
        return {}
    keys = sorted(counts)
    table = suppress_small_cells([[counts[key] for key in keys]])
    return {
        key: disclosure.rounded_reach(value)
        for key, value in zip(keys, table.cells[0], strict=True)
    }


def _ids(values: set[int]) -> str:
    return ", ".join(str(int(value)) for value in sorted(values)) or "-1"


def _earliest(rows: list[dict[str, Any]], column: str) -> dict[int, datetime.datetime]:
    earliest: dict[int, datetime.datetime] = {}
    for row in rows:
        when = earliest.get(row["pilot"])
        earliest[row["pilot"]] = min(when, row[column]) if when else row[column]
    return earliest


async def dashboard(today: datetime.date | None = None) -> dict[str, Any]:
    """The network's pilots in aggregate. `today` is injectable so tests fix the clock."""
    today = today or datetime.date.today()
    current = (today, await reach.fingerprint(FINGERPRINT_PARTS))
    if _kept.get("fingerprint") != current:
        _kept["board"] = await _aggregate(today)
        _kept["fingerprint"] = current
    board = dict(_kept["board"])
    late = board.pop("late")
    products = {row["product"] for row in late}
    names = (
        {row["id"]: row for row in await Pilot.raw(NAMES_SQL.format(_ids(products)))}
        if products
        else {}
    )
    board["overdue"] = sorted(
        (
            {
                **row,
                "product": names[row["product"]]["product"],
                "vendor": names[row["product"]]["vendor"],
            }
            for row in late
        ),
        key=lambda row: (-row["days_overdue"], row["product"]),
    )
    return board


async def _aggregate(today: datetime.date) -> dict[str, Any]:
    studies = await Pilot.raw(STUDIES_SQL)
    by_state = {row["state"]: row["pilots"] for row in await Pilot.raw(PILOTS_BY_STATE_SQL)}
    first_published = _earliest(await Pilot.raw(PUBLISHED_SQL), "published_at")
    first_registered = _earliest(await Pilot.raw(REGISTERED_SQL), "registered_at")
    pillars_of = {pilot["id"]: pilot["pillars"] for pilot in studies}
    reached = {
        key: n for key, n in (await reach.students_reached()).items() if key[0] in pillars_of
    }
    state_of_site = {
        row["id"]: row["state"]
        for row in await Pilot.raw(STATES_SQL.format(_ids({site for _, site in reached})))
    }

    by_status = Counter(pilot["status"] for pilot in studies)
    by_pillar = Counter(code for pilot in studies for code in pilot["pillars"])
    students_by_state: Counter[str] = Counter()
    students_by_pillar: Counter[int] = Counter()
    for (pilot_id, site), students in reached.items():
        students_by_state[state_of_site.get(site) or "–"] += students
        for code in pillars_of[pilot_id]:
            students_by_pillar[code] += students
    students_total = sum(students_by_state.values())

    ended = [pilot for pilot in studies if pilot["ends_on"] and pilot["ends_on"] < today]
    reported = [
        pilot
        for pilot in ended
        if pilot["status"] in ("published", "closed") and pilot["id"] in first_published
    ]
    days = sorted(
        (first_published[pid] - first_registered[pid]).days
        for pid in first_published
        if pid in first_registered and pid in pillars_of
    )
    late = []
    for pilot in studies:
        if pilot["ends_on"] is None or pilot["id"] in first_published:
            continue
        due = _add_months(pilot["ends_on"], OVERDUE_AFTER_MONTHS)
        if due < today:
            public = pilot["status"] in ("published", "closed")
            late.append(
                {
                    # A running pilot's title is not public (docs/catalog.md): name the product.
                    "pilot_id": pilot["id"] if public else None,
                    "title": pilot["title"] if public else None,
                    "product": pilot["product"],  # its id here; its name on every request
                    "status": pilot["status"],
                    "ended_on": pilot["ends_on"],
                    "due_on": due,
                    "days_overdue": (today - due).days,
                }
            )
    effects = await primary_effects()
    null = sum(1 for estimate, p in effects if p is not None and p >= 0.05)
    harmful = sum(1 for estimate, p in effects if p is not None and p < 0.05 and estimate < 0)
    return {
        "today": today,
        "pilots": len(studies),
        "by_status": {status: by_status[status] for status in NETWORK_PILOT_STATUSES},
        "by_pillar": {code: by_pillar.get(code, 0) for code in sorted(PILLAR_WORDS)},
        "by_state": dict(sorted(by_state.items())),
        "students_total": disclosure.rounded_reach(students_total)
        if students_total >= DEFAULT_THRESHOLD
        else None,
        "students_by_state": _suppressed_counts(dict(students_by_state)),
        "students_by_pillar": _suppressed_counts(dict(students_by_pillar)),
        "ended": len(ended),
        "reported": len(reported),
        "reported_share": len(reported) / len(ended) if ended else None,
        "published_findings": len(effects),
        "null_findings": null,
        "harmful_findings": harmful,
        "median_days_to_results": statistics.median(days) if days else None,
        "late": late,
    }
