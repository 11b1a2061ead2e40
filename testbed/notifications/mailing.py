"""Notification mail: each person's choice (immediate, daily digest or none), the mail queued with
an action-needed notification, the daily digest, and one-click unsubscribe links.

Which notifications are mailed: those that ask the person to act (MAILED_KINDS). The matching
service writes two of them as events happen (a proposal to accept; the other side accepted, your
turn); the rest are the action items of "Your work" (testbed.work.services: a design to
register, data due, a finding to approve, an analysis to run, a pilot past its end), turned into
notifications once each by testbed.notifications.background. See docs/mail.md.
"""

from __future__ import annotations

import base64
import hmac
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from datetime import UTC, datetime, time, timedelta

from piccolo.engine.sqlite import TransactionType

from testbed.errors import InvalidInput
from testbed.mail import messages
from testbed.mail.outbox import queue_mail
from testbed.settings import Settings
from testbed.tables import MAX_ID, MailDigest, Notification, NotificationSetting, User

CHOICES = {
    "immediate": "Immediately, one mail per notification",
    "digest": "Once a day, in one digest mail",
    "none": "No mail (notifications stay on the Notifications page)",
}
# Immediate: these mails ask for an action someone else waits on (a district's answer to a
# proposal, a site's data), they are few per person, and a day's delay would hold up the
# pilot. Whoever prefers fewer mails switches to the digest, or unsubscribes in one click.
DEFAULT_CHOICE = "immediate"

# Notification kinds written by the matching service that ask their reader to act.
EVENT_KINDS = ("proposal", "accepted")
# "Your work" item kinds (testbed.work.services.WorkItem.kind) that become notifications.
WORK_KINDS = ("design", "upload", "decide", "run", "close")
MAILED_KINDS = EVENT_KINDS + WORK_KINDS

# How far back a digest looks for waiting notifications (a sender down for days still sends
# what waited, in one mail, but not what is long stale).
DIGEST_LOOKBACK = timedelta(days=7)
SUBJECT_WORDS = 110

_settings: Settings | None = None


def configure(settings: Settings) -> None:
    """The app's settings (base URL, secret, From address) for mail written by services that
    are not given them (the matching service notifies without knowing any request)."""
    global _settings
    _settings = settings


def current_settings() -> Settings:
    return _settings or Settings.from_env()


# --- choices -----------------------------------------------------------------------------------


async def mail_choice(user_id: int) -> str:
    row = (
        await NotificationSetting.select(NotificationSetting.mail)
        .where(NotificationSetting.user == user_id)
        .first()
    )
    return row["mail"] if row else DEFAULT_CHOICE


UPSERT_CHOICE = """
INSERT INTO notification_setting ("user", mail, updated_at) VALUES ({}, {}, {})
ON CONFLICT ("user") DO UPDATE SET mail = excluded.mail, updated_at = excluded.updated_at
"""


async def set_mail_choice(user_id: int, choice: str) -> str:
    choice = (choice or "").strip()
    if choice not in CHOICES:
        raise InvalidInput(
            "Choose how you want notification mail.",
            errors=[{"field": "mail", "message": "Choose immediate, daily digest or no mail."}],
        )
    await NotificationSetting.raw(UPSERT_CHOICE, user_id, choice, datetime.now(UTC))
    return choice


async def _choices(user_ids: list[int]) -> dict[int, str]:
    rows = await NotificationSetting.select(
        NotificationSetting.user, NotificationSetting.mail
    ).where(NotificationSetting.user.is_in(user_ids))
    chosen = {row["user"]: row["mail"] for row in rows}
    return {user_id: chosen.get(user_id, DEFAULT_CHOICE) for user_id in user_ids}


# --- unsubscribe links -------------------------------------------------------------------------


def _unsubscribe_key(settings: Settings) -> bytes:
    # A key of its own, derived from the app secret: an unsubscribe MAC is worth nothing as a
    # CSRF token or a student-key hash, and the reverse.
    return hmac.new(settings.secret_key.encode(), b"testbed/unsubscribe-link/v1", "sha256").digest()


def _mac(user_id: int, settings: Settings) -> str:
    digest = hmac.new(_unsubscribe_key(settings), str(user_id).encode(), "sha256").digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def unsubscribe_token(user_id: int, settings: Settings) -> str:
    """The person's one-click unsubscribe token: their id and an HMAC of it, so nothing is
    stored and nobody can make one for someone else."""
    return f"{user_id}.{_mac(user_id, settings)}"


def unsubscribe_url(user_id: int, settings: Settings) -> str:
    return f"{settings.base_url}/unsubscribe/{unsubscribe_token(user_id, settings)}"


async def person_for_unsubscribe_token(token: str, settings: Settings) -> int | None:
    """The account a token unsubscribes, or None for a made-up, damaged or stale one."""
    user_id = _user_id_in_token(token, settings)
    if user_id is None or not await User.exists().where(
        (User.id == user_id) & User.active.eq(True)
    ):
        return None
    return user_id


