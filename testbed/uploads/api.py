"""The outcome-data API: uploads and their jobs, a pilot's datasets, attrition per site."""

from __future__ import annotations

from litestar import Controller, Request, Response, get, post
from litestar.datastructures import UploadFile
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import FromPath, FromQuery
from litestar.status_codes import HTTP_201_CREATED, HTTP_202_ACCEPTED

from testbed.access import pilot_access, pilot_viewer
from testbed.auth import (
    Principal,
    SignedIn,
    Viewer,
    access_rule,
)
from testbed.errors import Conflict, Forbidden, InvalidInput, NotFound, TestbedError
from testbed.uploads import services
from testbed.uploads.guards import site_uploader, upload_job_viewer
from testbed.uploads.limits import UPLOAD_CEILING_BYTES, refuse_oversized, upload_settings
from testbed.uploads.schemas import AttritionOut, DatasetOut, ProblemOut, UploadJobOut


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
    refuse_oversized(request)
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
        upload_settings(request),
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


ROUTE_HANDLERS = [SiteDataApiController, PilotDataApiController, UploadJobApiController]
