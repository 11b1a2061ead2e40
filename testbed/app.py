"""The application factory. Nothing happens at import time; `create_app` builds everything."""

from __future__ import annotations

import asyncio

from litestar import Litestar
from litestar.config.csrf import CSRFConfig
from litestar.datastructures import MutableScopeHeaders
from litestar.exceptions import HTTPException
from litestar.middleware import DefineMiddleware
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import ScalarRenderPlugin, SwaggerRenderPlugin
from litestar.plugins.flash import FlashConfig, FlashPlugin
from litestar.static_files import create_static_files_router
from litestar.types import ASGIApp, Message, Receive, Scope, Send
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from testbed import drawings
from testbed.accounts import api as accounts_api
from testbed.accounts import pages as accounts_pages
from testbed.auth import DEPENDENCIES, PUBLIC, PrincipalMiddleware, address_verified
from testbed.catalog import api as catalog_api
from testbed.catalog import pages as catalog_pages
from testbed.costs import api as costs_api
from testbed.costs import pages as costs_pages
from testbed.db import POSTGRES_POOL_OPTIONS, ReadPoolSQLiteEngine
from testbed.designs import api as designs_api
from testbed.designs import pages as designs_pages
from testbed.edge import (
    allow_every_method_of_the_route,
    check_request_body,
    refuse_unreadable_requests,
)
from testbed.errors import ApiErrorResponses, NotFound, TestbedError, handle_error
from testbed.findings import api as findings_api
from testbed.findings import pages as findings_pages
from testbed.home import HomeController
from testbed.info import pages as info_pages
from testbed.mail import outbox
from testbed.mail import pages as mail_pages
from testbed.matching import api as matching_api
from testbed.matching import pages as matching_pages
from testbed.notifications import api as notifications_api
from testbed.notifications import background as notification_background
from testbed.notifications import mailing as notification_mailing
from testbed.notifications import pages as notifications_pages
from testbed.openapi import ClosedStructSchemas
from testbed.sessions import DatabaseSessionStore, SessionConfig
from testbed.settings import ROOT, Settings
from testbed.synthesis import api as synthesis_api
from testbed.synthesis import pages as synthesis_pages
from testbed.tables import MAX_ID, Organization
from testbed.uploads import api as uploads_api
from testbed.uploads import leases as upload_leases
from testbed.uploads import pages as uploads_pages
from testbed.web import template_config
from testbed.work import api as work_api
from testbed.work import pages as work_pages

SESSION_MAX_AGE_SECONDS = 14 * 24 * 3600

# Pages run no inline script: script-src 'self' is what stops injected markup from running.
# Styles allow 'unsafe-inline' because the charts are matplotlib SVGs inlined in the page, whose
# elements carry style attributes and a <style> element, and the print pages have a <style>
# block; without it browsers would draw the charts unstyled.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
    "script-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
)
# Litestar's API viewers (/schema, /schema/swagger) load Scalar and Swagger UI from jsDelivr and
# start them with an inline script, so their pages need these sources and nothing else.
API_VIEWER_CONTENT_SECURITY_POLICY = (
    "default-src 'self'; img-src 'self' data: https://cdn.jsdelivr.net; "
    "style-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net https://fonts.googleapis.com; "
    "font-src 'self' data: https://cdn.jsdelivr.net https://fonts.scalar.com "
    "https://fonts.gstatic.com; script-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net; "
    "connect-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
)
SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), payment=(), usb=()",
}

# Pages for signing in, signing up, invitations and the account: never stored by a cache, even
# when answered to someone not (yet) signed in.
PRIVATE_PATHS = ("/login", "/logout", "/signup", "/account", "/invitations/", "/password/")
# Served over HTTPS (TESTBED_SECURE_COOKIES=1): browsers use HTTPS only, for a year. Not
# includeSubDomains: other services under the domain are not Testbed's to decide.
HSTS = "max-age=31536000"

ROUTE_HANDLERS = [
    HomeController,
    *accounts_pages.ROUTE_HANDLERS,
    *accounts_api.ROUTE_HANDLERS,
    *catalog_pages.ROUTE_HANDLERS,
    *catalog_api.ROUTE_HANDLERS,
    *designs_pages.ROUTE_HANDLERS,
    *designs_api.ROUTE_HANDLERS,
    *uploads_pages.ROUTE_HANDLERS,
    *uploads_api.ROUTE_HANDLERS,
    *findings_pages.ROUTE_HANDLERS,
    *findings_api.ROUTE_HANDLERS,
    *synthesis_pages.ROUTE_HANDLERS,
    *synthesis_api.ROUTE_HANDLERS,
    *costs_pages.ROUTE_HANDLERS,
    *costs_api.ROUTE_HANDLERS,
    *matching_pages.ROUTE_HANDLERS,
    *matching_api.ROUTE_HANDLERS,
    *notifications_pages.ROUTE_HANDLERS,
    *notifications_api.ROUTE_HANDLERS,
    *info_pages.ROUTE_HANDLERS,
    *work_pages.ROUTE_HANDLERS,
    *work_api.ROUTE_HANDLERS,
    *mail_pages.ROUTE_HANDLERS,
]


