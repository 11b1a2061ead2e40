"""Pages and API for outcome data: uploads and their progress, the data-quality page, the
template CSV, the format page and the implementation log.

Guards decide who may touch a site's data before the handler reads the file. (On the pages,
Litestar's CSRF check reads the multipart form before any guard runs; nothing is done with
the file until the guards have passed.)
"""

from __future__ import annotations

from functools import cache
from typing import Any

from litestar import Controller, Request, Response, get, post
from litestar.connection import ASGIConnection
from litestar.datastructures import UploadFile
from litestar.handlers.base import BaseRouteHandler
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import FromPath, FromQuery, URLEncodedBody
from litestar.plugins.flash import flash
from litestar.response import Redirect, Template
from litestar.status_codes import HTTP_201_CREATED, HTTP_202_ACCEPTED
from markdown_it import MarkdownIt
from markupsafe import Markup

from testbed.access import pilot_access, pilot_viewer
from testbed.auth import (
    PUBLIC,
    Principal,
    SignedIn,
    Viewer,
    access_rule,
    member_of,
    require_principal,
)
from testbed.designs.services import registered_design
from testbed.errors import Conflict, Forbidden, InvalidInput, NotFound, TestbedError
from testbed.settings import ROOT, Settings
from testbed.uploads import services
from testbed.uploads.schemas import AttritionOut, DatasetOut, ProblemOut, UploadJobOut
from testbed.web import form_errors, form_page

# Litestar refuses larger bodies outright; the configured limit (TESTBED_MAX_UPLOAD_MB,
# 50 MB by default) is checked below it, with a message that names the limit.
UPLOAD_CEILING_BYTES = 1024 * 1024 * 1024
MULTIPART_ALLOWANCE_BYTES = 64 * 1024
FORMAT_PAGE = ROOT / "docs" / "data-format.md"

Form = URLEncodedBody[dict[str, str]]


def _settings(connection: ASGIConnection) -> Settings:
    return connection.app.state["settings"]


# --- guards ------------------------------------------------------------------------------------


_member_of_a_verified_district = member_of("district", verified=True)


async def site_uploader(connection: ASGIConnection, handler: BaseRouteHandler) -> None:
    """Verified members of the site's district, and network admins (pilot hidden: 404)."""
    _member_of_a_verified_district(connection, handler)
    principal = require_principal(connection)
    pilot_id = int(connection.path_params["pilot_id"])
    site_id = int(connection.path_params["site_id"])
    access = await pilot_access(principal, pilot_id)
    await services.require_site(pilot_id, site_id)
    services.require_upload_permission(principal, access, site_id)


async def upload_job_viewer(connection: ASGIConnection, _: BaseRouteHandler) -> None:
    principal = require_principal(connection)
    job = await services.get_job(int(connection.path_params["job_id"]))
    if not await services.may_see_job(principal, job):
        raise NotFound("There is no such upload.")


def _refuse_oversized(request: Request) -> None:
    """Refuse by the announced length, before the body is read."""
    limit = _settings(request).max_upload_bytes
    announced = request.headers.get("content-length")
    if announced and announced.isdigit() and int(announced) > limit + MULTIPART_ALLOWANCE_BYTES:
        raise TestbedError(
            f"The file is larger than the limit of {limit / (1024 * 1024):.0f} MB. Split it by "
            "site, or ask the network to raise the limit.",
            status_code=413,
        )


# --- pages -------------------------------------------------------------------------------------


@cache
def _format_page_html() -> Markup:
    # Raw HTML in the Markdown is escaped (html=False): the page is only what the doc says.
    renderer = MarkdownIt("commonmark", {"html": False}).enable("table")
    html = renderer.render(FORMAT_PAGE.read_text(encoding="utf-8"))
    # Tables and code scroll sideways on a phone: focusable, so the keyboard can scroll them.
    html = html.replace("<table>", '<table tabindex="0">').replace("<pre>", '<pre tabindex="0">')
    return Markup(html)  # noqa: S704