def _user_id_in_token(token: str, settings: Settings) -> int | None:
    user_part, _, mac = token.partition(".")
    if not (user_part.isascii() and user_part.isdigit() and len(user_part) <= 10 and mac):
        return None
    user_id = int(user_part)
    if not 1 <= user_id <= MAX_ID:
        return None
    # Bytes: compare_digest refuses str with non-ASCII characters (a TypeError, so a 500).
    expected = _mac(user_id, settings).encode()
    return user_id if hmac.compare_digest(mac.encode(), expected) else None


# --- mail with a notification ------------------------------------------------------------------


def _subject_words(message: str) -> str:
    line = messages.single_line(message)
    return line if len(line) <= SUBJECT_WORDS else line[: SUBJECT_WORDS - 1].rstrip() + "…"


async def mail_for_notification(
    user_ids: Iterable[int], *, kind: str, message: str, link: str
) -> dict[int, str]:
    """Queue the mail that goes with a new notification (inside the caller's transaction), as
    each recipient chose; returns each recipient's `Notification.mail` state."""
    recipients = sorted(set(user_ids))
    if kind not in MAILED_KINDS or not recipients:
        return {}
    settings = current_settings()
    people = await User.select(User.id, User.email, User.name).where(
        User.id.is_in(recipients) & User.active.eq(True)
    )
    choices = await _choices([person["id"] for person in people])
    states: dict[int, str] = {}
    for person in people:
        choice = choices[person["id"]]
        if choice == "digest":
            states[person["id"]] = "digest"
        elif choice == "immediate":
            await queue_mail(
                kind="notification",
                to_address=person["email"],
                context={
                    "name": messages.single_line(person["name"]),
                    "subject_words": _subject_words(message),
                    "message": message,
                    "link": f"{settings.base_url}{link}" if link.startswith("/") else "",
                    "unsubscribe_url": unsubscribe_url(person["id"], settings),
                },
                settings=settings,
                list_unsubscribe=unsubscribe_url(person["id"], settings),
            )
            states[person["id"]] = "queued"
    return states


# --- the daily digest --------------------------------------------------------------------------


@asynccontextmanager
async def _write_transaction() -> AsyncIterator[None]:
    """SQLite: take the write lock at BEGIN (a transaction that reads first and then writes
    fails at once when another writer got there); PostgreSQL: an ordinary transaction, the
    unique index doing the refereeing."""
    engine = Notification._meta.db
    if engine.engine_type == "postgres":
        async with engine.transaction():
            yield
    else:
        async with engine.transaction(transaction_type=TransactionType.immediate):
            yield


CLAIM_DIGEST = """
INSERT INTO mail_digest ("user", sent_on, notifications, created_at) VALUES ({}, {}, {}, {})
ON CONFLICT ("user", sent_on) DO NOTHING
RETURNING id
"""


def day_start(now: datetime) -> datetime:
    return datetime.combine(now.astimezone(UTC).date(), time(), tzinfo=UTC)


async def send_digests(settings: Settings, now: datetime | None = None) -> int:
    """Queue one digest per person with notifications waiting from before today (UTC); how
    many. Each person's digest is claimed by inserting its (person, day) row: with several
    senders at once, one insert wins and the others find the row and send nothing."""
    now = now or datetime.now(UTC)
    today = day_start(now)
    waiting = (
        (Notification.mail == "digest")
        & (Notification.created_at < today)
        & (Notification.created_at >= today - DIGEST_LOOKBACK)
    )
    rows = await Notification.select(Notification.user).where(waiting).distinct()
    sent = 0
    for user_id in sorted(row["user"] for row in rows):
        if await _send_digest(settings, user_id, waiting, now):
            sent += 1
    return sent


async def _send_digest(settings: Settings, user_id: int, waiting, now: datetime) -> bool:
    async with _write_transaction():
        person = (
            await User.select(User.email, User.name, User.active).where(User.id == user_id).first()
        )
        mine = waiting & (Notification.user == user_id)
        if person is None or not person["active"] or await mail_choice(user_id) == "none":
            # They chose no mail since: what waited is not sent (it stays on the page).
            await Notification.update({Notification.mail: ""}).where(mine)
            return False
        claimed = await MailDigest.raw(CLAIM_DIGEST, user_id, now.astimezone(UTC).date(), 0, now)
        if not claimed:
            return False
        items = (
            await Notification.update({Notification.mail: "digested"})
            .where(mine)
            .returning(
                Notification.id, Notification.message, Notification.link, Notification.created_at
            )
        )
        if not items:
            return False
        items.sort(key=lambda item: item["id"])
        await MailDigest.update({MailDigest.notifications: len(items)}).where(
            MailDigest.id == claimed[0]["id"]
        )
        days = sorted({item["created_at"].astimezone(UTC).date() for item in items})
        await queue_mail(
            kind="digest",
            to_address=person["email"],
            context={
                "name": messages.single_line(person["name"]),
                "count": len(items),
                "days": [
                    {
                        "day": day.isoformat(),
                        "notifications": [
                            {
                                "message": item["message"],
                                "link": f"{settings.base_url}{item['link']}"
                                if item["link"].startswith("/")
                                else "",
                            }
                            for item in items
                            if item["created_at"].astimezone(UTC).date() == day
                        ],
                    }
                    for day in days
                ],
                "unsubscribe_url": unsubscribe_url(user_id, settings),
            },
            settings=settings,
            list_unsubscribe=unsubscribe_url(user_id, settings),
        )
        return True
