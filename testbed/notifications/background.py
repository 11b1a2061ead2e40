"""The periodic work of notifications, run by each worker (and by `testbed notify-work` /
`testbed send-digests` from cron):

- the work sweep: every "Your work" item that asks for an action (mailing.WORK_KINDS) becomes
  one notification for its person, mailed as they chose. What needs action is decided by
  testbed.work.services alone; the sweep only remembers what it already told (WorkNotice, one
  row per person, kind, link and overdue-or-not: an item that becomes overdue is told again).
  With several workers the unique index on that row lets one of them tell each item once;
- the daily digests (mailing.send_digests).
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime

from testbed.auth import load_principal
from testbed.notifications import mailing
from testbed.notifications.services import notify_users
from testbed.settings import Settings
from testbed.tables import User, WorkNotice
from testbed.work.services import work_for

logger = logging.getLogger("testbed.notifications")

CLAIM_NOTICE = """
INSERT INTO work_notice ("user", kind, link, overdue, created_at) VALUES ({}, {}, {}, {}, {})
ON CONFLICT ("user", kind, link, overdue) DO NOTHING
RETURNING id
"""


async def notify_new_work(now: datetime | None = None) -> int:
    """Turn every action item not yet told into a notification (and its mail); how many."""
    now = now or datetime.now(UTC)
    people = await User.select(User.id).where(User.active.eq(True)).order_by(User.id)
    told = 0
    for person in people:
        principal = await load_principal(person["id"])
        if principal is None:
            continue
        for item in await work_for(principal, now.astimezone(UTC).date()):
            if item.kind not in mailing.WORK_KINDS:
                continue
            async with WorkNotice._meta.db.transaction():
                claimed = await WorkNotice.raw(
                    CLAIM_NOTICE, person["id"], item.kind, item.link, item.overdue, now
                )
                if claimed:
                    words = f"Overdue: {item.words}" if item.overdue else item.words
                    await notify_users(
                        [person["id"]], kind=item.kind, message=words, link=item.link
                    )
                    told += 1
    return told


async def run_once(settings: Settings, now: datetime | None = None) -> dict[str, int]:
    return {
        "notified": await notify_new_work(now),
        "digests": await mailing.send_digests(settings, now),
    }


async def run_forever(settings: Settings) -> None:
    """Every `notification_sweep_seconds`: the work sweep, then the digests that are due."""
    while True:
        await asyncio.sleep(settings.notification_sweep_seconds)
        try:
            await run_once(settings)
        except Exception:
            logger.exception("the notification sweep failed; it tries again at its next tick")
