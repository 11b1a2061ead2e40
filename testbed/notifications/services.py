"""Notifications: written by other services inside their own transactions, read by their owner.
Those that ask their reader to act are also mailed, as each person chose (mailing.py)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime

from testbed.auth import Principal
from testbed.errors import NotFound
from testbed.notifications import mailing
from testbed.tables import Membership, Notification

# Matching's events, then the "Your work" items that become notifications (mailing.WORK_KINDS).
KINDS = ("proposal", "accepted", "declined", "site", "withdrawn", "invitation", *mailing.WORK_KINDS)


async def notify_users(user_ids: Iterable[int], *, kind: str, message: str, link: str = "") -> int:
    """Notify each person once; a kind that asks them to act is mailed too, in the same
    transaction (one is opened when the caller has none)."""
    recipients = sorted(set(user_ids))
    if not recipients:
        return 0
    async with Notification._meta.db.transaction():
        mail = await mailing.mail_for_notification(
            recipients, kind=kind, message=message, link=link
        )
        await Notification.insert(
            *(
                Notification(
                    user=user_id, kind=kind, message=message, link=link, mail=mail.get(user_id, "")
                )
                for user_id in recipients
            )
        )
    return len(recipients)


async def notify_organization(
    organization_id: int, *, kind: str, message: str, link: str = ""
) -> int:
    """Tell every member of an organization."""
    members = await Membership.select(Membership.user).where(
        Membership.organization == organization_id
    )
    return await notify_users(
        (row["user"] for row in members), kind=kind, message=message, link=link
    )


async def notifications_for(principal: Principal, *, limit: int = 200) -> list[dict]:
    return (
        await Notification.select(
            Notification.id,
            Notification.kind,
            Notification.message,
            Notification.link,
            Notification.created_at,
            Notification.read_at,
        )
        .where(Notification.user == principal.user_id)
        .order_by(Notification.id, ascending=False)
        .limit(limit)
    )


async def unread_count(user_id: int) -> int:
    return await Notification.count().where(
        (Notification.user == user_id) & Notification.read_at.is_null()
    )


async def mark_read(principal: Principal, notification_id: int | None = None) -> int:
    """Mark one notification (or, without an id, all of them) read; returns how many."""
    mine = (Notification.user == principal.user_id) & Notification.read_at.is_null()
    if notification_id is not None:
        owned = await Notification.exists().where(
            (Notification.id == notification_id) & (Notification.user == principal.user_id)
        )
        if not owned:
            raise NotFound("There is no such notification.")
        mine = mine & (Notification.id == notification_id)
    changed = (
        await Notification.update({Notification.read_at: datetime.now(UTC)})
        .where(mine)
        .returning(Notification.id)
    )
    return len(changed)
