"""Upload jobs hold a lease while a worker runs them, so a killed worker's job does not read
"importing" forever.

The worker that starts a job takes a lease (`lease_until`, LEASE ahead) and renews it every
HEARTBEAT while it works, and with each progress update. A job that is unfinished when its
lease has passed was interrupted: its worker died (SIGKILL, a crash, a restart mid-import).
Its import ran in one transaction, so nothing of it was stored; `fail_interrupted_jobs` marks
it failed with words saying so. The sweep runs when the service starts and every SWEEP
while it runs, in each worker: with several workers on PostgreSQL, a job whose worker is alive
keeps its lease and is left alone.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import UTC, datetime, timedelta

from testbed.tables import UploadJob

LEASE = timedelta(seconds=60)
HEARTBEAT = timedelta(seconds=10)
SWEEP = timedelta(seconds=30)
RUNNING_STATUSES = ("queued", "validating", "importing")
INTERRUPTED = (
    "The import was interrupted (the service stopped while it worked); upload the file again. "
    "Nothing from it was stored."
)

logger = logging.getLogger("testbed.uploads")


def lease_deadline(now: datetime | None = None) -> datetime:
    return (now or datetime.now(UTC)) + LEASE


async def renew_lease(job_id: int) -> None:
    await UploadJob.update({UploadJob.lease_until: lease_deadline()}).where(
        (UploadJob.id == job_id) & UploadJob.status.is_in(list(RUNNING_STATUSES))
    )


async def heartbeat(job_id: int) -> None:
    """Renew the job's lease until cancelled (when the job ends)."""
    while True:
        await asyncio.sleep(HEARTBEAT.total_seconds())
        try:
            await renew_lease(job_id)
        except Exception:  # a busy database: the next beat tries again, well inside the lease
            logger.warning("could not renew the lease of upload job %s", job_id, exc_info=True)


async def fail_interrupted_jobs(now: datetime | None = None) -> int:
    """Fail every unfinished job whose lease has passed (or that never had one); how many."""
    now = now or datetime.now(UTC)
    expired = UploadJob.status.is_in(list(RUNNING_STATUSES)) & (
        UploadJob.lease_until.is_null() | (UploadJob.lease_until < now)
    )
    failed = (
        await UploadJob.update(
            {
                UploadJob.status: "failed",
                UploadJob.message: INTERRUPTED,
                UploadJob.lease_until: None,
                UploadJob.updated_at: now,
            }
        )
        .where(expired)
        .returning(UploadJob.id)
    )
    if failed:
        logger.warning("upload jobs interrupted, now failed: %s", [row["id"] for row in failed])
    return len(failed)


async def sweep_forever() -> None:
    """The periodic sweep (the service sweeps once itself as it starts)."""
    while True:
        await asyncio.sleep(SWEEP.total_seconds())
        try:
            await fail_interrupted_jobs()
        except Exception:
            logger.exception("the sweep of interrupted upload jobs failed")


async def stop(task: asyncio.Task) -> None:
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
