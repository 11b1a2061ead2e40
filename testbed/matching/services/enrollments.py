"""Enrollment statuses, the limits on them, and the lock every change of status holds.

Capacity is never oversubscribed: every change of an enrollment's status runs in one
transaction that holds the pilot's lock (PostgreSQL: SELECT ... FOR UPDATE on the pilot row,
then on the district's organization row; SQLite: BEGIN IMMEDIATE, which serializes writers)
and counts the sites again before it writes.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from piccolo.engine.sqlite import TransactionType

from testbed.tables import (
    Enrollment,
    Organization,
    Pilot,
)

DEFAULT_MAX_CONCURRENT_PILOTS = 2
# A site of a pilot in any of these statuses counts toward the district's concurrent pilots.
# "open" is included (stricter than matching/active/analysis) because a site accepted while the
# call is still open is as much a commitment, and stays one when the call moves on.
CONCURRENT_PILOT_STATUSES = ("open", "matching", "active", "analysis")
PENDING_STATUSES = ("proposed", "accepted_by_district", "accepted_by_vendor")
# Statuses that hold a place: a round counts them against sites wanted and district limits.
HOLDING_STATUSES = (*PENDING_STATUSES, "site")
WITHDRAWABLE_STATUSES = ("volunteered", "proposed")
ROUND_TIME_LIMIT_SECONDS = 30.0
RECOMMENDATIONS_SHOWN = 10
NON_VOLUNTEERS_SHOWN = 10
NOTE_MAX_CHARACTERS = 2000
STATUS_WORDS = {
    "volunteered": "Volunteered",
    "proposed": "Proposed by a matching round",
    "accepted_by_district": "Accepted by the district, waiting for the vendor",
    "accepted_by_vendor": "Accepted by the vendor, waiting for the district",
    "site": "Site",
    "declined": "Declined",
    "withdrawn": "Withdrawn",
}


@asynccontextmanager
async def locked(pilot_id: int, district_id: int | None = None) -> AsyncIterator[None]:
    """A transaction that holds the pilot (and district) lock; always pilot first."""
    engine = Pilot._meta.db
    if engine.engine_type == "postgres":
        async with engine.transaction():
            await Pilot.select(Pilot.id).where(Pilot.id == pilot_id).lock_rows()
            if district_id is not None:
                await (
                    Organization.select(Organization.id)
                    .where(Organization.id == district_id)
                    .lock_rows()
                )
            yield
    else:
        async with engine.transaction(transaction_type=TransactionType.immediate):
            yield


async def get_enrollment(enrollment_id: int) -> dict[str, Any]:
    """One enrollment as it is stored (the API answers a change with it)."""
    return await Enrollment.select().where(Enrollment.id == enrollment_id).first()
