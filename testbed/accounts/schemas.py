"""API shapes for accounts (msgspec Structs)."""

from __future__ import annotations

from datetime import datetime

import msgspec


class MembershipOut(msgspec.Struct):
    organization_id: int
    kind: str
    name: str
    slug: str
    role: str
    verified: bool


class Me(msgspec.Struct):
    id: int
    email: str
    name: str
    is_network_admin: bool
    email_verified: bool  # until it is, writes are refused (403) with the way to verify
    role: str
    memberships: list[MembershipOut]


class TokenIn(msgspec.Struct):
    name: str


class TokenCreated(msgspec.Struct):
    id: int
    name: str
    token: str
    note: str = "Store this token now: it is shown only once."


class TokenOut(msgspec.Struct):
    id: int
    name: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


class OrganizationOut(msgspec.Struct):
    id: int
    kind: str
    name: str
    slug: str
    state: str | None
    verified: bool


class MemberOut(msgspec.Struct):
    id: int
    name: str
    email: str
    role: str


class InvitationIn(msgspec.Struct):
    email: str
    role: str = "member"


class InvitationCreated(msgspec.Struct):
    email: str
    role: str
    link: str


class PilotRoleIn(msgspec.Struct):
    email: str
    role: str = "researcher"


class PilotRoleOut(msgspec.Struct):
    id: int
    name: str
    email: str
    role: str
    # False when the holder is no longer a member of a verified research organization, or is a
    # member of the pilot's vendor: such a role counts for nothing.
    in_effect: bool


class AuditEventOut(msgspec.Struct):
    id: int
    action: str
    object_type: str
    object_id: str
    detail: dict
    ip_address: str
    created_at: datetime
    actor_email: str | None
