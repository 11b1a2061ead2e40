"""Deleting one's own account.

What the person wrote (designs, uploads, implementation logs, decisions, matching rounds, audit
events) stays, because others rely on it; it keeps pointing at the account's row, which keeps
nothing that identifies them: the name becomes "a former member" (so every page that shows an
author says so), the address a placeholder that is no address (so the real one is free for a
new account), the password unusable. Their memberships, pilot roles, sessions, tokens, links,
notifications, pending mail and sign-in attempts go, and their address is blanked from the
audit log's details.

An organization is never left without an administrator while it has other members: its last
administrator makes someone else one first.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

from testbed import audit
from testbed.accounts.recovery import require_current_password
from testbed.accounts.services import account_write
from testbed.auth import Principal
from testbed.errors import Conflict
from testbed.sessions import end_sessions_of
from testbed.tables import (
    AccessToken,
    AuditEvent,
    EmailToken,
    Invitation,
    LoginAttempt,
    Membership,
    Notification,
    OutboxMessage,
    PasswordReset,
    PilotRole,
    User,
)

FORMER_MEMBER = "a former member"
# What replaces the address in the audit log's details.
REMOVED_ADDRESS = "(address of a deleted account)"


def placeholder_address(user_id: int) -> str:
    """Unique, and not an address (no @): it can never be signed up with or mailed."""
    return f"deleted-account-{user_id}"


async def delete_account(principal: Principal, *, password: str, ip_address: str) -> None:
    await require_current_password(
        principal,
        password,
        ip_address=ip_address,
        failed_action="account_deletion_failed",
        field="delete_password",
    )
    user_id, email = principal.user_id, principal.email
    async with account_write():  # the last-admin rule reads, then memberships go
        await _require_not_last_admin(user_id)
        for table in (Membership, PilotRole, AccessToken, PasswordReset, EmailToken):
            await table.delete().where(table.user == user_id)
        await Notification.delete().where(Notification.user == user_id)
        await Invitation.delete().where(Invitation.email == email)
        await LoginAttempt.delete().where(LoginAttempt.email == email)
        await OutboxMessage.delete().where(OutboxMessage.to_address == email)
        await _blank_address_in_audit_log(email)
        await end_sessions_of(user_id)
        await User.update(
            {
                User.email: placeholder_address(user_id),
                User.name: FORMER_MEMBER,
                User.password_hash: "!",  # no password matches
                User.active: False,
                User.is_network_admin: False,
                User.email_verified_at: None,
                User.last_login_at: None,
                User.deleted_at: datetime.now(UTC),
            }
        ).where(User.id == user_id)
        await audit.record(
            "account_deleted",
            actor_id=user_id,
            object_type="user",
            object_id=user_id,
            ip_address=ip_address,
        )


async def _require_not_last_admin(user_id: int) -> None:
    """Refuse while the person is the only administrator of an organization with other
    members, naming whom to make administrator first."""
    for membership in await Membership.select(
        Membership.organization,
        Membership.organization.name.as_alias("organization_name"),
    ).where((Membership.user == user_id) & (Membership.role == "admin")):
        organization = membership["organization"]
        others = await Membership.select(
            Membership.role, Membership.user.name.as_alias("name")
        ).where((Membership.organization == organization) & (Membership.user != user_id))
        if others and not any(other["role"] == "admin" for other in others):
            names = ", ".join(sorted(other["name"] for other in others))
            raise Conflict(
                f"You are the only administrator of {membership['organization_name']}, which "
                f"has other members ({names}). Make one of them an administrator first on "
                f"/organizations/{organization}/members, then delete your account."
            )


async def _blank_address_in_audit_log(email: str) -> None:
    """Details that name the address (failed sign-ins, sign-up attempts, invitations) keep the
    event, not the address. Only events whose text holds it are read."""
    rows = await AuditEvent.raw(
        "SELECT id, detail FROM audit_event WHERE CAST(detail AS TEXT) LIKE {}",
        f"%{email}%",
    )
    for row in rows:
        detail = row["detail"]
        detail = json.loads(detail) if isinstance(detail, str) else detail
        if not isinstance(detail, dict):
            continue
        blanked = {
            key: REMOVED_ADDRESS if value == email else value for key, value in detail.items()
        }
        await AuditEvent.update({AuditEvent.detail: blanked}).where(AuditEvent.id == row["id"])