class DataFormatController(Controller):
    tags = ["uploads"]
    include_in_schema = False
    opt = PUBLIC

    @get("/data-format")
    async def format_page(self) -> Template:
        return Template("uploads/format.html.j2", context={"body": _format_page_html()})


class PilotDataController(Controller):
    path = "/pilots/{pilot_id:int}/data"
    tags = ["uploads"]
    include_in_schema = False
    guards = [pilot_viewer]
    opt = access_rule(pilot_viewer)

    @get("/")
    async def quality_page(self, viewer: Viewer, pilot_id: FromPath[int]) -> Template:
        access = await pilot_access(viewer, pilot_id)
        page = await services.data_quality(viewer, access)
        return Template("uploads/quality.html.j2", context=page)

    @get("/template.csv", media_type="text/csv")
    async def template(self, pilot_id: FromPath[int]) -> Response[str]:
        return Response(
            await services.template_csv(pilot_id),
            media_type="text/csv",
            headers={
                "Content-Disposition": f'attachment; filename="pilot-{pilot_id}-outcomes.csv"'
            },
        )


async def _upload_form(
    request: Request,
    pilot_id: int,
    site_id: int,
    *,
    error: TestbedError | None = None,
    values: dict[str, Any] | None = None,
) -> Template:
    design = await registered_design(pilot_id)
    rules = (
        services.rules_from_design(
            design["document"],
            await services.site_assignment(pilot_id, site_id),
            _settings(request).max_upload_bytes,
        )
        if design
        else None
    )
    return form_page(
        "uploads/upload.html.j2",
        values=values or {"kind": "students"},
        error=error,
        extra={
            "pilot_id": pilot_id,
            "site": await services.require_site(pilot_id, site_id),
            "design": design,
            "rules": rules,
            "header": services.template_header(rules) if rules else [],
            "max_megabytes": _settings(request).max_upload_bytes / (1024 * 1024),
            "kinds": [("students", "Student-level rows"), ("aggregates", "Aggregates only")],
        },
    )


class SiteDataController(Controller):
    path = "/pilots/{pilot_id:int}/sites/{site_id:int}"
    tags = ["uploads"]
    include_in_schema = False
    guards = [site_uploader]
    opt = access_rule(site_uploader)

    @get("/upload")
    async def upload_page(
        self, request: Request, pilot_id: FromPath[int], site_id: FromPath[int]
    ) -> Template:
        return await _upload_form(request, pilot_id, site_id)

    @post("/upload", request_max_body_size=UPLOAD_CEILING_BYTES)
    async def upload(
        self,
        request: Request,
        principal: SignedIn,
        pilot_id: FromPath[int],
        site_id: FromPath[int],
    ) -> Template | Redirect:
        _refuse_oversized(request)
        form = await request.form()
        values = {"kind": str(form.get("kind") or "students")}
        upload = form.get("file")
        if not isinstance(upload, UploadFile) or not upload.filename:
            error = InvalidInput(
                "Choose the file to upload.",
                errors=[{"field": "file", "message": "Choose a CSV file."}],
            )
            return await _upload_form(request, pilot_id, site_id, error=error, values=values)
        with form_errors() as outcome:
            job_id = await services.start_upload(
                services.UploadRequest(
                    principal=principal,
                    access=await pilot_access(principal, pilot_id),
                    site_id=site_id,
                    kind=values["kind"],
                    filename=upload.filename,
                    data=await upload.read(),
                ),
                _settings(request),
            )
        if outcome.error:
            return await _upload_form(
                request, pilot_id, site_id, error=outcome.error, values=values
            )
        flash(
            request,
            "The file is received. It is being checked; this page says when it is stored.",
            category="saved",
        )
        return Redirect(f"/uploads/{job_id}")

    @get("/implementation")
    async def implementation_page(
        self, request: Request, pilot_id: FromPath[int], site_id: FromPath[int]
    ) -> Template:
        log = await services.implementation_log(pilot_id, site_id)
        return await _implementation_form(pilot_id, site_id, values=_log_values(log))

    @post("/implementation")
    async def save_implementation(
        self,
        request: Request,
        principal: SignedIn,
        pilot_id: FromPath[int],
        site_id: FromPath[int],
        data: Form,
    ) -> Template | Redirect:
        with form_errors() as outcome:
            await services.save_implementation_log(
                principal, await pilot_access(principal, pilot_id), site_id, data
            )
        if outcome.error:
            return await _implementation_form(pilot_id, site_id, values=data, error=outcome.error)
        flash(request, "The implementation log is saved.", category="saved")
        return Redirect(f"/pilots/{pilot_id}/data#implementation")


