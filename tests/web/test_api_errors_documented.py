"""The OpenAPI document names the errors of every API operation, so a client (or a new endpoint's
author) can rely on it: read from the document the app serves, so routes added later are held
to the same rules without changes here. Schemathesis (test_api_fuzz.py) checks the other half:
that what the server answers is among what is documented.
"""

from __future__ import annotations

import pytest

from testbed.app import create_app
from testbed.errors import PROBLEM_MEDIA_TYPE
from testbed.settings import Settings

WRITES = {"post", "put", "patch", "delete"}
# Access rules that let every signed-in person in (everything else refuses someone: 403 or 404).
OPEN_RULES = {"public", "signed_in"}
# Writes with a JSON body whose input has nothing to be invalid beyond its types (400).
NO_INVALID_INPUT = {
    ("post", "/api/v1/matching/rounds"): "only pilot ids: unknown ones are 404, closed ones 409",
    ("post", "/api/v1/notifications/read"): "only an optional notification id",
}

app = create_app(Settings.from_env())
DOCUMENT = app.openapi_schema.to_schema()


def _access_rules() -> dict[tuple[str, str], str | None]:
    rules = {}
    for route in app.routes:
        for handler in getattr(route, "route_handlers", []):
            for method in handler.http_methods:
                rules[(method.lower(), route.path_format)] = handler.opt.get("access")
    return rules


ACCESS = _access_rules()
OPERATIONS = [
    (method, path, operation)
    for path, item in DOCUMENT["paths"].items()
    if path.startswith("/api/")
    for method, operation in item.items()
    if method in {"get", *WRITES}
]


def _statuses(operation: dict) -> set[int]:
    return {int(code) for code in operation["responses"] if code.isdigit()}


def _missing(method: str, path: str, operation: dict) -> set[int]:
    documented = _statuses(operation)
    parameters = operation.get("parameters", [])
    has_body = "requestBody" in operation
    wanted = {401}  # an unknown token is refused everywhere; writes need a token
    if any(p["in"] == "path" for p in parameters):
        wanted.add(404)
    if parameters or has_body:
        wanted.add(400)
    if has_body:
        wanted.add(413)
    if method in WRITES and has_body and (method, path) not in NO_INVALID_INPUT:
        wanted.add(422)
    missing = wanted - documented
    if ACCESS.get((method, path)) not in OPEN_RULES and not documented & {403, 404}:
        missing.add(403)
    return missing


def test_the_api_has_operations_to_check():
    assert len(OPERATIONS) > 50
    assert all((method, path) in ACCESS for method, path, _ in OPERATIONS)


def test_every_api_operation_documents_its_error_codes():
    gaps = [
        f"{method.upper()} {path}: {sorted(missing)}"
        for method, path, operation in OPERATIONS
        if (missing := _missing(method, path, operation))
    ]
    assert gaps == [], "operations without their error responses:\n" + "\n".join(gaps)


def test_every_documented_error_is_the_problem_document():
    wrong = []
    for method, path, operation in OPERATIONS:
        for code, response in operation["responses"].items():
            if not 400 <= int(code) < 500:
                continue
            content = response.get("content", {})
            schema = content.get(PROBLEM_MEDIA_TYPE, {}).get("schema", {})
            if list(content) != [PROBLEM_MEDIA_TYPE] or schema != {
                "$ref": "#/components/schemas/Problem"
            }:
                wrong.append(f"{method.upper()} {path} {code}: {content}")
    assert wrong == []
    problem = DOCUMENT["components"]["schemas"]["Problem"]
    assert set(problem["required"]) == {"type", "title", "status", "detail"}
    assert set(problem["properties"]) == {"type", "title", "status", "detail", "errors"}


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("get", "/api/v1/me", 401),
        ("get", "/api/v1/pilots/{pilot_id}", 404),
        ("put", "/api/v1/districts/{district_id}/profile", 409),
        ("post", "/api/v1/pilots", 422),
        ("post", "/api/v1/pilots/{pilot_id}/sites/{site_id}/datasets", 413),
    ],
)
def test_known_errors_are_documented(method, path, status):
    assert status in _statuses(DOCUMENT["paths"][path][method])


def test_a_real_error_has_the_documented_shape(client):
    response = client.get("/api/v1/me")
    assert response.status_code == 401
    assert response.headers["content-type"].startswith(PROBLEM_MEDIA_TYPE)
    problem = DOCUMENT["components"]["schemas"]["Problem"]
    body = response.json()
    assert set(problem["required"]) <= set(body) <= set(problem["properties"])
    assert body["status"] == 401


def test_every_path_answers_an_undeclared_method_with_405_and_allow(app, client):
    """RFC 9110: a 405 lists the methods the path has, and OPTIONS lists them all."""
    from litestar.routes import HTTPRoute

    failures, answered = [], 0
    for route in app.routes:
        if not isinstance(route, HTTPRoute) or "{" in route.path:
            continue
        methods = set(route.methods)
        refused = client.request("TRACE", route.path)
        allow = {m.strip() for m in refused.headers.get("allow", "").split(",") if m.strip()}
        if refused.status_code != 405 or not (methods - {"HEAD"}) <= allow:
            failures.append(f"TRACE {route.path}: {refused.status_code} Allow {sorted(allow)}")
        options = client.options(route.path, follow_redirects=False)
        if options.status_code != 204:  # guarded paths refuse strangers first (401 or sign-in)
            continue
        answered += 1
        listed = {m.strip() for m in options.headers.get("allow", "").split(",")}
        if not (methods - {"HEAD"}) <= listed:
            failures.append(f"OPTIONS {route.path}: Allow {sorted(listed)}, has {sorted(methods)}")
    assert failures == []
    assert answered >= 10


def test_list_filters_are_documented_from_the_vocabulary(app):
    from testbed import vocabulary

    operation = app.openapi_schema.to_schema()["paths"]["/api/v1/pilots"]["get"]
    schemas = {p["name"]: p["schema"] for p in operation["parameters"]}
    assert schemas["subject"]["enum"] == ["", *vocabulary.SUBJECTS]
    assert schemas["pillar"]["enum"] == ["", *map(str, vocabulary.PILLARS)]
    assert schemas["status"]["enum"] == ["", *vocabulary.PILOT_STATUSES]
    assert (schemas["per_page"]["minimum"], schemas["per_page"]["maximum"]) == (1, 100)
    assert schemas["page"]["minimum"] == 1
    assert {"type": "integer", "minimum": 1, "maximum": 2**31 - 1} in schemas["product"]["oneOf"]
