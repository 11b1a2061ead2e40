"""The transactional outbox and its sender.

`queue_mail` writes a message as a row of `outbox_message`, inside whatever transaction is open:
the message is committed with what caused it (a reset token, an invitation) or not at all. A
request never talks to a mail server, so a server that is down neither fails nor slows it.

The sender (`deliver_due`, run every few seconds by `send_forever` in each worker) claims due
rows, delivers them and records the outcome:

- claiming marks a row with a lease (`claimed_until`, LEASE ahead) and counts the attempt, in
  one statement: on PostgreSQL the rows are picked with `FOR UPDATE SKIP LOCKED`, so senders on
  several workers or hosts each take different rows without waiting on each other; on SQLite the
  claim runs in an IMMEDIATE transaction, which holds the database's one write lock, so two
  senders' claims run one after the other and the second sees the first one's leases;
- success marks the row sent (only while the sender still holds its lease); a failure sets the
  next attempt after a backoff that doubles from RETRY_FIRST up to RETRY_MAX; a message still
  unsent GIVE_UP after it was queued, or refused for good by the server (5xx), is marked failed
  with the reason, which network admins see on /admin/outbox.

A sender that dies between the server's acceptance and the row's update would let another
sender deliver the message again when the lease passes: delivery is at least once in that
case only; the Message-ID is the same on every attempt, so mail systems can tell it is one.
Bodies of mail sent over SMTP are blanked once sent: they may hold one-time links.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
from datetime import UTC, datetime, timedelta
from email.errors import HeaderParseError

from piccolo.engine.sqlite import TransactionType

from testbed.mail import messages, transport
from testbed.settings import Settings
from testbed.tables import OutboxMessage

LEASE = timedelta(minutes=2)
RETRY_FIRST = timedelta(seconds=30)
RETRY_MAX = timedelta(hours=1)
GIVE_UP = timedelta(hours=24)
BATCH = 20

logger = logging.getLogger("testbed.mail")

_wake_up: asyncio.Event | None = None


async def queue_mail(
    *, kind: str, to_address: str, context: dict, settings: Settings, list_unsubscribe: str = ""
) -> int:
    """Write a message to the outbox, inside the caller's transaction; its id. The templates
    see `context` plus `base_url`. `list_unsubscribe`: the one-click unsubscribe address of a
    notification mail (transactional mail has none)."""
    subject, text, html = messages.render(kind, {**context, "base_url": settings.base_url})
    rows = await OutboxMessage.insert(
        OutboxMessage(
            kind=kind,
            to_address=to_address,
            subject=subject,
            body_text=text,
            body_html=html,
            message_id=messages.new_message_id(settings.mail_from),
            list_unsubscribe=list_unsubscribe,
        )
    )
    return rows[0]["id"]


def wake_sender() -> None:
    """Ask the sender of this worker to look now rather than at its next tick (call it after
    the transaction that queued mail has committed)."""
    if _wake_up is not None:
        _wake_up.set()


def backoff(attempts: int) -> timedelta:
    """The wait after the n-th failed attempt: 30 s, 1 min, 2 min, ... at most an hour."""
    return min(RETRY_FIRST * 2 ** max(attempts - 1, 0), RETRY_MAX)


CLAIM_POSTGRES = """
UPDATE outbox_message SET claimed_until = {}, attempts = attempts + 1
WHERE id IN (
    SELECT id FROM outbox_message
    WHERE status = 'pending' AND next_attempt_at <= {}
      AND (claimed_until IS NULL OR claimed_until < {})
    ORDER BY id LIMIT {}
    FOR UPDATE SKIP LOCKED
)
RETURNING id, to_address, subject, body_text, body_html, message_id, attempts, created_at,
    claimed_until, kind, list_unsubscribe
"""
CLAIM_SQLITE = CLAIM_POSTGRES.replace("FOR UPDATE SKIP LOCKED", "")


async def claim_due(now: datetime, limit: int = BATCH) -> list[dict]:
    """Take a lease on up to `limit` due messages; they are this sender's until it passes."""
    lease_until = now + LEASE
    # A read first: most ticks find nothing due, and then take no write lock at all.
    due = (
        (OutboxMessage.status == "pending")
        & (OutboxMessage.next_attempt_at <= now)
        & (OutboxMessage.claimed_until.is_null() | (OutboxMessage.claimed_until < now))
    )
    if not await OutboxMessage.exists().where(due):
        return []
    engine = OutboxMessage._meta.db
    if engine.engine_type == "postgres":
        async with engine.transaction():
            return await OutboxMessage.raw(CLAIM_POSTGRES, lease_until, now, now, limit)
    async with engine.transaction(transaction_type=TransactionType.immediate):
        return await OutboxMessage.raw(CLAIM_SQLITE, lease_until, now, now, limit)


