"""Accounts and organizations: the rules, used by pages, the API and the CLI alike."""

from __future__ import annotations

import re
import secrets
import unicodedata
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta

from anyio import to_thread
from email_validator import EmailNotValidError, validate_email

from testbed import audit
from testbed.access import may_hold_pilot_role, pilot_roles, pilot_vendor_id
from testbed.accounts.passwords import (
    dummy_password_hash,
    hash_password,
    password_problems,
    verify_password,
)
from testbed.accounts.tokens import queue_verification
from testbed.auth import Principal, hash_token, load_principal
from testbed.db import is_unique_violation, serialized
from testbed.errors import (
    Conflict,
    Forbidden,
    InvalidInput,
    NotFound,
    TestbedError,
    TooManyAttempts,
)
from testbed.inputs import InputReader
from testbed.mail.outbox import queue_mail, wake_sender
from testbed.settings import Settings
from testbed.tables import (
    AccessToken,
    AuditEvent,
    Invitation,
    LoginAttempt,
    Membership,
    Organization,
    OutboxMessage,
    PilotRole,
    User,
)

ORGANIZATION_KINDS = ("district", "vendor", "research")
MEMBERSHIP_ROLES = ("admin", "member")
PILOT_ROLES = ("researcher", "observer")
ROLE_TAKEN = "This person already has a role on this pilot."
TOKEN_PREFIX = "tb_"  # noqa: S105  (a visible prefix lets secret scanners spot leaked tokens)
NETWORK_SLUG = "network"
INVITATION_GONE = "This invitation is unknown or has already been used."
INVITATION_LIFETIME = timedelta(days=7)
EMAIL_TAKEN = "An account with this email already exists; sign in instead."
NAME_MAX_LENGTH = 120  # account.name
ORGANIZATION_NAME_MAX_LENGTH = 200  # organization.name
# PostgreSQL advisory lock keys (the SQLite write lock plays their part there).
ACCOUNT_WRITES_LOCK = int.from_bytes(b"accounts", "big")
SIGN_IN_LOCK = int.from_bytes(b"sign-ins", "big")


@asynccontextmanager
async def account_write() -> AsyncIterator[None]:
    """One transaction for a write whose rule reads first (is this address taken, is this the
    last admin, was this invitation used), serialized with every other such write: accounts
    change rarely, so one lock for them all costs nothing and leaves no pair of rules to race.
    A unique index that still refuses a row (a write outside this lock) is a 409, not a 500."""
    try:
        async with serialized(User, ACCOUNT_WRITES_LOCK):
            yield
    except Exception as error:
        if is_unique_violation(error):
            raise Conflict(
                "Someone else made the same change just now; reload and check."
            ) from None
        raise


def normalize_email(email: str) -> str:
    return email.strip().lower()


def email_problem(email: str) -> str | None:
    """Why this address cannot be used, or None. An address the mail server could not deliver
    to (a pasted comma, a display name, non-ASCII before the @) is refused at the form rather
    than found out when its verification mail fails. email-validator checks the syntax and the
    lengths (RFC 5321/5322); special-use domains (.example, .test) stay allowed for the demo
    and tests, and no DNS is asked."""
    try:
        validate_email(
            email, check_deliverability=False, allow_smtputf8=False, globally_deliverable=False
        )
    except EmailNotValidError as error:
        return f"Enter a valid email address. {error}"
    return None


def require_email(email: str, field: str = "email") -> None:
    problem = email_problem(email)
    if problem:
        raise InvalidInput(problem, errors=[{"field": field, "message": problem}])


def one_line(text: str) -> str:
    """Names are shown on one line and reach mail headers: line breaks and runs of spaces
    become one space."""
    return " ".join(text.split())


def slugify(name: str) -> str:
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", ascii_name.lower()).strip("-")[:100] or "organization"


async def unique_slug(name: str) -> str:
    base = slugify(name)
    taken = {
        row["slug"]
        for row in await Organization.select(Organization.slug).where(
            Organization.slug.like(f"{base}%")
        )
    }
    if base not in taken:
        return base
    suffix = 2
    while f"{base}-{suffix}" in taken:
        suffix += 1
    return f"{base}-{suffix}"


