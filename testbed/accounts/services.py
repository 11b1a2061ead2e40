"""Accounts and organizations: the rules, used by pages, the API and the CLI alike."""

from __future__ import annotations

import re
import unicodedata

from testbed import audit
from testbed.accounts.passwords import hash_password, password_problems
from testbed.errors import Conflict, InvalidInput
from testbed.tables import Membership, Organization, User

ORGANIZATION_KINDS = ("district", "vendor", "research")
NETWORK_SLUG = "network"
EMAIL_PATTERN = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def normalize_email(email: str) -> str:
    return email.strip().lower()


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


async def create_user(
    *, email: str, name: str, password: str, is_network_admin: bool = False
) -> int:
    email = normalize_email(email)
    if not EMAIL_PATTERN.match(email):
        raise InvalidInput("Enter a valid email address.", errors=[{"field": "email"}])
    if not name.strip():
        raise InvalidInput("Enter your name.", errors=[{"field": "name"}])
    problems = password_problems(password, email=email)
    if problems:
        raise InvalidInput("Choose a stronger password.", errors=problems)
    if await User.exists().where(User.email == email):
        raise Conflict("An account with this email already exists; sign in instead.")
    rows = await User.insert(
        User(
            email=email,
            name=name.strip(),
            password_hash=hash_password(password),
            is_network_admin=is_network_admin,
        )
    )
    return rows[0]["id"]


async def create_organization(
    *, kind: str, name: str, state: str | None = None, verified: bool = False
) -> int:
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
    await Membership.insert(Membership(user=user_id, organization=organization_id, role=role))


async def network_organization_id() -> int:
    row = (
        await Organization.select(Organization.id).where(Organization.slug == NETWORK_SLUG).first()
    )
    if row:
        return row["id"]
    rows = await Organization.insert(
        Organization(kind="network", name="Network office", slug=NETWORK_SLUG, verified=True)
    )
    return rows[0]["id"]


async def create_network_admin(*, email: str, name: str, password: str) -> bool:
    """Create a network admin, or promote the existing account; True when created."""
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
    user_id = await create_user(email=email, name=name, password=password, is_network_admin=True)
    await add_membership(user_id, await network_organization_id(), role="admin")
    await audit.record(
        "user_created",
        object_type="user",
        object_id=user_id,
        detail={"is_network_admin": True, "via": "cli"},
    )
    return True
