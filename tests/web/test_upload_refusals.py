"""Hostile files at every upload: a PNG or a ZIP dressed as CSV, a zip bomb dressed as a
spreadsheet, and a file over the size limit are refused, and nothing is stored.

Refused means a 4xx answer, or (outcome data uploads, which run as jobs) a redirect to an upload
job whose status is "failed".

Upload routes are found in the route table (handlers that take a multipart body); the forms that
post to them are found on the pages, so their file fields are named by the page itself. Routes
that land later are covered as soon as a page offers their form.
"""

from __future__ import annotations

import io
import re
import time
import zipfile
from functools import cache

import pytest
from litestar.enums import RequestEncodingType

from tests.web.conftest import other_browser, sign_in
from tests.web.test_authorization_matrix import _fill, _path_values, app_routes
from tests.web.test_designs import write_and_register
from tests.web.test_hostile_input import forms_of

# The people whose pages offer uploads: the site's district and the admin, who passes every guard.
UPLOADERS = ("district", "admin")
# Tables a refused upload may touch: the visitor's session, the audit log, and the record of the
# upload job that says why the file was refused.
BOOKKEEPING_TABLES = frozenset({"web_session", "audit_event", "upload_job"})
EXPANDED_BYTES = 200_000_000
JOB_SECONDS = 30
# Past the limit by more than a multipart envelope: refused by its announced length.
OVER_THE_LIMIT_BYTES = 128 * 1024


@cache
def zip_bomb(member: str) -> bytes:
    """A few hundred kilobytes that expand to 200 MB: one member of zeros, deflated."""
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        with zf.open(member, "w", force_zip64=True) as inner:
            block = b"0" * 1_000_000
            for _ in range(EXPANDED_BYTES // len(block)):
                inner.write(block)
        zf.writestr("[Content_Types].xml", '<?xml version="1.0"?><Types/>')
    return archive.getvalue()


PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 8
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
HOSTILE_FILES = {
    "a PNG named .csv, sent as text/csv": ("data.csv", lambda: PNG, "text/csv"),
    "a ZIP named .csv, sent as text/csv": ("data.csv", lambda: zip_bomb("data.csv"), "text/csv"),
    "a zip bomb as a spreadsheet": (
        "data.xlsx",
        lambda: zip_bomb("xl/worksheets/sheet1.xml"),
        XLSX,
    ),
}


def upload_routes(app) -> dict[str, int | None]:
    """Path templates of the routes that take files, with their body size limits: those with a
    multipart body parameter, and those that set their own body limit (they read the form
    themselves)."""
    routes = {}
    for route in app.routes:
        for handler in getattr(route, "route_handlers", []):
            data = handler.parsed_fn_signature.parameters.get("data")
            kwarg = getattr(data, "kwarg_definition", None)
            is_multipart = getattr(kwarg, "media_type", None) == RequestEncodingType.MULTI_PART
            limit = handler.request_max_body_size
            if is_multipart or isinstance(limit, int):
                routes[route.path] = limit if isinstance(limit, int) else None
    return routes


def _template_pattern(path: str) -> re.Pattern:
    return re.compile("^" + re.sub(r"\\\{\w+(?::\w+)?\\\}", r"[^/]+", re.escape(path)) + "$")


def _upload_forms(app, client, people, role: str) -> list:
    """Every form with a file field on every page this person can open."""
    found, seen = [], set()
    for route in app_routes(app):
        if route.method != "GET" or route.path.startswith(("/schema", "/static", "/api/")):
            continue
        page = _fill(route.path, client.blocking_portal.call(_path_values, people, role))
        response = client.get(page, follow_redirects=False)
        if response.status_code != 200 or "text/html" not in response.headers["content-type"]:
            continue
        for form in forms_of(page, response.text):
            if any(item["type"] == "file" for item in form.fields) and form.action not in seen:
                seen.add(form.action)
                found.append(form)
    return found


async def _row_counts() -> dict[str, int]:
    from testbed.tables import TABLES

    return {
        table._meta.tablename: await table.count()
        for table in TABLES
        if table._meta.tablename not in BOOKKEEPING_TABLES
    }


def _refused(client, response) -> bool:
    if 400 <= response.status_code < 500:
        return True
    job = re.fullmatch(r"/uploads/(\d+)", response.headers.get("location", ""))
    if response.status_code not in (302, 303) or job is None:
        return False
    deadline = time.monotonic() + JOB_SECONDS
    while (status := client.get(f"/api/v1/uploads/{job.group(1)}").json()["status"]) in (
        "queued",
        "validating",
        "importing",
    ) and time.monotonic() < deadline:
        time.sleep(0.2)  # large files are checked in the background
    return status == "failed"


def _post(client, form, file_field_content: tuple[str, bytes, str]):
    fields = {item["name"]: item.get("value", "") for item in form.fields if item["type"] != "file"}
    files = {item["name"]: file_field_content for item in form.fields if item["type"] == "file"}
    return client.post(form.action, data=fields, files=files, follow_redirects=False)


@pytest.fixture
def upload_setting(app, client, call, people):
    """The state in which the pages offer their upload forms: a registered design for the
    active pilot (its site's roster)."""
    if not upload_routes(app):
        pytest.skip("no route of the app takes a multipart upload yet")
    write_and_register(client, call, people, people.active_pilot)
    return people


def test_forged_and_compressed_files_are_refused_and_nothing_is_stored(
    app, client, call, upload_setting
):
    people = upload_setting
    routes = upload_routes(app)
    tried: set[str] = set()
    failures = []
    for role in UPLOADERS:
        with other_browser(client):
            sign_in(client, role)
            for form in _upload_forms(app, client, people, role):
                for hostile, (filename, content, content_type) in HOSTILE_FILES.items():
                    before = call(_row_counts)
                    response = _post(client, form, (filename, content(), content_type))
                    if not _refused(client, response):
                        failures.append(
                            f"{hostile} to {form.action} as {role}: {response.status_code}"
                        )
                    if call(_row_counts) != before:
                        failures.append(f"{hostile} to {form.action} as {role}: stored something")
                tried |= {p for p in routes if _template_pattern(p).match(form.action)}
    assert failures == []
    assert tried, f"no page offers a form for the upload routes {sorted(routes)}"


def test_a_file_over_the_limit_is_refused(app, client, call, upload_setting):
    people = upload_setting
    routes = upload_routes(app)
    sign_in(client, "district")
    failures = []
    for form in _upload_forms(app, client, people, "district"):
        route_limit = next(
            (size for p, size in routes.items() if _template_pattern(p).match(form.action)), None
        )
        if route_limit is None:
            continue
        limit = min(route_limit, app.state["settings"].max_upload_bytes)
        before = call(_row_counts)
        oversize = b"key\n" + b"k\n" * ((limit + OVER_THE_LIMIT_BYTES) // 2)
        response = _post(client, form, ("data.csv", oversize, "text/csv"))
        if not _refused(client, response):
            failures.append(f"{form.action}: {response.status_code}")
        if call(_row_counts) != before:
            failures.append(f"{form.action}: stored something")
    assert failures == []
