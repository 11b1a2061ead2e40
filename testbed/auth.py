"""Who is asking: the principal of a request, the middleware that finds it, and the guards.

Pages authenticate with the server-side session; the API with a personal access token
(`Authorization: Bearer ...`). On /api/ the session is honoured for reading only, because API
writes carry no CSRF token: scripts use tokens.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from types import MappingProxyType
from typing import Any

from litestar.connection import ASGIConnection, Request
from litestar.di import NamedDependency, Provide
from litestar.handlers.base import BaseRouteHandler
from litestar.middleware import AbstractAuthenticationMiddleware, AuthenticationResult

from testbed.errors import Forbidden, NotAuthenticated
from testbed.sessions import SESSION_CSRF_KEY
from testbed.tables import AccessToken, User

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
TOKEN_TOUCH_INTERVAL = timedelta(minutes=5)

ROLE_LABELS = {
    "district": "district coordinator",
    "vendor": "entrepreneur",
    "research": "researcher",
    "network": "network staff",
}


@dataclass(frozen=True)
class OrgMembership:
    organization_id: int
    kind: str
    name: str
    slug: str
    role: str
    verified: bool


@dataclass(frozen=True)
class Principal:
    user_id: int
    email: str
    name: str
    is_network_admin: bool
    memberships: tuple[OrgMembership, ...] = field(default_factory=tuple)
    unread_notifications: int = 0
    via_token: bool = False
    verified: bool = True  # the address was confirmed by a mailed link (address_verified)

    @property
    def kinds(self) -> set[str]:
        return {m.kind for m in self.memberships}

    @property
    def role_label(self) -> str:
        if self.is_network_admin:
            return "network admin"
        labels = [ROLE_LABELS[m.kind] for m in self.memberships if m.kind in ROLE_LABELS]
        return ", ".join(dict.fromkeys(labels)) or "member"

    def membership(self, organization_id: int) -> OrgMembership | None:
        return next((m for m in self.memberships if m.organization_id == organization_id), None)

    def is_member_of(self, organization_id: int) -> bool:
        return self.membership(organization_id) is not None

    def is_admin_of(self, organization_id: int) -> bool:
        found = self.membership(organization_id)
        return found is not None and found.role == "admin"

    def organizations_of_kind(self, kind: str, *, verified_only: bool = False) -> list[int]:
        return [
            m.organization_id
            for m in self.memberships
            if m.kind == kind and (m.verified or not verified_only)
        ]


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


# Who is asking, their organizations and their unread notifications, read on every request in
# one statement (one round trip; raw SQL because building the equivalent joined select with the
# ORM costs more than running it). Columns of the tables' own declared types come back as
# Python values on both databases.
PRINCIPAL_SQL = """
SELECT account.id, account.email, account.name, account.is_network_admin,
       account.email_verified_at,
       (SELECT COUNT(*) FROM notification
         WHERE notification."user" = account.id AND notification.read_at IS NULL) AS unread,
       organization.id AS organization_id, organization.kind, organization.name AS org_name,
       organization.slug, organization.verified, membership.role
  FROM account
  LEFT JOIN membership ON membership."user" = account.id
  LEFT JOIN organization ON organization.id = membership.organization
 WHERE account.id = {} AND account.active
 ORDER BY membership.id
"""


async def load_principal(user_id: int, *, via_token: bool = False) -> Principal | None:
    rows = await User.raw(PRINCIPAL_SQL, user_id)
    if not rows:
        return None
    user = rows[0]
    return Principal(
        user_id=user["id"],
        email=user["email"],
        name=user["name"],
        is_network_admin=user["is_network_admin"],
        memberships=tuple(
            OrgMembership(
                organization_id=row["organization_id"],
                kind=row["kind"],
                name=row["org_name"],
                slug=row["slug"],
                role=row["role"],
                verified=row["verified"],
            )
            for row in rows
            if row["organization_id"] is not None
        ),
        unread_notifications=user["unread"],
        via_token=via_token,
        verified=user["email_verified_at"] is not None,
    )


async def _user_for_token(token: str) -> int | None:
    row = (
        await AccessToken.select(AccessToken.id, AccessToken.user, AccessToken.last_used_at)
        .where((AccessToken.token_hash == hash_token(token)) & AccessToken.revoked_at.is_null())
        .first()
    )
    if row is None:
        return None
    now = datetime.now(UTC)
    if row["last_used_at"] is None or now - row["last_used_at"] > TOKEN_TOUCH_INTERVAL:
        await AccessToken.update({AccessToken.last_used_at: now}).where(AccessToken.id == row["id"])
    return row["user"]


class PrincipalMiddleware(AbstractAuthenticationMiddleware):
    """Finds the principal; never refuses by itself (the guards do that)."""

    async def authenticate_request(self, connection: ASGIConnection) -> AuthenticationResult:
        authorization = connection.headers.get("authorization", "")
        if authorization.lower().startswith("bearer "):
            user_id = await _user_for_token(authorization[7:].strip())
            if user_id is None:
                raise NotAuthenticated("The access token is unknown or has been revoked.")
            return AuthenticationResult(
                user=await load_principal(user_id, via_token=True), auth="token"
            )
        is_api = connection.url.path.startswith("/api/")
        if is_api and connection.scope.get("method") not in SAFE_METHODS:
            return AuthenticationResult(user=None, auth=None)
        session = connection.scope.get("session") or {}
        user_id = session.get("user_id") if isinstance(session, dict) else None
        if user_id is None:
            return AuthenticationResult(user=None, auth=None)
        if connection.scope.get("method") not in SAFE_METHODS and not _csrf_bound(
            connection, session
        ):
            # Not this session's CSRF cookie: the request does not act as the signed-in person
            # (the guards ask them to sign in, which issues a fresh bound token).
            return AuthenticationResult(user=None, auth=None)
        return AuthenticationResult(user=await load_principal(int(user_id)), auth="session")


def _csrf_bound(connection: ASGIConnection, session: dict) -> bool:
    """The request's CSRF cookie is the token its session was given at sign-in. Litestar's CSRF
    middleware checks that the form's token matches the cookie; this ties both to the session."""
    expected = session.get(SESSION_CSRF_KEY)
    config = connection.app.csrf_config
    cookie = connection.cookies.get(config.cookie_name) if config else None
    return bool(expected and cookie) and hmac.compare_digest(str(expected), cookie)


