"""Upload jobs: their state as the job page and API show it, and who may see them."""

from __future__ import annotations

from typing import Any

from testbed.access import access_to_pilot, may_see_student_rows
from testbed.auth import Principal
from testbed.errors import NotFound
from testbed.tables import (
    UploadJob,
)

# Rows written so far by imports running in this process (job id → rows).
import_progress: dict[int, int] = {}


async def get_job(job_id: int) -> dict[str, Any]:
    job = (
        await UploadJob.select(
            *UploadJob.all_columns(),
            UploadJob.site.name.as_alias("site_name"),
            UploadJob.pilot.title.as_alias("pilot_title"),
            UploadJob.pilot.status.as_alias("pilot_status"),
            UploadJob.pilot.product.vendor.as_alias("pilot_vendor_id"),
        )
        .where(UploadJob.id == job_id)
        .output(load_json=True)
        .first()
    )
    if job is None:
        raise NotFound("There is no such upload.")
    if job["status"] == "importing" and job_id in import_progress:
        job["rows_done"] = import_progress[job_id]
    job["finished"] = job["status"] in ("done", "failed")
    job["percent"] = (
        100
        if job["status"] == "done"
        else min(99, int(100 * job["rows_done"] / job["rows_total"]))
        if job["rows_total"]
        else 0
    )
    return job


async def may_see_job(principal: Principal, job: dict[str, Any]) -> bool:
    """The uploader, and whoever may see the site's student rows (may_see_student_rows)."""
    if principal.is_network_admin or job["created_by"] == principal.user_id:
        return True
    try:
        access = await access_to_pilot(
            principal, job["pilot"], job["pilot_status"], job["pilot_vendor_id"]
        )
    except NotFound:
        return False
    return may_see_student_rows(access, job["site"])