async def deliver_due(settings: Settings, now: datetime | None = None) -> dict[str, int]:
    """Deliver every due message once; how many were sent, retried and failed."""
    now = now or datetime.now(UTC)
    outcome = {"sent": 0, "retried": 0, "failed": 0}
    for row in await claim_due(now):
        outcome[await _deliver_one(settings, row, now)] += 1
    return outcome


async def _deliver_one(settings: Settings, row: dict, now: datetime) -> str:
    mine = (OutboxMessage.id == row["id"]) & (OutboxMessage.claimed_until == row["claimed_until"])
    try:
        message = messages.build(
            mail_from=settings.mail_from,
            to_address=row["to_address"],
            subject=row["subject"],
            body_text=row["body_text"],
            body_html=row["body_html"],
            message_id=row["message_id"],
            list_unsubscribe=row["list_unsubscribe"],
        )
        via = await transport.deliver(settings, message, file_name=eml_file_name(row))
    except Exception as error:
        reason = f"{type(error).__name__}: {error}"[:2000]
        created_at = row["created_at"]
        # A refusal for good, or a message that cannot be built (a header EmailMessage refuses).
        final = isinstance(error, transport.PermanentFailure | ValueError | HeaderParseError) or (
            now - created_at >= GIVE_UP
        )
        logger.warning("mail %s to %s failed (%s)", row["id"], row["to_address"], reason)
        if final:
            await OutboxMessage.update(
                {
                    OutboxMessage.status: "failed",
                    OutboxMessage.last_error: reason,
                    OutboxMessage.claimed_until: None,
                }
            ).where(mine)
            return "failed"
        await OutboxMessage.update(
            {
                OutboxMessage.last_error: reason,
                OutboxMessage.next_attempt_at: now + backoff(row["attempts"]),
                OutboxMessage.claimed_until: None,
            }
        ).where(mine)
        return "retried"
    values = {
        OutboxMessage.status: "sent",
        OutboxMessage.sent_at: datetime.now(UTC),
        OutboxMessage.delivered_via: via,
        OutboxMessage.last_error: "",
        OutboxMessage.claimed_until: None,
    }
    if via == "smtp":
        values |= {OutboxMessage.body_text: "", OutboxMessage.body_html: ""}
    await OutboxMessage.update(values).where(mine)
    return "sent"


def eml_file_name(row: dict) -> str:
    """The outbox file of a message: by id, and unique even when ids start again (a restored
    or emptied database), so no file is overwritten by another message."""
    unique = hashlib.sha256(row["message_id"].encode()).hexdigest()[:12]
    return f"{row['id']:08d}-{row['kind']}-{unique}.eml"


async def send_forever(settings: Settings) -> None:
    """The background sender of one worker: every `mail_poll_seconds`, or when woken."""
    global _wake_up
    _wake_up = asyncio.Event()
    while True:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(_wake_up.wait(), timeout=settings.mail_poll_seconds)
        _wake_up.clear()
        try:
            await deliver_due(settings)
        except Exception:
            logger.exception("the mail sender failed; it tries again at its next tick")


async def stop(task: asyncio.Task) -> None:
    global _wake_up
    _wake_up = None
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


async def list_messages(limit: int = 200) -> list[dict]:
    """The outbox for network admins, newest first: what was sent, what waits, what failed."""
    return (
        await OutboxMessage.select(
            OutboxMessage.id,
            OutboxMessage.kind,
            OutboxMessage.to_address,
            OutboxMessage.subject,
            OutboxMessage.status,
            OutboxMessage.attempts,
            OutboxMessage.next_attempt_at,
            OutboxMessage.last_error,
            OutboxMessage.delivered_via,
            OutboxMessage.created_at,
            OutboxMessage.sent_at,
            OutboxMessage.body_text,
        )
        .order_by(OutboxMessage.id, ascending=False)
        .limit(limit)
    )