def _check_new_user(email: str, name: str, password: str) -> str:
    """The checks of a new account; its name on one line."""
    require_email(email)
    name = one_line(name)
    if not name or len(name) > NAME_MAX_LENGTH:
        message = f"Enter your name (at most {NAME_MAX_LENGTH} characters)."
        raise InvalidInput(message, errors=[{"field": "name", "message": message}])
    problems = password_problems(password, email=email)
    if problems:
        raise InvalidInput(
            "Choose a stronger password.",
            errors=[{"field": "password", "message": " ".join(problems)}],
        )
    return name


async def _insert_user(
    *,
    email: str,
    name: str,
    password_hash: str,
    verified: bool,
    is_network_admin: bool = False,
) -> int:
    """Inside `account_write()`: the new user's id; Conflict when the address is taken."""
    if await User.exists().where(User.email == email):
        raise Conflict(EMAIL_TAKEN)
    rows = await User.insert(
        User(
            email=email,
            name=name.strip(),
            password_hash=password_hash,
            is_network_admin=is_network_admin,
            email_verified_at=datetime.now(UTC) if verified else None,
        )
    )
    return rows[0]["id"]


async def create_user(
    *, email: str, name: str, password: str, is_network_admin: bool = False
) -> int:
    """An account made by whoever runs the service (the command line, the demo): its address
    counts as verified. People who sign up themselves verify theirs (`sign_up`)."""
    email = normalize_email(email)
    name = _check_new_user(email, name, password)
    # Hashing takes a tenth of a second of CPU: in a thread, and before taking the lock.
    password_hash = await to_thread.run_sync(hash_password, password)
    async with account_write():
        return await _insert_user(
            email=email,
            name=name,
            password_hash=password_hash,
            verified=True,
            is_network_admin=is_network_admin,
        )


async def create_organization(
    *, kind: str, name: str, state: str | None = None, verified: bool = False
) -> int:
    async with account_write():  # the free slug is read, then taken
        rows = await Organization.insert(
            Organization(
                kind=kind,
                name=name.strip(),
                slug=await unique_slug(name),
                state=state,
                verified=verified,
            )
        )
    return rows[0]["id"]


async def add_membership(user_id: int, organization_id: int, role: str = "member") -> None:
    async with account_write():
        already = await Membership.exists().where(
            (Membership.user == user_id) & (Membership.organization == organization_id)
        )
        if not already:
            await Membership.insert(
                Membership(user=user_id, organization=organization_id, role=role)
            )


async def network_organization_id() -> int:
    async with account_write():
        row = (
            await Organization.select(Organization.id)
            .where(Organization.slug == NETWORK_SLUG)
            .first()
        )
        if row:
            return row["id"]
        rows = await Organization.insert(
            Organization(kind="network", name="Network office", slug=NETWORK_SLUG, verified=True)
        )
        return rows[0]["id"]


async def create_network_admin(*, email: str, name: str, password: str) -> bool:
    """Create a network admin, or promote the existing account; True when created."""
    async with account_write():
        existing = await User.select(User.id).where(User.email == normalize_email(email)).first()
        if existing:
            await User.update({User.is_network_admin: True}).where(User.id == existing["id"])
            await audit.record(
                "role_changed",
                object_type="user",
                object_id=existing["id"],
                detail={"is_network_admin": True, "via": "cli"},
            )
            return False
        user_id = await create_user(
            email=email, name=name, password=password, is_network_admin=True
        )
        await add_membership(user_id, await network_organization_id(), role="admin")
        await audit.record(
            "user_created",
            object_type="user",
            object_id=user_id,
            detail={"is_network_admin": True, "via": "cli"},
        )
    return True


# --- signing in -----------------------------------------------------------------------------

LOGIN_WINDOW = timedelta(minutes=15)
MAX_FAILURES_PER_ACCOUNT = 5
MAX_FAILURES_PER_ADDRESS = 20