def current_principal(connection: ASGIConnection[Any, Any, Any, Any]) -> Principal | None:
    user = connection.scope.get("user")
    return user if isinstance(user, Principal) else None


def require_principal(connection: ASGIConnection[Any, Any, Any, Any]) -> Principal:
    principal = current_principal(connection)
    if principal is None:
        raise NotAuthenticated("Sign in to continue.")
    return principal


# --- the principal as a handler argument ------------------------------------------------------


def provide_principal(request: Request[Any, Any, Any]) -> Principal:
    """`principal`: the signed-in person, or "sign in to continue" (the route's guard has
    usually refused already)."""
    return require_principal(request)


def provide_viewer(request: Request[Any, Any, Any]) -> Principal | None:
    """`viewer`: whoever is asking on a page anyone may see, or None when signed out."""
    return current_principal(request)


# Given to every handler by the app: a handler takes `principal: SignedIn` or `viewer: Viewer`
# among its arguments instead of reading the request.
SignedIn = NamedDependency[Principal]
Viewer = NamedDependency[Principal | None]
DEPENDENCIES = {
    "principal": Provide(provide_principal, sync_to_thread=False),
    "viewer": Provide(provide_viewer, sync_to_thread=False),
}


# --- guards ---------------------------------------------------------------------------------

Guard = Callable[[ASGIConnection, BaseRouteHandler], Awaitable[None] | None]
# The `opt` of a route anyone may use: it has no guard. Read-only, as every route shares it.
PUBLIC: Mapping[str, str] = MappingProxyType({"access": "public"})


def access_rule(guard: Guard) -> dict[str, str]:
    """The `opt` that names the access rule `guard` enforces: its own name, so the rule that
    tests/web/test_authorization_matrix.py and the route map read is the guard that runs. For a
    controller: `guards = [pilot_manager]` and `opt = access_rule(pilot_manager)`."""
    return {"access": guard.__name__}


def guarded(guard: Guard) -> dict[str, Any]:
    """A route's guard and the rule it names: `@get("/x", **guarded(pilot_manager))`."""
    return {"guards": [guard], "opt": access_rule(guard)}


def signed_in(connection: ASGIConnection, _: BaseRouteHandler) -> None:
    require_principal(connection)


def network_admin(connection: ASGIConnection, _: BaseRouteHandler) -> None:
    if not require_principal(connection).is_network_admin:
        raise Forbidden("Only network administrators can do this.")


VERIFY_FIRST = (
    "Verify your address first: follow the link we mailed to {email}. Until then you can "
    "browse, but not change anything. Ask for a new link at /account/verification."
)
# A route that an unverified person may use says so with opt={BEFORE_VERIFICATION: True}:
# signing in and out, verifying or changing the address, the password, deleting the account.
BEFORE_VERIFICATION = "before_verification"


def address_verified(connection: ASGIConnection, route_handler: BaseRouteHandler) -> None:
    """The app-wide guard: a person whose address is not verified may read, not act. Every
    state-changing request (any method but GET, HEAD, OPTIONS, pages and API alike) passes
    here before the route's own guards, so no handler has to remember it."""
    if connection.scope.get("method") in SAFE_METHODS:
        return
    principal = current_principal(connection)
    if principal is None or principal.verified or route_handler.opt.get(BEFORE_VERIFICATION):
        return
    raise Forbidden(
        VERIFY_FIRST.format(email=principal.email),
        link=("/account/verification", "Send me a new verification link"),
    )


def member_of(*kinds: str, verified: bool = False):
    """A guard: the user belongs to an organization of one of these kinds (admins pass)."""

    wanted = ", ".join(ROLE_LABELS.get(k, k) + "s" for k in kinds)

    def guard(connection: ASGIConnection, _: BaseRouteHandler) -> None:
        principal = require_principal(connection)
        if principal.is_network_admin:
            return
        matching = [m for m in principal.memberships if m.kind in kinds]
        if not matching:
            raise Forbidden(f"This is for {wanted}.")
        if verified and not any(m.verified for m in matching):
            raise Forbidden(
                "Your organization has not been verified by the network yet. "
                "You can browse, but not volunteer, propose or upload until it is."
            )

    # The rule's name: "verified_vendor" for member_of("vendor", verified=True).
    guard.__name__ = f"{'verified_' if verified else ''}{'_or_'.join(kinds)}"
    return guard
