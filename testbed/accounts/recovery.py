"""Passwords after sign-up: reset by mail when forgotten, change when signed in.

A reset link carries a random token; only its SHA-256 is stored, it lasts RESET_LIFETIME and
works once. Asking for one answers the same whether or not the address has an account, and
does the same work either way (a token is made and hashed, the request counted against the
limit), so neither the answer nor its time tells who has an account. Both a reset and a change
sign out every other session of the person and are recorded in the audit log, and both queue
a mail in the transaction that changes the password.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta

from anyio import to_thread

from testbed import audit
from testbed.accounts.passwords import hash_password, password_problems, verify_password
from testbed.accounts.services import (
    account_write,
    claim_attempt,
    normalize_email,
    require_email,
)
from testbed.auth import Principal, hash_token
from testbed.errors import InvalidInput, NotFound, TestbedError
from testbed.mail.outbox import queue_mail, wake_sender
from testbed.sessions import end_sessions_of
from testbed.settings import Settings
from testbed.tables import LoginAttempt, PasswordReset, User

RESET_LIFETIME = timedelta(hours=1)
RESET_GONE = (
    "This password reset link is not valid: it was mistyped or cut short in the mail. "
    "Ask for a new one."
)
RESET_USED = "This password reset link has already been used. Ask for a new one if you need it."


async def request_password_reset(*, email: str, ip_address: str, settings: Settings) -> None:
    """Mail a reset link if the address has an active account; the same outcome otherwise."""
    email = normalize_email(email)
    require_email(email)
    await claim_attempt(email, ip_address, purpose="password_reset")
    token = secrets.token_urlsafe(32)
    token_hash = hash_token(token)  # for unknown addresses too: the same work either way
    user = (
        await User.select(User.id, User.name)
        .where((User.email == email) & User.active.eq(True))
        .first()
    )
    if user is None:
        await audit.record(
            "password_reset_unknown_address", detail={"email": email}, ip_address=ip_address
        )
        return
    async with account_write():
        await PasswordReset.insert(
            PasswordReset(
                user=user["id"],
                token_hash=token_hash,
                expires_at=datetime.now(UTC) + RESET_LIFETIME,
            )
        )
        await queue_mail(
            kind="password_reset",
            to_address=email,
            context={"name": user["name"], "token": token},
            settings=settings,
        )
        await audit.record(
            "password_reset_requested",
            object_type="user",
            object_id=user["id"],
            ip_address=ip_address,
        )
    wake_sender()


async def usable_reset(token: str) -> dict:
    """The reset with this token, if it can still be used; a clear refusal if not."""
    reset = (
        await PasswordReset.select(
            PasswordReset.id,
            PasswordReset.user,
            PasswordReset.user.email.as_alias("email"),
            PasswordReset.expires_at,
            PasswordReset.used_at,
        )
        .where(PasswordReset.token_hash == hash_token(token))
        .first()
    )
    if reset is None:
        raise NotFound(RESET_GONE)
    if reset["used_at"] is not None:
        raise TestbedError(RESET_USED, status_code=410)
    if reset["expires_at"] <= datetime.now(UTC):
        minutes = int(RESET_LIFETIME.total_seconds() // 60)
        raise TestbedError(
            f"This password reset link expired at {reset['expires_at']:%H:%M} UTC (links last "
            f"{minutes} minutes). Ask for a new one.",
            status_code=410,
        )
    return reset


def _check_new_password(password: str, again: str, email: str) -> None:
    if password != again:
        raise InvalidInput(
            "The two passwords differ.",
            errors=[{"field": "new_password_again", "message": "Type the same password twice."}],
        )
    problems = password_problems(password, email=email)
    if problems:
        raise InvalidInput(
            "Choose a stronger password.",
            errors=[{"field": "new_password", "message": " ".join(problems)}],
        )


async def _set_password(
    *, user_id: int, password_hash: str, how: str, keep_session: str | None, settings: Settings
) -> None:
    """Inside `account_write()`: the new hash, every other session ended, the owner told."""
    user = await User.select(User.email, User.name).where(User.id == user_id).first()
    await User.update({User.password_hash: password_hash}).where(User.id == user_id)
    await end_sessions_of(user_id, keep_key=keep_session)
    await queue_mail(
        kind="password_changed",
        to_address=user["email"],
        context={
            "name": user["name"],
            "how": how,
            "when": f"{datetime.now(UTC):%Y-%m-%d %H:%M}",
        },
        settings=settings,
    )


async def reset_password(
    *, token: str, password: str, again: str, ip_address: str, settings: Settings
) -> int:
    """Set a new password with a reset link; the user's id. The link is used up."""
    reset = await usable_reset(token)
    _check_new_password(password, again, reset["email"])
    password_hash = await to_thread.run_sync(hash_password, password)
    async with account_write():
        used = (
            await PasswordReset.update({PasswordReset.used_at: datetime.now(UTC)})
            .where((PasswordReset.id == reset["id"]) & PasswordReset.used_at.is_null())
            .returning(PasswordReset.id)
        )
        if not used:  # another request used it a moment ago
            raise TestbedError(RESET_USED, status_code=410)
        # Any other link still out there would undo this reset: they all end now.
        await PasswordReset.update({PasswordReset.used_at: datetime.now(UTC)}).where(
            (PasswordReset.user == reset["user"]) & PasswordReset.used_at.is_null()
        )
        await _set_password(
            user_id=reset["user"],
            password_hash=password_hash,
            how="reset with a link sent by mail",
            keep_session=None,
            settings=settings,
        )
        await audit.record(
            "password_reset",
            actor_id=reset["user"],
            object_type="user",
            object_id=reset["user"],
            ip_address=ip_address,
        )
    wake_sender()
    return reset["user"]


async def change_password(
    principal: Principal,
    *,
    current: str,
    password: str,
    again: str,
    session_key: str | None,
    ip_address: str,
    settings: Settings,
) -> None:
    """Change one's own password; every session but this one is signed out."""
    await require_current_password(
        principal, current, ip_address=ip_address, failed_action="password_change_failed"
    )
    _check_new_password(password, again, principal.email)
    password_hash = await to_thread.run_sync(hash_password, password)
    async with account_write():
        await _set_password(
            user_id=principal.user_id,
            password_hash=password_hash,
            how="changed on the account page",
            keep_session=session_key,
            settings=settings,
        )
        await audit.record(
            "password_changed",
            actor_id=principal.user_id,
            object_type="user",
            object_id=principal.user_id,
            ip_address=ip_address,
        )
    wake_sender()


async def require_current_password(
    principal: Principal,
    password: str,
    *,
    ip_address: str,
    failed_action: str,
    field: str = "current_password",
) -> None:
    """Refuse an account form (password, address, deletion) without the current password.

    A wrong one counts as a failed sign-in: these forms must not be a way around the sign-in
    limit for someone who found a signed-in browser."""
    attempt_id = await claim_attempt(principal.email, ip_address)
    row = await User.select(User.password_hash).where(User.id == principal.user_id).first()
    if not await to_thread.run_sync(verify_password, row["password_hash"], password):
        await audit.record(
            failed_action,
            actor_id=principal.user_id,
            object_type="user",
            object_id=principal.user_id,
            ip_address=ip_address,
        )
        raise InvalidInput(
            "Your current password is not right.",
            errors=[{"field": field, "message": "This is not your password."}],
        )
    await LoginAttempt.update({LoginAttempt.succeeded: True}).where(LoginAttempt.id == attempt_id)