async def _recent_failures(where, purpose: str) -> int:
    since = datetime.now(UTC) - LOGIN_WINDOW
    return await LoginAttempt.count().where(
        where
        & LoginAttempt.succeeded.eq(False)
        & (LoginAttempt.purpose == purpose)
        & (LoginAttempt.created_at >= since)
    )


# What each limited action is called in its refusal; each counts only its own attempts.
ATTEMPT_WORDS = {
    "sign_in": "failed sign-ins",
    "password_reset": "password reset requests",
    "verification": "requests for a verification link",
    "email_change": "requests to change the address",
}


async def claim_attempt(email: str, ip_address: str, purpose: str = "sign_in") -> int:
    """Check the limits and record the attempt in one step, so simultaneous attempts cannot all
    pass the check before any is recorded. The attempt counts as failed until it succeeds (a
    reset request never does: every request counts); returns its id."""
    minutes = int(LOGIN_WINDOW.total_seconds() // 60)
    words = ATTEMPT_WORDS[purpose]
    async with serialized(LoginAttempt, SIGN_IN_LOCK):
        account = LoginAttempt.email == email
        if await _recent_failures(account, purpose) >= MAX_FAILURES_PER_ACCOUNT:
            raise TooManyAttempts(
                f"Too many {words} for this account. Wait {minutes} minutes and try "
                "again, or ask your organization's administrator to help."
            )
        address = LoginAttempt.ip_address == ip_address
        if await _recent_failures(address, purpose) >= MAX_FAILURES_PER_ADDRESS:
            raise TooManyAttempts(
                f"Too many {words} from your network address. Wait {minutes} minutes."
            )
        rows = await LoginAttempt.insert(
            LoginAttempt(email=email, ip_address=ip_address, succeeded=False, purpose=purpose)
        )
    return rows[0]["id"]


async def authenticate(*, email: str, password: str, ip_address: str) -> int:
    """The user id for these credentials; raises after too many recent failures."""
    email = normalize_email(email)
    attempt_id = await claim_attempt(email, ip_address)
    user = (
        await User.select(User.id, User.password_hash, User.active)
        .where(User.email == email)
        .first()
    )
    known = user is not None and user["active"]
    # Unknown addresses are checked against a dummy hash: the answer takes as long either way.
    checked_hash = user["password_hash"] if known else dummy_password_hash()
    matches = await to_thread.run_sync(verify_password, checked_hash, password)
    valid = known and matches
    if not valid:
        await audit.record(
            "login_failed",
            object_type="user",
            object_id=user["id"] if user else "",
            detail={"email": email},
            ip_address=ip_address,
        )
        raise InvalidInput("The email or password is not right.")
    await LoginAttempt.update({LoginAttempt.succeeded: True}).where(LoginAttempt.id == attempt_id)
    await User.update({User.last_login_at: datetime.now(UTC)}).where(User.id == user["id"])
    await audit.record(
        "login",
        actor_id=user["id"],
        object_type="user",
        object_id=user["id"],
        ip_address=ip_address,
    )
    return user["id"]


# --- sign-up, organizations and invitations -------------------------------------------------


async def sign_up(
    *,
    name: str,
    email: str,
    password: str,
    organization_kind: str,
    organization_name: str,
    state: str | None,
    settings: Settings,
    invitation_token: str | None = None,
    ip_address: str = "",
) -> int | None:
    """Create an account that joins an organization by invitation, or creates a new one
    (unverified until a network admin verifies it) with the new user as its admin; returns
    its id. A new account's address is verified by a mailed link; joining by an invitation
    verifies it at once (the invitation's link was mailed to that address).

    For an address that already has an account nothing is created and None is returned, and
    the caller answers exactly as for a new account (no session: both sign in next), so
    sign-up does not tell who has an account here. The owner of the address is told by mail
    that someone tried (at most once an hour, so the form cannot flood a mailbox)."""
    invitation = await usable_invitation(invitation_token) if invitation_token else None
    if invitation is not None and normalize_email(email) != invitation["email"]:
        raise InvalidInput(
            "This invitation is for another address.",
            errors=[
                {
                    "field": "email",
                    "message": f"This invitation was sent to {invitation['email']}: "
                    "sign up with that address, or ask for an invitation to yours.",
                }
            ],
        )
    reader = InputReader({})
    if invitation is None:
        if organization_kind not in ORGANIZATION_KINDS:
            reader.problem("organization_kind", "Choose district, vendor or research organization.")
        organization_name = one_line(organization_name)
        if not organization_name or len(organization_name) > ORGANIZATION_NAME_MAX_LENGTH:
            reader.problem(
                "organization_name",
                f"Name your organization (at most {ORGANIZATION_NAME_MAX_LENGTH} characters).",
            )
        if state and not re.fullmatch(r"[A-Z]{2}", state.strip().upper()):
            reader.problem("state", "Use the two-letter state code.")
    reader.raise_problems()
    email = normalize_email(email)
    name = _check_new_user(email, name, password)
    password_hash = await to_thread.run_sync(hash_password, password)
    async with account_write():
        if await User.exists().where(User.email == email):
            await _tell_owner_of_existing_account(email, ip_address, settings)
            user_id = None
        else:
            user_id = await _insert_user(
                email=email,
                name=name,
                password_hash=password_hash,
                verified=invitation is not None,
            )
            if invitation is not None:
                await _accept(invitation, user_id)
            else:
                await queue_verification(
                    user_id=user_id, email=email, name=name.strip(), settings=settings
                )
                organization_id = await create_organization(
                    kind=organization_kind,
                    name=organization_name,
                    state=state.strip().upper() if state else None,
                )
                await add_membership(user_id, organization_id, role="admin")
            await audit.record(
                "user_created",
                actor_id=user_id,
                object_type="user",
                object_id=user_id,
                ip_address=ip_address,
            )
    wake_sender()
    return user_id


async def _tell_owner_of_existing_account(email: str, ip_address: str, settings: Settings):
    await audit.record(
        "signup_for_existing_account",
        object_type="user",
        detail={"email": email},
        ip_address=ip_address,
    )
    if not await _told_recently(email, "signup_existing"):
        await queue_mail(kind="signup_existing", to_address=email, context={}, settings=settings)


async def _told_recently(email: str, kind: str) -> bool:
    """Whether a mail of this kind went to this address within the last hour."""
    return await OutboxMessage.exists().where(
        (OutboxMessage.to_address == email)
        & (OutboxMessage.kind == kind)
        & (OutboxMessage.created_at >= datetime.now(UTC) - timedelta(hours=1))
    )


async def find_invitation(token: str) -> dict | None:
    """The invitation with this token, whatever its state (used, expired), or None."""
    return (
        await Invitation.select(
            Invitation.id,
            Invitation.email,
            Invitation.role,
            Invitation.organization,
            Invitation.organization.name.as_alias("organization_name"),
            Invitation.created_at,
            Invitation.accepted_at,
        )
        .where(Invitation.token_hash == hash_token(token))
        .first()
    )


def invitation_expires_at(invitation: dict) -> datetime:
    return invitation["created_at"] + INVITATION_LIFETIME


async def usable_invitation(token: str) -> dict:
    """The invitation with this token if it can still be accepted; a clear error if not."""
    invitation = await find_invitation(token)
    if invitation is None or invitation["accepted_at"] is not None:
        raise NotFound(INVITATION_GONE)
    expires_at = invitation_expires_at(invitation)
    if expires_at <= datetime.now(UTC):
        raise TestbedError(
            f"This invitation expired on {expires_at:%Y-%m-%d} (invitations last "
            f"{INVITATION_LIFETIME.days} days). Ask an administrator of "
            f"{invitation['organization_name']} for a new one.",
            status_code=410,
        )
    return invitation


def require_invited_address(invitation: dict, email: str) -> None:
    # An invitation is for one person: the link may be forwarded or leak, and accepting it
    # under another address would let whoever holds it join the organization.
    if normalize_email(email) != invitation["email"]:
        raise Forbidden(
            f"This invitation was sent to {invitation['email']}; only that address can accept "
            "it. Sign in (or sign up) with that address, or ask for an invitation to yours."
        )


def invitation_link(settings: Settings, token: str) -> str:
    # From the configured public address, as in the mail: a request's Host header is chosen
    # by whoever sends it.
    return f"{settings.base_url}/invitations/{token}"


async def create_invitation(
    principal: Principal,
    *,
    organization_id: int,
    email: str,
    settings: Settings,
    role: str = "member",
) -> str:
    """Invite a colleague: the link is mailed to them, and the one-time token returned so the
    inviter can also copy the link."""
    require_org_admin(principal, organization_id)
    email = normalize_email(email)
    require_email(email)
    if role not in MEMBERSHIP_ROLES:
        raise InvalidInput(
            "The role must be admin or member.",
            errors=[{"field": "role", "message": "Choose admin or member."}],
        )
    token = secrets.token_urlsafe(32)
    organization = await get_organization(organization_id)
    # The invitation and its mail are one transaction: both exist, or neither.
    async with Invitation._meta.db.transaction():
        await Invitation.insert(
            Invitation(
                organization=organization_id,
                email=email,
                role=role,
                token_hash=hash_token(token),
                invited_by=principal.user_id,
            )
        )
        await queue_mail(
            kind="invitation",
            to_address=email,
            context={
                "inviter": principal.name,
                "organization": organization["name"],
                "role": "an administrator" if role == "admin" else "a member",
                "expires": f"{datetime.now(UTC) + INVITATION_LIFETIME:%Y-%m-%d}",
                "token": token,
            },
            settings=settings,
        )
        await audit.record(
            "invitation_created",
            actor_id=principal.user_id,
            object_type="organization",
            object_id=organization_id,
            detail={"email": email, "role": role},
        )
    wake_sender()
    return token


async def _accept(invitation: dict, user_id: int) -> None:
    """Inside `account_write()`: the invitation, read again under the lock, is used once."""
    used = (
        await Invitation.update({Invitation.accepted_at: datetime.now(UTC)})
        .where((Invitation.id == invitation["id"]) & Invitation.accepted_at.is_null())
        .returning(Invitation.id)
    )
    if not used:
        raise NotFound(INVITATION_GONE)
    # The link was mailed to the invited address, which is this account's: following it
    # proves the address as a verification link would.
    await User.update({User.email_verified_at: datetime.now(UTC)}).where(
        (User.id == user_id) & User.email_verified_at.is_null()
    )
    await add_membership(user_id, invitation["organization"], role=invitation["role"])
    await audit.record(
        "invitation_accepted",
        actor_id=user_id,
        object_type="organization",
        object_id=invitation["organization"],
    )


async def accept_invitation(principal: Principal, token: str) -> int:
    invitation = await usable_invitation(token)
    require_invited_address(invitation, principal.email)
    async with account_write():
        await _accept(invitation, principal.user_id)
    return invitation["organization"]


def require_org_admin(principal: Principal, organization_id: int) -> None:
    if not (principal.is_network_admin or principal.is_admin_of(organization_id)):
        raise Forbidden("Only this organization's administrators can do this.")


async def get_organization(organization_id: int) -> dict:
    row = await Organization.select().where(Organization.id == organization_id).first()
    if row is None:
        raise NotFound("There is no such organization.")
    return row


async def list_members(principal: Principal, organization_id: int) -> list[dict]:
    if not (principal.is_network_admin or principal.is_member_of(organization_id)):
        raise Forbidden("Only this organization's members can see who belongs to it.")
    return (
        await Membership.select(
            Membership.id,
            Membership.role,
            Membership.user.name.as_alias("name"),
            Membership.user.email.as_alias("email"),
        )
        .where(Membership.organization == organization_id)
        .order_by(Membership.user.name)
    )


async def change_member_role(
    principal: Principal, *, organization_id: int, membership_id: int, role: str
) -> None:
    require_org_admin(principal, organization_id)
    if role not in MEMBERSHIP_ROLES:
        raise InvalidInput("The role must be admin or member.")
    async with account_write():  # two admins demoting each other at once leave one admin
        membership = (
            await Membership.select(Membership.id, Membership.user, Membership.role)
            .where((Membership.id == membership_id) & (Membership.organization == organization_id))
            .first()
        )
        if membership is None:
            raise NotFound("There is no such member in this organization.")
        if membership["role"] == "admin" and role != "admin":
            admins = await Membership.count().where(
                (Membership.organization == organization_id) & (Membership.role == "admin")
            )
            if admins <= 1:
                raise Conflict("An organization needs at least one administrator.")
        await Membership.update({Membership.role: role}).where(Membership.id == membership_id)
        await audit.record(
            "role_changed",
            actor_id=principal.user_id,
            object_type="membership",
            object_id=membership_id,
            detail={"user": membership["user"], "from": membership["role"], "to": role},
        )


async def list_organizations(*, verified: bool | None = None) -> list[dict]:
    query = (
        Organization.select(
            Organization.id,
            Organization.kind,
            Organization.name,
            Organization.slug,
            Organization.state,
            Organization.verified,
            Organization.created_at,
        )
        .where(Organization.kind != "network")
        .order_by(Organization.name)
    )
    if verified is not None:
        query = query.where(Organization.verified.eq(verified))
    return await query


async def verify_organization(principal: Principal, organization_id: int) -> None:
    if not principal.is_network_admin:
        raise Forbidden("Only network administrators verify organizations.")
    await get_organization(organization_id)
    await Organization.update({Organization.verified: True}).where(
        Organization.id == organization_id
    )
    await audit.record(
        "organization_verified",
        actor_id=principal.user_id,
        object_type="organization",
        object_id=organization_id,
    )


# --- the profile ----------------------------------------------------------------------------


async def update_profile(principal: Principal, *, name: str) -> None:
    """What a person may change about themselves besides the address and password: the name
    shown to colleagues and on what they wrote."""
    name = one_line(name)
    if not name or len(name) > NAME_MAX_LENGTH:
        message = f"Enter your name (at most {NAME_MAX_LENGTH} characters)."
        raise InvalidInput(message, errors=[{"field": "display_name", "message": message}])
    await User.update({User.name: name}).where(User.id == principal.user_id)
    await audit.record(
        "profile_updated",
        actor_id=principal.user_id,
        object_type="user",
        object_id=principal.user_id,
    )


# --- personal access tokens -----------------------------------------------------------------


async def create_access_token(principal: Principal, name: str) -> tuple[int, str]:
    """Returns the token's id and the token itself, which is shown once and never stored."""
    name = name.strip()
    if not name or len(name) > 100:
        raise InvalidInput(
            'Name the token (up to 100 characters), e.g. "nightly upload".',
            errors=[{"field": "name", "message": "Name the token."}],
        )
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    rows = await AccessToken.insert(
        AccessToken(user=principal.user_id, name=name, token_hash=hash_token(token))
    )
    await audit.record(
        "token_created",
        actor_id=principal.user_id,
        object_type="token",
        object_id=rows[0]["id"],
        detail={"name": name},
    )
    return rows[0]["id"], token


async def list_access_tokens(principal: Principal) -> list[dict]:
    return (
        await AccessToken.select(
            AccessToken.id,
            AccessToken.name,
            AccessToken.created_at,
            AccessToken.last_used_at,
            AccessToken.revoked_at,
        )
        .where(AccessToken.user == principal.user_id)
        .order_by(AccessToken.id, ascending=False)
    )


async def revoke_access_token(principal: Principal, token_id: int) -> None:
    updated = (
        await AccessToken.update({AccessToken.revoked_at: datetime.now(UTC)})
        .where(
            (AccessToken.id == token_id)
            & (AccessToken.user == principal.user_id)
            & AccessToken.revoked_at.is_null()
        )
        .returning(AccessToken.id)
    )
    if not updated:
        raise NotFound("You have no active token with this id.")
    await audit.record(
        "token_revoked", actor_id=principal.user_id, object_type="token", object_id=token_id
    )


# --- per-pilot roles ------------------------------------------------------------------------


async def list_pilot_roles(pilot_id: int) -> list[dict]:
    return await pilot_roles(pilot_id)


async def has_pilot_role(pilot_id: int, user_id: int) -> bool:
    return await PilotRole.exists().where(
        (PilotRole.pilot == pilot_id) & (PilotRole.user == user_id)
    )


async def grant_pilot_role(principal: Principal, pilot_id: int, *, email: str, role: str) -> None:
    if role not in PILOT_ROLES:
        raise InvalidInput(
            f"The role must be one of: {', '.join(PILOT_ROLES)}.",
            errors=[{"field": "role", "message": "Choose a role."}],
        )
    user = await User.select(User.id).where(User.email == normalize_email(email)).first()
    holder = await load_principal(user["id"]) if user else None
    # No account and no research membership get the same words: a vendor must not learn from
    # this form which addresses have accounts.
    _require_role_holder(holder, await pilot_vendor_id(pilot_id))
    if await has_pilot_role(pilot_id, user["id"]):
        raise Conflict(ROLE_TAKEN)
    try:
        await PilotRole.insert(PilotRole(pilot=pilot_id, user=user["id"], role=role))
    except Exception as error:
        # A simultaneous grant got there between the check and the write; the unique index
        # refused this one, which is answered as if it had come second all along.
        if is_unique_violation(error):
            raise Conflict(ROLE_TAKEN) from None
        raise
    await audit.record(
        "pilot_role_granted",
        actor_id=principal.user_id,
        object_type="pilot",
        object_id=pilot_id,
        detail={"user": user["id"], "role": role},
    )


def _require_role_holder(holder: Principal | None, vendor_id: int) -> None:
    """Refuse a role that would count for nothing (the same rule access.py reads roles by)."""
    if holder is not None and may_hold_pilot_role(holder, vendor_id):
        return
    if holder is not None and holder.is_member_of(vendor_id):
        message = (
            "This person is a member of the pilot's vendor: a role on the pilot would give them "
            "nothing more, because student-level rows never reach a vendor's members."
        )
    else:
        message = (
            "Roles on a pilot are for researchers: give the address a member of a verified "
            "research organization signs in with (invite them to their organization first)."
        )
    raise InvalidInput(message, errors=[{"field": "email", "message": message}])


async def revoke_pilot_role(principal: Principal, pilot_id: int, role_id: int) -> None:
    removed = (
        await PilotRole.delete()
        .where((PilotRole.id == role_id) & (PilotRole.pilot == pilot_id))
        .returning(PilotRole.user, PilotRole.role)
    )
    if not removed:
        raise NotFound("There is no such role on this pilot.")
    await audit.record(
        "pilot_role_revoked",
        actor_id=principal.user_id,
        object_type="pilot",
        object_id=pilot_id,
        detail=removed[0],
    )


# --- the audit log --------------------------------------------------------------------------


async def audit_events(
    *, action: str | None = None, limit: int = 100, offset: int = 0
) -> list[dict]:
    query = (
        AuditEvent.select(
            AuditEvent.id,
            AuditEvent.action,
            AuditEvent.object_type,
            AuditEvent.object_id,
            AuditEvent.detail,
            AuditEvent.ip_address,
            AuditEvent.created_at,
            AuditEvent.actor.email.as_alias("actor_email"),
            AuditEvent.actor.deleted_at.as_alias("actor_deleted_at"),
        )
        .order_by(AuditEvent.id, ascending=False)
        .limit(limit)
        .offset(offset)
    )
    if action:
        query = query.where(AuditEvent.action == action)
    rows = await query.output(load_json=True)
    for row in rows:
        # A deleted account's placeholder address means nothing to a reader.
        if row.pop("actor_deleted_at") is not None:
            row["actor_email"] = "a former member"
    return rows