def _log_values(log: dict[str, Any] | None) -> dict[str, str]:
    if log is None:
        return {}
    held = {True: "yes", False: "no", None: ""}[log["training_held"]]
    dates = {
        name: log[name].isoformat() if log[name] else ""
        for name in ("training_on", "started_on", "ended_on")
    }
    return {"training_held": held, **dates, "problems": log["problems"]}


async def _implementation_form(
    pilot_id: int,
    site_id: int,
    *,
    values: dict[str, str],
    error: TestbedError | None = None,
) -> Template:
    return form_page(
        "uploads/implementation.html.j2",
        values=values,
        error=error,
        extra={"pilot_id": pilot_id, "site": await services.require_site(pilot_id, site_id)},
    )


class UploadJobController(Controller):
    path = "/uploads/{job_id:int}"
    tags = ["uploads"]
    include_in_schema = False
    guards = [upload_job_viewer]
    opt = access_rule(upload_job_viewer)

    @get("/")
    async def job_page(self, job_id: FromPath[int]) -> Template:
        job = await services.get_job(job_id)
        attrition = (
            await services.dataset_attrition(job["dataset"])
            if job["status"] == "done" and job["dataset"]
            else None
        )
        return Template("uploads/job.html.j2", context={"job": job, "attrition": attrition})


# --- JSON API ----------------------------------------------------------------------------------


def _attrition_out(summary: services.AttritionSummary | None) -> AttritionOut | None:
    if summary is None:
        return None
    return AttritionOut(
        randomized=summary.randomized,
        analyzed=summary.analyzed,
        overall=summary.overall,
        differential=summary.differential,
        rating=summary.rating,
        summary=summary.words,
    )


async def _job_out(request: Request, job_id: int) -> UploadJobOut:
    job = await services.get_job(job_id)
    attrition = None
    if job["status"] == "done" and job["dataset"]:
        attrition = _attrition_out(await services.dataset_attrition(job["dataset"]))
    return UploadJobOut(
        id=job["id"],
        url=str(request.base_url).rstrip("/") + f"/api/v1/uploads/{job['id']}",
        pilot_id=job["pilot"],
        site_id=job["site"],
        kind=job["kind"],
        filename=job["filename"],
        size_bytes=job["size_bytes"],
        sha256=job["sha256"],
        status=job["status"],
        rows_total=job["rows_total"],
        rows_done=job["rows_done"],
        message=job["message"],
        problem_count=job["problem_count"],
        problems=[ProblemOut(**problem) for problem in job["problems"]],
        dataset_id=job["dataset"],
        attrition=attrition,
    )


async def _api_upload(
    request: Request,
    principal: Principal,
    pilot_id: int,
    site_id: int,
    kind: str,
    filename: str | None,
) -> Response[UploadJobOut]:
    _refuse_oversized(request)
    content_type, _ = request.content_type
    if content_type == "multipart/form-data":
        upload = (await request.form()).get("file")
        if not isinstance(upload, UploadFile):
            raise InvalidInput("Send the CSV as the multipart field `file`, or as the body.")
        data, name = await upload.read(), upload.filename
    else:
        data, name = await request.body(), filename or f"{kind}.csv"
    job_id = await services.start_upload(
        services.UploadRequest(
            principal=principal,
            access=await pilot_access(principal, pilot_id),
            site_id=site_id,
            kind=kind,
            filename=name,
            data=data,
        ),
        _settings(request),
    )
    job = await _job_out(request, job_id)
    if job.status == "failed" and job.problem_count:
        raise InvalidInput(
            job.message,
            errors=[{"row": p.row, "column": p.column, "message": p.message} for p in job.problems],
        )
    if job.status == "failed":
        raise TestbedError(job.message, status_code=500)
    status = HTTP_201_CREATED if job.status == "done" else HTTP_202_ACCEPTED
    return Response(job, status_code=status, headers={"Location": job.url})


