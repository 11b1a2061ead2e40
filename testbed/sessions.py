"""A Litestar session store kept in the database, so sessions survive restarts and are shared
by every worker and host that serves the same database."""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from litestar.connection import ASGIConnection, Request
from litestar.datastructures import Cookie
from litestar.middleware.csrf import generate_csrf_token
from litestar.middleware.session.server_side import (
    ServerSideSessionBackend,
    ServerSideSessionConfig,
)
from litestar.stores.base import Store
from litestar.types import Empty, Message, ScopeSession

from testbed.tables import SessionRecord


def _now() -> datetime:
    return datetime.now(UTC)


def _seconds(value: int | timedelta | None) -> int | None:
    if value is None:
        return None
    return int(value.total_seconds()) if isinstance(value, timedelta) else int(value)


# Read on every request with a session cookie: raw SQL, as building the select costs more than
# running it.
SESSION_SQL = "SELECT value, expires_at FROM web_session WHERE key = {}"


class DatabaseSessionStore(Store):
    async def set(self, key: str, value: str | bytes, expires_in: int | timedelta | None = None):
        data = value.encode() if isinstance(value, str) else value
        seconds = _seconds(expires_in)
        expires_at = _now() + timedelta(seconds=seconds) if seconds is not None else None
        await SessionRecord.insert(
            SessionRecord(key=key, value=data, expires_at=expires_at)
        ).on_conflict(
            target=SessionRecord.key,
            action="DO UPDATE",
            values=[SessionRecord.value, SessionRecord.expires_at],
        )

    async def get(self, key: str, renew_for: int | timedelta | None = None) -> bytes | None:
        rows = await SessionRecord.raw(SESSION_SQL, key)
        if not rows:
            return None
        row = rows[0]
        if row["expires_at"] is not None and row["expires_at"] <= _now():
            await self.delete(key)
            return None
        seconds = _seconds(renew_for)
        # Renewing on every read would write on every request; once half the lifetime is
        # used is enough to keep active sessions alive.
        if (
            seconds is not None
            and row["expires_at"] is not None
            and row["expires_at"] - _now() < timedelta(seconds=seconds / 2)
        ):
            await SessionRecord.update(
                {SessionRecord.expires_at: _now() + timedelta(seconds=seconds)}
            ).where(SessionRecord.key == key)
        return bytes(row["value"])

    async def delete(self, key: str) -> None:
        await SessionRecord.delete().where(SessionRecord.key == key)

    async def delete_all(self) -> None:
        await SessionRecord.delete(force=True)

    async def delete_expired(self) -> None:
        await SessionRecord.delete().where(SessionRecord.expires_at <= _now())

    async def exists(self, key: str) -> bool:
        return await self.get(key) is not None

    async def expires_in(self, key: str) -> int | None:
        row = (
            await SessionRecord.select(SessionRecord.expires_at)
            .where(SessionRecord.key == key)
            .first()
        )
        if row is None or row["expires_at"] is None:
            return None
        return max(0, int((row["expires_at"] - _now()).total_seconds()))


async def end_sessions_of(user_id: int, *, keep_key: str | None = None) -> int:
    """Sign the user out everywhere but the session `keep_key` (after a password change or
    reset); how many sessions ended. Sessions do not record their user in a column, so this
    reads them all: it runs only when a password changes, and a session row is a few bytes."""
    ended = []
    for row in await SessionRecord.select(SessionRecord.key, SessionRecord.value):
        if row["key"] == keep_key:
            continue
        try:
            data = json.loads(bytes(row["value"]))
        except ValueError:
            continue
        if isinstance(data, dict) and data.get("user_id") == user_id:
            ended.append(row["key"])
    if ended:
        await SessionRecord.delete().where(SessionRecord.key.is_in(ended))
    return len(ended)


RENEW_SESSION_ID = "testbed.renew_session_id"
LOADED_SESSION = "testbed.loaded_session"


class RenewingSessionBackend(ServerSideSessionBackend):
    """Litestar's server-side sessions, with three changes:

    - a fresh session id when a handler asks (at sign-in), so an id planted in a browser before
      sign-in is never the signed-in one;
    - no session row for visitors with nothing in their session (anonymous browsing writes
      nothing);
    - no write when the session did not change: a session lasts its max_age (14 days) from sign-in.
    """

    async def load_from_connection(self, connection: ASGIConnection) -> dict[str, Any]:
        data = await super().load_from_connection(connection)
        # A deep copy: handlers change the session in place (a second flash message appends to
        # the list of the first), and a shallow copy would compare equal and not be stored.
        connection.scope[LOADED_SESSION] = copy.deepcopy(data)  # type: ignore[literal-required]
        return data

    async def store_in_message(
        self, scope_session: ScopeSession, message: Message, connection: ASGIConnection
    ) -> None:
        has_cookie = bool(connection.cookies.get(self.config.key))
        if scope_session is not Empty and not scope_session:
            if not has_cookie:
                return
            scope_session = Empty
        unchanged = (
            scope_session is not Empty
            and has_cookie
            and connection.scope.get(RENEW_SESSION_ID) is None
            and scope_session == connection.scope.get(LOADED_SESSION)
        )
        if unchanged:
            return
        await super().store_in_message(scope_session, message, connection)

    def get_session_id(self, connection: ASGIConnection) -> str:
        if connection.scope.get(RENEW_SESSION_ID) is True:
            connection.scope[RENEW_SESSION_ID] = self.generate_session_id()  # type: ignore[literal-required]
        renewed = connection.scope.get(RENEW_SESSION_ID)
        return renewed if isinstance(renewed, str) else super().get_session_id(connection)


@dataclass
class SessionConfig(ServerSideSessionConfig):
    _backend_class = RenewingSessionBackend


SESSION_CSRF_KEY = "csrf"


def start_session(request: Request, user_id: int) -> Cookie:
    """Sign this user in: a fresh session id, and a fresh CSRF token bound to the session.

    Returns the CSRF cookie to send with the answer. The session keeps the token, and a form
    posted with a signed-in session counts only when its CSRF cookie is that token
    (`auth.PrincipalMiddleware`): a cookie-and-token pair from another session, or from before
    sign-in (for instance one planted in the browser), does not act for this session.
    """
    config = request.app.csrf_config
    assert config is not None  # noqa: S101 (create_app always configures CSRF)
    token = generate_csrf_token(secret=config.secret)
    request.scope[RENEW_SESSION_ID] = True  # type: ignore[literal-required]
    request.set_session({"user_id": user_id, SESSION_CSRF_KEY: token})
    return Cookie(
        key=config.cookie_name,
        value=token,
        path=config.cookie_path,
        secure=config.cookie_secure,
        httponly=config.cookie_httponly,
        samesite=config.cookie_samesite,
        domain=config.cookie_domain,
    )