async def add_security_headers(message: Message, scope: Scope) -> None:
    """Set the security headers on every response: pages, API, errors, static files, 404s.

    A before-send hook sees every response the app sends, including those of paths no route
    matches, which never reach the middleware of a route.
    """
    if message["type"] != "http.response.start":
        return
    message.setdefault("headers", [])
    headers = MutableScopeHeaders.from_message(message)
    path = scope.get("path", "")
    is_api_viewer = path == "/schema" or path.startswith("/schema/")
    headers["Content-Security-Policy"] = (
        API_VIEWER_CONTENT_SECURITY_POLICY if is_api_viewer else CONTENT_SECURITY_POLICY
    )
    for name, value in SECURITY_HEADERS.items():
        headers[name] = value
    if scope.get("user") is not None or path.startswith(PRIVATE_PATHS):
        # Anything answered to a signed-in person (a page with their colleagues' addresses, a
        # token shown once) and the account pages themselves stay out of every cache: the
        # browser's back button and history, shared proxies.
        headers["Cache-Control"] = "no-store"
    settings = scope["litestar_app"].state.get("settings") if "litestar_app" in scope else None
    if settings is not None and settings.secure_cookies:
        headers["Strict-Transport-Security"] = HSTS


def refuse_impossible_ids(app: ASGIApp) -> ASGIApp:
    """Answer 404 for an id in the path that no row can have, before any guard queries it."""

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        for value in (scope.get("path_params") or {}).values():
            if isinstance(value, int) and not 1 <= value <= MAX_ID:
                raise NotFound("There is nothing at this address.")
        await app(scope, receive, send)

    return middleware


def create_app(settings: Settings | None = None) -> Litestar:
    """The app for these settings. The database engine is not among what it builds: Piccolo
    picks it from the environment (testbed/piccolo_conf.py says why), so `settings` must name
    the database the environment names."""
    settings = settings or Settings.from_env()
    session_store = DatabaseSessionStore()
    session_config = SessionConfig(
        key="testbed_session",
        max_age=SESSION_MAX_AGE_SECONDS,
        httponly=True,
        samesite="lax",
        secure=settings.secure_cookies,
    )

    engine = Organization._meta.db
    # PostgreSQL: asyncpg's pool; SQLite: a few connections kept open for reads (testbed.db).
    pooled = settings.uses_postgres or isinstance(engine, ReadPoolSQLiteEngine)

    sweeps: list[asyncio.Task] = []
    senders: list[asyncio.Task] = []

    async def open_database() -> None:
        if settings.uses_postgres:
            await engine.start_connection_pool(**POSTGRES_POOL_OPTIONS)
        elif pooled:
            await engine.start_connection_pool()
        await session_store.delete_expired()
        # Upload jobs whose worker died are failed now, and every few seconds from here on.
        await upload_leases.fail_interrupted_jobs()
        sweeps.append(asyncio.get_running_loop().create_task(upload_leases.sweep_forever()))
        # Mail waiting in the outbox is delivered in the background, never by a request.
        if settings.mail_poll_seconds > 0:
            senders.append(asyncio.get_running_loop().create_task(outbox.send_forever(settings)))
        # Notification mail is written by services that see no request: they read these.
        notification_mailing.configure(settings)
        if settings.notification_sweep_seconds > 0:
            sweeps.append(
                asyncio.get_running_loop().create_task(
                    notification_background.run_forever(settings)
                )
            )
        # Plots nobody drew yet (the demo's findings, say) are drawn and stored once, so no
        # reader waits for them after a restart.
        if settings.draw_at_start:
            sweeps.append(asyncio.get_running_loop().create_task(drawings.warm_up()))

    async def close_database() -> None:
        for sweep in sweeps:
            await upload_leases.stop(sweep)
        sweeps.clear()
        for sender in senders:
            await outbox.stop(sender)
        senders.clear()
        if pooled:
            await engine.close_connection_pool()

    templates = template_config()
    return Litestar(
        route_handlers=[
            *ROUTE_HANDLERS,
            create_static_files_router(path="/static", directories=[ROOT / "static"], opt=PUBLIC),
        ],
        middleware=[
            refuse_unreadable_requests,
            # The client's address (sign-in limits, audit log) and scheme come from
            # X-Forwarded-For/-Proto only when the connection is from a configured proxy.
            DefineMiddleware(ProxyHeadersMiddleware, trusted_hosts=list(settings.trusted_proxies)),
            refuse_impossible_ids,
            session_config.middleware,
            DefineMiddleware(PrincipalMiddleware, exclude=["^/static/"]),
        ],
        dependencies=DEPENDENCIES,
        stores={"sessions": session_store},
        csrf_config=CSRFConfig(
            secret=settings.secret_key,
            cookie_secure=settings.secure_cookies,
            cookie_httponly=True,
            cookie_samesite="lax",
            # API writes carry a bearer token; a one-click unsubscribe (RFC 8058) is POSTed by
            # a mail program with no session, authenticated by the token in its address.
            exclude=["^/api/", "^/unsubscribe/"],
        ),
        template_config=templates,
        openapi_config=OpenAPIConfig(
            title="Testbed API",
            version="1",
            description="The pilot tracker's JSON API. Authenticate with a personal access token: "
            "`Authorization: Bearer <token>`.",
            path="/schema",
            render_plugins=[ScalarRenderPlugin(), SwaggerRenderPlugin(path="/swagger")],
        ),
        exception_handlers={
            TestbedError: handle_error,
            HTTPException: handle_error,
            Exception: handle_error,
        },
        # Flash messages ("Design saved.") live in the session and show once on the next page.
        plugins=[
            ApiErrorResponses(),
            ClosedStructSchemas(),
            FlashPlugin(FlashConfig(template_config=templates)),
        ],
        # Before every route's own guards: an unverified address reads but does not act.
        guards=[address_verified],
        before_request=check_request_body,
        before_send=[add_security_headers, allow_every_method_of_the_route],
        on_startup=[open_database],
        on_shutdown=[close_database],
        debug=settings.debug,
        state={"settings": settings},
        logging_config=None,
    )