# Who may upload (403), when (409: the pilot is not active or has no registered design) and what
# (422 lists every problem by row and column); 413 follows from request_max_body_size.
UPLOAD_ERRORS = [Forbidden, NotFound, Conflict, InvalidInput]
UPLOAD_ACCEPTED = {
    HTTP_202_ACCEPTED: ResponseSpec(
        data_container=UploadJobOut,
        description="A large file: accepted and checked in the background; poll the job's url.",
    )
}


class SiteDataApiController(Controller):
    path = "/api/v1/pilots/{pilot_id:int}/sites/{site_id:int}"
    tags = ["uploads"]
    guards = [site_uploader]
    opt = access_rule(site_uploader)

    @post(
        "/datasets",
        summary="Upload a site's student-level outcome data (CSV body or multipart `file`)",
        description="Small files are checked and imported at once (201, or 422 listing every "
        "problem by row and column); files over 5 MB return 202 and the job to poll. The "
        "format: /data-format.",
        request_max_body_size=UPLOAD_CEILING_BYTES,
        raises=UPLOAD_ERRORS,
        responses=UPLOAD_ACCEPTED,
    )
    async def upload_students(
        self,
        request: Request,
        principal: SignedIn,
        pilot_id: FromPath[int],
        site_id: FromPath[int],
        filename: FromQuery[str | None] = None,
    ) -> Response[UploadJobOut]:
        return await _api_upload(request, principal, pilot_id, site_id, "students", filename)

    @post(
        "/aggregates",
        summary="Upload a site's aggregates (arm, outcome, randomized, n, mean, sd, successes)",
        request_max_body_size=UPLOAD_CEILING_BYTES,
        raises=UPLOAD_ERRORS,
        responses=UPLOAD_ACCEPTED,
    )
    async def upload_aggregates(
        self,
        request: Request,
        principal: SignedIn,
        pilot_id: FromPath[int],
        site_id: FromPath[int],
        filename: FromQuery[str | None] = None,
    ) -> Response[UploadJobOut]:
        return await _api_upload(request, principal, pilot_id, site_id, "aggregates", filename)


class PilotDataApiController(Controller):
    path = "/api/v1/pilots/{pilot_id:int}/datasets"
    tags = ["uploads"]
    guards = [pilot_viewer]
    opt = access_rule(pilot_viewer)

    @get("/", summary="A pilot's uploads per site, current and superseded", raises=[NotFound])
    async def datasets(self, viewer: Viewer, pilot_id: FromPath[int]) -> list[DatasetOut]:
        access = await pilot_access(viewer, pilot_id)
        return [
            DatasetOut(
                id=row["id"],
                site_id=row["site"],
                site_name=row["site_name"],
                version=row["version"],
                kind=row["kind"],
                filename=row["filename"],
                sha256=row["sha256"],
                row_count=row["row_count"],
                uploaded_at=row["uploaded_at"],
                uploaded_by=row["uploaded_by_name"],
                is_current=row["is_current"],
                details_shown=row["details_shown"],
            )
            for row in services.datasets_as_seen_by(access, await services.pilot_datasets(pilot_id))
        ]


class UploadJobApiController(Controller):
    path = "/api/v1/uploads/{job_id:int}"
    tags = ["uploads"]
    guards = [upload_job_viewer]
    opt = access_rule(upload_job_viewer)

    @get("/", summary="An upload's status, problems and result", raises=[NotFound])
    async def job(self, request: Request, job_id: FromPath[int]) -> UploadJobOut:
        return await _job_out(request, job_id)


ROUTE_HANDLERS: list[Any] = [
    DataFormatController,
    PilotDataController,
    SiteDataController,
    UploadJobController,
    SiteDataApiController,
    PilotDataApiController,
    UploadJobApiController,
]
