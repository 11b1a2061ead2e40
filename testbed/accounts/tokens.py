"""One-time links mailed to an address (EmailToken): verifying it, or making it an account's
new address. The token is in the mail only; the database keeps its SHA-256. A link works once,
until it expires; a new link of the same kind ends the earlier ones.

The mail is queued in the caller's transaction, so the link and its mail exist together.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta

from testbed.auth import hash_token
from testbed.errors import NotFound, TestbedError
from testbed.mail.outbox import queue_mail
from testbed.settings import Settings
from testbed.tables import EmailToken

LIFETIMES = {"verify": timedelta(hours=48), "change_email": timedelta(hours=24)}
WORDS = {"verify": "address confirmation link", "change_email": "address change link"}


async def new_token(*, user_id: int, purpose: str, email: str) -> str:
    """Inside a transaction: a fresh link for this purpose; earlier unused ones end."""
    now = datetime.now(UTC)
    await EmailToken.update({EmailToken.used_at: now}).where(
        (EmailToken.user == user_id)
        & (EmailToken.purpose == purpose)
        & EmailToken.used_at.is_null()
    )
    token = secrets.token_urlsafe(32)
    await EmailToken.insert(
        EmailToken(
            user=user_id,
            purpose=purpose,
            email=email,
            token_hash=hash_token(token),
            expires_at=now + LIFETIMES[purpose],
        )
    )
    return token


async def queue_verification(*, user_id: int, email: str, name: str, settings: Settings) -> None:
    """Inside the caller's transaction: a verification link and its mail."""
    token = await new_token(user_id=user_id, purpose="verify", email=email)
    await queue_mail(
        kind="verify_address",
        to_address=email,
        context={
            "name": name,
            "token": token,
            "hours": int(LIFETIMES["verify"].total_seconds() // 3600),
        },
        settings=settings,
    )


async def find_token(token: str, purpose: str) -> dict:
    """The link with this token if it can still be used; a refusal in words if not."""
    row = (
        await EmailToken.select(
            EmailToken.id,
            EmailToken.user,
            EmailToken.email,
            EmailToken.expires_at,
            EmailToken.used_at,
        )
        .where((EmailToken.token_hash == hash_token(token)) & (EmailToken.purpose == purpose))
        .first()
    )
    words = WORDS[purpose]
    if row is None:
        raise NotFound(
            f"This {words} is not valid: it was mistyped or cut short in the mail. "
            "Ask for a new one on your account page."
        )
    if row["used_at"] is not None:
        raise _used(purpose)
    if row["expires_at"] <= datetime.now(UTC):
        hours = int(LIFETIMES[purpose].total_seconds() // 3600)
        raise TestbedError(
            f"This {words} expired at {row['expires_at']:%Y-%m-%d %H:%M} UTC (links last "
            f"{hours} hours). Ask for a new one on your account page.",
            status_code=410,
            link=("/account", "Your account"),
        )
    return row


async def claim_token(token: str, purpose: str) -> dict:
    """Inside `account_write()`: the link, now used up; the refusal in words if it cannot be
    used. Read under the lock, so of two requests following one link at once, one gets it."""
    link = await find_token(token, purpose)
    used = (
        await EmailToken.update({EmailToken.used_at: datetime.now(UTC)})
        .where((EmailToken.id == link["id"]) & EmailToken.used_at.is_null())
        .returning(EmailToken.id)
    )
    if not used:  # a write outside the lock used it between the read and here
        raise _used(purpose)
    return link


class LinkUsed(TestbedError):
    """A link that was followed before (or replaced by a newer one)."""


def _used(purpose: str) -> LinkUsed:
    return LinkUsed(
        f"This {WORDS[purpose]} has already been used (or a newer one was sent since). "
        + (
            "If you followed it before, your address is verified: sign in to see. "
            if purpose == "verify"
            else ""
        )
        + "Ask for a new one on your account page if you still need it.",
        status_code=410,
        link=("/account", "Your account"),
    )
