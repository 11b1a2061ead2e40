"""One error type, one handler: a friendly page for people, a JSON problem for the API."""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import quote

from litestar import MediaType, Request, Response
from litestar.exceptions import HTTPException, NotAuthorizedException, ValidationException
from litestar.response import Redirect, Template
from litestar.status_codes import HTTP_500_INTERNAL_SERVER_ERROR

logger = logging.getLogger("testbed")

TITLES = {
    400: "That request could not be understood",
    401: "Please sign in",
    403: "You do not have access to this",
    404: "Page not found",
    405: "That action is not allowed here",
    409: "That conflicts with the current state",
    413: "That upload is too large",
    415: "That file type is not accepted",
    422: "Some of what you entered needs fixing",
    429: "Too many attempts",
    500: "Something went wrong on our side",
}


class TestbedError(Exception):
    """An error meant for the person who made the request."""

    status_code = 400

    def __init__(
        self, detail: str, *, status_code: int | None = None, errors: list[Any] | None = None
    ):
        super().__init__(detail)
        self.detail = detail
        if status_code is not None:
            self.status_code = status_code
        self.errors = errors or []


class NotAuthenticated(TestbedError):
    status_code = 401


class Forbidden(TestbedError):
    status_code = 403


class NotFound(TestbedError):
    status_code = 404


class Conflict(TestbedError):
    status_code = 409


class InvalidInput(TestbedError):
    status_code = 422


class TooManyAttempts(TestbedError):
    status_code = 429


def wants_json(request: Request) -> bool:
    if request.url.path.startswith("/api/"):
        return True
    accept = request.headers.get("accept", "")
    return "application/json" in accept and "text/html" not in accept


def _describe(exc: Exception) -> tuple[int, str, list[Any]]:
    if isinstance(exc, TestbedError):
        return exc.status_code, exc.detail, exc.errors
    if isinstance(exc, NotAuthorizedException):
        return 401, "Sign in to see this page.", []
    if isinstance(exc, ValidationException):
        extra = exc.extra if isinstance(exc.extra, list) else []
        return 400, "The request's parameters are not valid.", extra
    if isinstance(exc, HTTPException):
        return exc.status_code, exc.detail, []
    return HTTP_500_INTERNAL_SERVER_ERROR, "The error has been logged.", []


def handle_error(request: Request, exc: Exception) -> Response[Any]:
    status, detail, errors = _describe(exc)
    if status >= 500:
        logger.exception("unhandled error on %s %s", request.method, request.url.path)
        if request.app.debug:
            detail = f"{type(exc).__name__}: {exc}"
    title = TITLES.get(status, "Error")
    if wants_json(request):
        problem = {"type": "about:blank", "title": title, "status": status, "detail": detail}
        if errors:
            problem["errors"] = errors
        return Response(problem, status_code=status, media_type="application/problem+json")
    if status == 401:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return Redirect(f"/login?next={quote(target)}")
    return Template(
        template_name="error.html.j2",
        context={"status": status, "title": title, "detail": detail, "errors": errors},
        status_code=status,
        media_type=MediaType.HTML,
    )
