"""One error type, one handler: a friendly page for people, a JSON problem for the API."""

from __future__ import annotations

import inspect
import logging
import re
from collections.abc import Iterable
from typing import Any
from urllib.parse import quote

import msgspec
from litestar import MediaType, Request, Response
from litestar.exceptions import HTTPException, NotAuthorizedException, ValidationException
from litestar.openapi.datastructures import ResponseSpec
from litestar.plugins import ReceiveRoutePlugin
from litestar.response import Redirect, Template
from litestar.routes import BaseRoute, HTTPRoute
from litestar.status_codes import HTTP_500_INTERNAL_SERVER_ERROR
from litestar.types import Empty

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
        self,
        detail: str,
        *,
        status_code: int | None = None,
        errors: list[Any] | None = None,
        link: tuple[str, str] | None = None,
    ):
        super().__init__(detail)
        self.detail = detail
        if status_code is not None:
            self.status_code = status_code
        self.errors = errors or []
        # Where to go from here (address, words), shown on the error page as a link.
        self.link = link


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
    # Litestar's own exceptions carry headers the answer needs: `Allow` on a 405 (RFC 9110).
    headers = dict(exc.headers or {}) if isinstance(exc, HTTPException) else {}
    if status >= 500:
        logger.exception("unhandled error on %s %s", request.method, request.url.path)
        if request.app.debug:
            detail = f"{type(exc).__name__}: {exc}"
    title = TITLES.get(status, "Error")
    if wants_json(request):
        problem = {"type": "about:blank", "title": title, "status": status, "detail": detail}
        if errors:
            problem["errors"] = errors
        return Response(
            problem, status_code=status, media_type="application/problem+json", headers=headers
        )
    if status == 401:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return Redirect(f"/login?next={quote(target)}")
    return Template(
        template_name="error.html.j2",
        context={
            "status": status,
            "title": title,
            "detail": detail,
            "errors": errors,
            "link": exc.link if isinstance(exc, TestbedError) else None,
        },
        status_code=status,
        media_type=MediaType.HTML,
        headers=headers,
    )


# --- the API's error responses in the OpenAPI document ----------------------------------------

PROBLEM_MEDIA_TYPE = "application/problem+json"


class Problem(msgspec.Struct, kw_only=True):
    """The JSON problem document (RFC 9457) every API error returns (see `handle_error`)."""

    type: str
    title: str
    status: int
    detail: str
    # Present when there is something to list: field errors of invalid input (`field`,
    # `message`), rows and columns of an upload (`row`, `column`, `message`), or the request
    # parameters Litestar refused (`key`, `source`, `message`).
    errors: list[dict[str, Any]] | msgspec.UnsetType = msgspec.UNSET


PROBLEM_DESCRIPTIONS = {
    400: "The request's parameters or body could not be read (wrong type, missing, out of "
    "range; a NUL character in any text; JSON that is not UTF-8 or nests deeper than 32 "
    "levels); `errors` names each.",
    401: "Not signed in: no token (API writes always need one), or the token is unknown or "
    "revoked.",
    403: "Signed in, but not allowed to do this.",
    404: "There is no such object, or it is one you may not see.",
    409: "That conflicts with the current state of the object.",
    413: "The request body is larger than the limit.",
    415: "That file type is not accepted.",
    422: "The input was read but is not valid; `errors` lists each problem by field (or by row "
    "and column for uploads).",
    429: "Too many attempts; wait and try again.",
}

_PATH_PARAMETER = re.compile(r"{\w+(?::\w+)?}")
_NOT_PARAMETERS = frozenset({"self", "request", "state", "scope", "headers", "cookies", "socket"})


def problem_responses(*errors: type[Exception] | int) -> dict[int, ResponseSpec]:
    """OpenAPI responses with the problem document for these error kinds or status codes."""
    statuses = sorted({e if isinstance(e, int) else e.status_code for e in errors})
    return {
        status: ResponseSpec(
            data_container=Problem,
            description=PROBLEM_DESCRIPTIONS.get(status, TITLES.get(status, "Error")),
            media_type=PROBLEM_MEDIA_TYPE,
            generate_examples=False,
        )
        for status in statuses
    }


def api_error_statuses(path: str, handler: Any) -> set[int]:
    """The problem statuses an API operation can answer with.

    Some follow from the route itself: every API call can be refused as not signed in (401: an
    unknown token is refused anywhere, writes need a token); a call with parameters or a body
    can fail Litestar's validation (400); an id in the path may name nothing (404, before any
    guard runs); a body may be too large (413). The others are what the handler declares in
    `raises=[...]`: the TestbedError kinds its guards and services raise.
    """
    parameters = set(inspect.signature(handler.fn).parameters) - _NOT_PARAMETERS
    statuses = {401}
    if parameters or _PATH_PARAMETER.search(path):
        statuses.add(400)
    if _PATH_PARAMETER.search(path):
        statuses.add(404)
    if "data" in parameters or handler.request_max_body_size not in (None, Empty):
        statuses.add(413)
    statuses.update(e.status_code for e in handler.raises or ())
    return statuses


def document_api_errors(handler: Any, path: str, extra: Iterable[int] = ()) -> None:
    documented = problem_responses(*api_error_statuses(path, handler), *extra)
    handler.responses = {**documented, **(handler.responses or {})}


class ApiErrorResponses(ReceiveRoutePlugin):
    """Documents the problem responses of every `/api/` operation as its route is registered.

    Litestar's own `raises=` documentation describes its default error body, not ours, so the
    declared kinds are rewritten here into `Problem` responses (and the mechanical ones added).
    """

    def receive_route(self, route: BaseRoute) -> None:
        if not isinstance(route, HTTPRoute) or not route.path.startswith("/api/"):
            return
        for handler in route.route_handlers:
            document_api_errors(handler, route.path)
