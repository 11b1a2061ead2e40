"""Pages for outcome data: uploads and their progress, the data-quality page, the template CSV,
the format page and the implementation log. The same in JSON: api.py.

Guards (guards.py) decide who may touch a site's data before the handler reads the file. (On
the pages, Litestar's CSRF check reads the multipart form before any guard runs; nothing is
done with the file until the guards have passed.)
"""

from __future__ import annotations

from functools import cache
from typing import Any

from litestar import Controller, Request, Response, get, post
from litestar.datastructures import UploadFile
from litestar.params import FromPath, URLEncodedBody
from litestar.plugins.flash import flash
from litestar.response import Redirect, Template
from markdown_it import MarkdownIt
from markupsafe import Markup

from testbed.access import pilot_access, pilot_viewer
from testbed.auth import (
    PUBLIC,
    SignedIn,
    Viewer,
    access_rule,
)
from testbed.designs.services import registered_design
from testbed.errors import InvalidInput, TestbedError
from testbed.settings import ROOT
from testbed.uploads import services
from testbed.uploads.guards import site_uploader, upload_job_viewer
from testbed.uploads.limits import UPLOAD_CEILING_BYTES, refuse_oversized, upload_settings
from testbed.web import form_errors, form_page

FORMAT_PAGE = ROOT / "docs" / "data-format.md"


Form = URLEncodedBody[dict[str, str]]


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
            upload_settings(request).max_upload_bytes,
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
            "max_megabytes": upload_settings(request).max_upload_bytes / (1024 * 1024),
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
        refuse_oversized(request)
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
                upload_settings(request),
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


ROUTE_HANDLERS = [
    DataFormatController,
    PilotDataController,
    SiteDataController,
    UploadJobController,
]
