"""The edge: text no handler can store or read is refused before anything looks at it.

PostgreSQL's text cannot hold a NUL character, and a JSON document that is not UTF-8 or nests
without end makes the JSON decoder raise instead of answering. Rather than every service
guarding against them, every request is checked here once, with a 400 through the one error
handler (a page for people, a problem document for the API):

- `refuse_unreadable_requests` (ASGI middleware, before sessions and tokens are looked up):
  NUL in the path, the query string, or a header or cookie (cookies are percent-decoded).
- `check_request_body` (the app's before-request hook: it runs after the guards, so outsiders
  still get 403/404 first, and before the body is parsed for the handler): a JSON body must be
  UTF-8 JSON nesting at most `MAX_JSON_DEPTH` levels with no NUL in any key or string; the text
  fields of a form (URL-encoded, or multipart when the handler declares it or the CSRF check
  has read it) hold no NUL. Files in a form and raw bodies (CSV uploads) are the upload
  checks' business: they report problems by row and column.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl

import msgspec
from litestar import Request
from litestar.datastructures import MutableScopeHeaders
from litestar.enums import RequestEncodingType
from litestar.params import BodyKwarg
from litestar.routes import HTTPRoute
from litestar.types import ASGIApp, Empty, Message, Receive, Scope, Send
from litestar.utils.scope.state import ScopeState

from testbed.errors import TestbedError

MAX_JSON_DEPTH = 32
NUL = "\x00"
NUL_MESSAGE = (
    "contains a NUL character (\\0, %00 or \\u0000), which no text here may hold: remove it "
    "and send the request again"
)

TOO_DEEP = f"nests deeper than {MAX_JSON_DEPTH} levels, more than any request here needs"


class UnreadableInput(TestbedError):
    """Input that no text field can hold or no decoder can read."""

    status_code = 400


def _refusal(source: str, key: str | None, message: str) -> UnreadableInput:
    key = (key or "")[:100]
    where = f"The {source}" + (f" field {key!r}" if key else "")
    return UnreadableInput(
        f"{where} {message}.", errors=[{"source": source, "key": key, "message": message}]
    )


def _check_url_encoded(source: str, encoded: bytes) -> None:
    """A query string or URL-encoded form: NUL is sent raw or as %00."""
    if b"\x00" not in encoded and b"%00" not in encoded:
        return
    for key, value in parse_qsl(encoded.decode("latin-1"), keep_blank_values=True):
        if NUL in key or NUL in value:
            raise _refusal(source, key.replace(NUL, ""), NUL_MESSAGE)


def _check_headers(headers: list[tuple[bytes, bytes]]) -> None:
    for name, value in headers:
        # Cookie values are percent-decoded before the session is looked up.
        if b"\x00" in value or (name.lower() == b"cookie" and b"%00" in value):
            raise _refusal("header", name.decode("latin-1"), NUL_MESSAGE)


def refuse_unreadable_requests(app: ASGIApp) -> ASGIApp:
    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if NUL in scope.get("path", ""):
            raise _refusal("address", None, NUL_MESSAGE)
        _check_url_encoded("query", scope.get("query_string", b""))
        _check_headers(scope.get("headers", []))
        await app(scope, receive, send)

    return middleware


def _json_problem(value: Any) -> tuple[str, str] | None:
    """Where and what is wrong in a decoded JSON document: too deep, or NUL in a string."""
    stack: list[tuple[Any, str, int]] = [(value, "", 1)]
    while stack:
        item, path, depth = stack.pop()
        if isinstance(item, str):
            if NUL in item:
                return path, NUL_MESSAGE
            continue
        if not isinstance(item, dict | list):
            continue
        if depth > MAX_JSON_DEPTH:
            return path, TOO_DEEP
        pairs = item.items() if isinstance(item, dict) else enumerate(item)
        for key, child in pairs:
            if isinstance(key, str) and NUL in key:
                return path, NUL_MESSAGE
            stack.append((child, f"{path}.{key}" if path else str(key), depth + 1))
    return None


def _check_json(body: bytes) -> None:
    try:
        document = msgspec.json.decode(body)
    except UnicodeDecodeError:
        raise _refusal("body", None, "is not UTF-8 text: send JSON encoded as UTF-8") from None
    except RecursionError:
        raise _refusal("body", None, TOO_DEEP) from None
    except msgspec.DecodeError as error:
        raise _refusal("body", None, f"is not valid JSON ({error})") from None
    if problem := _json_problem(document):
        path, message = problem
        raise _refusal("body", path.replace(NUL, "") or None, message)


def _body_encoding(request: Request) -> RequestEncodingType | str | None:
    """How the handler's `data` is read, if it takes one (Litestar reads it after this hook)."""
    data = request.route_handler.parsed_fn_signature.parameters.get("data")
    if data is None:
        return None
    if isinstance(data.kwarg_definition, BodyKwarg):
        return data.kwarg_definition.media_type
    return RequestEncodingType.JSON


async def check_request_body(request: Request) -> None:
    declared = _body_encoding(request)
    sent = request.content_type[0]
    if declared == RequestEncodingType.JSON:
        if body := await request.body():
            _check_json(body)
    elif sent == RequestEncodingType.MULTI_PART and (
        declared in (RequestEncodingType.MULTI_PART, RequestEncodingType.URL_ENCODED)
        or ScopeState.from_scope(request.scope).form is not Empty
    ):
        # Read here only if the handler declares the form or the CSRF check has read it: an
        # API upload's handler first refuses a body too large by its announced length.
        # A form handler posted as multipart (curl -F) is read as a form too: its raw body is
        # gone once the CSRF check parsed it, and waiting for it again hung the request.
        form = await request.form()  # kept for the handler: the body is read once
        for key, value in form.multi_items():
            if isinstance(value, str) and (NUL in value or NUL in key):
                raise _refusal("form", key.replace(NUL, ""), NUL_MESSAGE)
    elif RequestEncodingType.URL_ENCODED in (declared, sent):
        _check_url_encoded("form", await request.body())


async def allow_every_method_of_the_route(message: Message, scope: Scope) -> None:
    """List every method of the path in an OPTIONS answer's `Allow` header.

    Litestar builds the OPTIONS handler for the first controller that declares a path and keeps
    that controller's methods when another controller adds methods to the same path (GET
    /api/v1/pilots and POST /api/v1/pilots), so its `Allow` would leave some out.
    """
    if message["type"] != "http.response.start" or scope.get("method") != "OPTIONS":
        return
    handler = scope.get("route_handler")
    if handler is None:
        return
    methods = {
        method
        for route in scope["app"].routes
        if isinstance(route, HTTPRoute) and route.path in handler.paths
        for method in route.methods
    }
    if methods:
        MutableScopeHeaders.from_message(message)["Allow"] = ", ".join(sorted(methods))
