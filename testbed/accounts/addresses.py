"""A person's address: verified by a mailed link after sign-up (until then they browse but do
not act: auth.address_verified), and changed only through a link mailed to the new one."""

from __future__ import annotations

from datetime import UTC, datetime

from testbed import audit
from testbed.accounts.recovery import require_current_password
from testbed.accounts.services import (
    account_write,
    claim_attempt,
    normalize_email,
    require_email,
)
from testbed.accounts.tokens import (
    LIFETIMES,
    claim_token,
    find_token,
    new_token,
    queue_verification,
)
from testbed.auth import Principal
from testbed.errors import Conflict, InvalidInput, TestbedError
from testbed.mail.outbox import queue_mail, wake_sender
from testbed.settings import Settings
from testbed.tables import PasswordReset, User

ALREADY_VERIFIED = "Your address is already verified."


async def resend_verification(principal: Principal, *, ip_address: str, settings: Settings):
    """Mail a new verification link (the earlier ones end); limited like password resets."""
    if principal.verified:
        raise Conflict(ALREADY_VERIFIED)
    await claim_attempt(principal.email, ip_address, purpose="verification")
    async with account_write():
        await queue_verification(
            user_id=principal.user_id,
            email=principal.email,
            name=principal.name,
            settings=settings,
        )
        await audit.record(
            "verification_sent",
            actor_id=principal.user_id,
            object_type="user",
            object_id=principal.user_id,
            ip_address=ip_address,
        )
    wake_sender()


async def verify_address(token: str, *, ip_address: str) -> str:
    """Follow a verification link: the account's address is verified; the address."""
    async with account_write():
        link = await claim_token(token, "verify")
        user = await User.select(User.email).where(User.id == link["user"]).first()
        if user is None or user["email"] != link["email"]:
            # The address changed since the link was sent: it proves nothing about the new one.
            raise TestbedError(
                "This link was sent to an address the account no longer uses.", status_code=410
            )
        await User.update({User.email_verified_at: datetime.now(UTC)}).where(
            (User.id == link["user"]) & User.email_verified_at.is_null()
        )
        await audit.record(
            "email_verified",
            actor_id=link["user"],
            object_type="user",
            object_id=link["user"],
            ip_address=ip_address,
        )
    return link["email"]


# --- changing the address -------------------------------------------------------------------


async def request_email_change(
    principal: Principal, *, new_email: str, password: str, ip_address: str, settings: Settings
) -> str:
    """Ask to move the account to another address: a link goes to the new address (the change
    happens when it is followed) and a notice to the current one. The new address, normalized.

    An address another account uses gets the same answer, and its owner a mail saying so
    instead of a link: the form does not tell who has an account here."""
    new_email = normalize_email(new_email)
    require_email(new_email, field="new_email")
    if new_email == principal.email:
        message = "This is already your address."
        raise InvalidInput(message, errors=[{"field": "new_email", "message": message}])
    await require_current_password(
        principal,
        password,
        ip_address=ip_address,
        failed_action="email_change_failed",
        field="email_password",
    )
    # Each request mails two addresses, one of them chosen by the requester: limited like
    # password resets, so the form cannot be used to flood a mailbox.
    await claim_attempt(principal.email, ip_address, purpose="email_change")
    now = datetime.now(UTC)
    async with account_write():
        if await User.exists().where(User.email == new_email):
            await queue_mail(
                kind="email_change_taken", to_address=new_email, context={}, settings=settings
            )
        else:
            token = await new_token(
                user_id=principal.user_id, purpose="change_email", email=new_email
            )
            await queue_mail(
                kind="email_change_confirm",
                to_address=new_email,
                context={
                    "name": principal.name,
                    "token": token,
                    "hours": int(LIFETIMES["change_email"].total_seconds() // 3600),
                },
                settings=settings,
            )
        await queue_mail(
            kind="email_change_requested",
            to_address=principal.email,
            context={
                "name": principal.name,
                "new_email": new_email,
                "when": f"{now:%Y-%m-%d %H:%M}",
            },
            settings=settings,
        )
        await audit.record(
            "email_change_requested",
            actor_id=principal.user_id,
            object_type="user",
            object_id=principal.user_id,
            ip_address=ip_address,
        )
    wake_sender()
    return new_email


async def pending_email_change(token: str) -> str:
    """The new address a change link would confirm (the link is not used up)."""
    return (await find_token(token, "change_email"))["email"]


async def confirm_email_change(token: str, *, ip_address: str, settings: Settings) -> str:
    """Follow the link mailed to the new address: the account moves to it (which counts as
    verified), earlier password reset links end, and the old address is told. The address."""
    now = datetime.now(UTC)
    async with account_write():
        link = await claim_token(token, "change_email")
        if await User.exists().where(User.email == link["email"]):
            raise Conflict(
                f"{link['email']} has been taken by another account since the link was sent; "
                "your address was not changed."
            )
        user = await User.select(User.email, User.name).where(User.id == link["user"]).first()
        await User.update({User.email: link["email"], User.email_verified_at: now}).where(
            User.id == link["user"]
        )
        # Reset links went to the old address: whoever reads it no longer controls the account.
        await PasswordReset.update({PasswordReset.used_at: now}).where(
            (PasswordReset.user == link["user"]) & PasswordReset.used_at.is_null()
        )
        await queue_mail(
            kind="email_changed",
            to_address=user["email"],
            context={
                "name": user["name"],
                "new_email": link["email"],
                "when": f"{now:%Y-%m-%d %H:%M}",
            },
            settings=settings,
        )
        await audit.record(
            "email_changed",
            actor_id=link["user"],
            object_type="user",
            object_id=link["user"],
            ip_address=ip_address,
        )
    wake_sender()
    return link["email"]
