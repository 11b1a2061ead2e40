"""The application factory. Nothing happens at import time; `create_app` builds everything."""

from __future__ import annotations

from litestar import Litestar
from litestar.config.csrf import CSRFConfig
from litestar.exceptions import HTTPException
from litestar.middleware import DefineMiddleware
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import ScalarRenderPlugin, SwaggerRenderPlugin
from litestar.static_files import create_static_files_router

from testbed.accounts import controllers as accounts_controllers
from testbed.auth import PrincipalMiddleware
from testbed.catalog import controllers as catalog_controllers
from testbed.designs import controllers as designs_controllers
from testbed.errors import TestbedError, handle_error
from testbed.findings import controllers as findings_controllers
from testbed.home import HomeController
from testbed.matching import controllers as matching_controllers
from testbed.notifications import controllers as notifications_controllers
from testbed.notifications.controllers import UnreadNotificationsMiddleware
from testbed.sessions import DatabaseSessionStore, SessionConfig
from testbed.settings import ROOT, Settings
from testbed.synthesis import controllers as synthesis_controllers
from testbed.tables import Organization
from testbed.uploads import controllers as uploads_controllers
from testbed.web import template_config

SESSION_MAX_AGE_SECONDS = 14 * 24 * 3600

ROUTE_HANDLERS = [
    HomeController,
    *accounts_controllers.ROUTE_HANDLERS,
    *catalog_controllers.ROUTE_HANDLERS,
    *designs_controllers.ROUTE_HANDLERS,
    *uploads_controllers.ROUTE_HANDLERS,
    *findings_controllers.ROUTE_HANDLERS,
    *synthesis_controllers.ROUTE_HANDLERS,
    *matching_controllers.ROUTE_HANDLERS,
    *notifications_controllers.ROUTE_HANDLERS,
]


def create_app(settings: Settings | None = None) -> Litestar:
    settings = settings or Settings.from_env()
    session_store = DatabaseSessionStore()
    session_config = SessionConfig(
        key="testbed_session",
        max_age=SESSION_MAX_AGE_SECONDS,
        httponly=True,
        samesite="lax",
        secure=settings.secure_cookies,
    )

    async def open_database() -> None:
        if settings.uses_postgres:
            await Organization._meta.db.start_connection_pool()
        await session_store.delete_expired()

    async def close_database() -> None:
        if settings.uses_postgres:
            await Organization._meta.db.close_connection_pool()

    return Litestar(
        route_handlers=[
            *ROUTE_HANDLERS,
            create_static_files_router(
                path="/static", directories=[ROOT / "static"], opt={"access": "public"}
            ),
        ],
        middleware=[
            session_config.middleware,
            DefineMiddleware(PrincipalMiddleware, exclude=["^/static/"]),
            UnreadNotificationsMiddleware(),
        ],
        stores={"sessions": session_store},
        csrf_config=CSRFConfig(
            secret=settings.secret_key,
            cookie_secure=settings.secure_cookies,
            cookie_httponly=True,
            cookie_samesite="lax",
            exclude=["^/api/"],
        ),
        template_config=template_config(),
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
        on_startup=[open_database],
        on_shutdown=[close_database],
        debug=settings.debug,
        state={"settings": settings},
        logging_config=None,
    )
