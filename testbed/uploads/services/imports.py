"""Uploads: checked whole, stored all or nothing, superseding the site's previous upload.

An upload becomes an UploadJob first. Small files are checked and imported while the request
waits; larger ones in a task of this process while the job page shows progress
(`SYNCHRONOUS_LIMIT_BYTES`). Progress of the import itself lives in this process's memory
(`jobs.import_progress`), as the rows are written inside one transaction that other
connections cannot see into.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import repeat
from typing import Any

import anyio
import numpy as np
from piccolo.engine.sqlite import TransactionType

from testbed import audit
from testbed.access import PilotAccess
from testbed.auth import Principal
from testbed.bulk import bulk_insert
from testbed.errors import Conflict, InvalidInput
from testbed.settings import Settings
from testbed.tables import (
    Dataset,
    Observation,
    SummaryRow,
    UploadJob,
)
from testbed.uploads import leases
from testbed.uploads.columns import STUDENT_COLUMNS, STUDENT_KEY, SUBGROUP_FLAGS
from testbed.uploads.pseudonymize import pilot_key, pseudonymizer
from testbed.uploads.services.jobs import import_progress
from testbed.uploads.services.sites import require_site, require_upload_permission, upload_rules
from testbed.uploads.spreadsheet import is_zip_archive, workbook_as_csv
from testbed.uploads.validation import (
    MAX_PROBLEMS_LISTED,
    AggregateRow,
    StudentData,
    UploadRejected,
    UploadRules,
    validate_aggregates,
    validate_students,
    without_cycle_collection,
)

ACCEPTING_STATUSES = ("active", "analysis")
UPLOAD_KINDS = ("students", "aggregates")
SYNCHRONOUS_LIMIT_BYTES = 5 * 1024 * 1024
# Rows encoded at a time while the driver stores the rows before them (small enough that the
# server never waits long for the next ones: 50,000 left it idle for about a fifth of storing).
IMPORT_CHUNK_ROWS = 5_000
OBSERVATION_COLUMNS = ("dataset", *STUDENT_COLUMNS, "outcomes")
logger = logging.getLogger("testbed.uploads")
# Background uploads of this process (a reference keeps each task alive until it ends).
_running: set[asyncio.Task] = set()


@dataclass(frozen=True)
class UploadRequest:
    principal: Principal
    access: PilotAccess
    site_id: int
    kind: str
    filename: str
    data: bytes


async def start_upload(request: UploadRequest, settings: Settings) -> int:
    """Check who and when, record the job, and check and import the file: at once if it is
    small, else in the background. Returns the job's id."""
    pilot_id = request.access.pilot_id
    require_upload_permission(request.principal, request.access, request.site_id)
    await require_site(pilot_id, request.site_id)
    if request.kind not in UPLOAD_KINDS:
        raise InvalidInput(
            "Choose student-level rows or aggregates.",
            errors=[{"field": "kind", "message": "Choose student-level rows or aggregates."}],
        )
    if request.access.status not in ACCEPTING_STATUSES:
        raise Conflict(
            f"This pilot is {request.access.status}: data are accepted while it is active "
            "or in analysis."
        )
    rules = await upload_rules(pilot_id, request.site_id, settings.max_upload_bytes)
    rows = await UploadJob.insert(
        UploadJob(
            pilot=pilot_id,
            site=request.site_id,
            kind=request.kind,
            filename=neutral_filename(request),
            size_bytes=len(request.data),
            sha256=hashlib.sha256(request.data).hexdigest(),
            rows_total=0 if is_zip_archive(request.data) else _line_count(request.data),
            created_by=request.principal.user_id,
            lease_until=leases.lease_deadline(),
        )
    )
    job_id = rows[0]["id"]
    work = _run_upload(job_id, request, rules, pilot_key(settings.secret_key, pilot_id))
    if len(request.data) <= SYNCHRONOUS_LIMIT_BYTES:
        await work
    else:
        task = asyncio.get_running_loop().create_task(work)
        _running.add(task)
        task.add_done_callback(_running.discard)
    return job_id


def _line_count(data: bytes) -> int:
    """Rows in a CSV file, about (the header aside): the job page's progress needs no more."""
    return max(0, data.count(b"\n") - 1)


def neutral_filename(request: UploadRequest) -> str:
    """The name an upload is kept under: what, where and when, never the name it arrived with
    (a file's name can carry a student's name or number: "jane.doe_SSN_123-45-6789.csv")."""
    extension = "xlsx" if is_zip_archive(request.data) else "csv"
    today = datetime.now(UTC).date().isoformat()
    return f"{request.kind}-site-{request.site_id}-{today}.{extension}"


async def _set_job(job_id: int, **values: Any) -> None:
    """Record the job's progress; while it runs, each update also renews its lease."""
    columns = {getattr(UploadJob, name): value for name, value in values.items()}
    columns[UploadJob.updated_at] = datetime.now(UTC)
    finished = values.get("status") in ("done", "failed")
    columns[UploadJob.lease_until] = None if finished else leases.lease_deadline()
    await UploadJob.update(columns).where(UploadJob.id == job_id)


async def _run_upload(job_id: int, request: UploadRequest, rules: UploadRules, key: bytes) -> None:
    beating = asyncio.create_task(leases.heartbeat(job_id))
    try:
        await _set_job(job_id, status="validating")
        data = request.data
        if is_zip_archive(data):
            data = await anyio.to_thread.run_sync(workbook_as_csv, data, rules.max_bytes)
            await _set_job(job_id, rows_total=_line_count(data))
        if request.kind == "students":
            students = await _validate_with_progress(job_id, data, rules, key)
            await _set_job(job_id, status="importing", rows_total=len(students))
            dataset_id = await import_students(request, students, job_id=job_id)
        else:
            aggregates = await anyio.to_thread.run_sync(validate_aggregates, data, rules)
            await _set_job(job_id, status="importing", rows_total=len(aggregates))
            dataset_id = await import_aggregates(request, aggregates)
    except UploadRejected as rejected:
        await _set_job(
            job_id,
            status="failed",
            problems=[problem.as_dict() for problem in rejected.problems[:MAX_PROBLEMS_LISTED]],
            problem_count=rejected.count,
            message=_rejection_summary(rejected.count),
        )
        return
    except Exception:
        # The transaction rolled back: nothing of this file is stored. Say so, and log why.
        logger.exception("upload job %s failed", job_id)
        await _set_job(
            job_id,
            status="failed",
            message="The import stopped with an error and nothing was stored. "
            "Try again; if it happens again, tell the network office.",
        )
        return
    finally:
        import_progress.pop(job_id, None)
        await leases.stop(beating)
    await _set_job(
        job_id,
        status="done",
        dataset=dataset_id,
        rows_done=await _dataset_rows(dataset_id),
        message="",  # a sweep may have thought the job lost while SQLite's lock held its beat
    )


def _rejection_summary(count: int) -> str:
    listed = min(count, MAX_PROBLEMS_LISTED)
    noun = "problem" if count == 1 else "problems"
    shown = f" (the first {listed} are listed)" if count > listed else ""
    return (
        f"The file has {count:,} {noun}{shown}. Nothing was stored: fix the file and upload "
        "it again."
    )


async def _validate_with_progress(
    job_id: int, data: bytes, rules: UploadRules, key: bytes
) -> StudentData:
    """Validate in a worker thread while this task records the rows read so far."""
    rows_read = [0]

    def progress(rows: int) -> None:
        rows_read[0] = rows

    work = asyncio.ensure_future(
        anyio.to_thread.run_sync(validate_students, data, rules, pseudonymizer(key), progress)
    )
    while not work.done():
        await asyncio.wait([work], timeout=1.0)
        if not work.done():
            await _set_job(job_id, rows_done=rows_read[0])
    return work.result()


async def _dataset_rows(dataset_id: int) -> int:
    row = await Dataset.select(Dataset.row_count).where(Dataset.id == dataset_id).first()
    return row["row_count"] if row else 0


class _SiteLock:
    """One transaction for a site's new version: SQLite's write lock taken at the start
    (IMMEDIATE), or on PostgreSQL an advisory lock on (pilot, site), so two uploads for one
    site cannot both read the same current version and both become current."""

    def __init__(self, pilot_id: int, site_id: int):
        self.pilot_id, self.site_id = pilot_id, site_id
        engine = Dataset._meta.db
        self.transaction = (
            engine.transaction()
            if engine.engine_type == "postgres"
            else engine.transaction(transaction_type=TransactionType.immediate)
        )
        self.postgres = engine.engine_type == "postgres"

    async def __aenter__(self) -> None:
        await self.transaction.__aenter__()
        if self.postgres:
            await Dataset.raw("SELECT pg_advisory_xact_lock({}, {})", self.pilot_id, self.site_id)

    async def __aexit__(self, *exc_info: Any) -> None:
        await self.transaction.__aexit__(*exc_info)


async def _new_version(request: UploadRequest, kind: str, row_count: int) -> int:
    """Inside the site's lock: supersede the current upload and add the new Dataset row."""
    pilot_id, site_id = request.access.pilot_id, request.site_id
    latest = (
        await Dataset.select(Dataset.version)
        .where((Dataset.pilot == pilot_id) & (Dataset.site == site_id))
        .order_by(Dataset.version, ascending=False)
        .first()
    )
    await Dataset.update({Dataset.is_current: False}).where(
        (Dataset.pilot == pilot_id) & (Dataset.site == site_id) & Dataset.is_current.eq(True)
    )
    rows = await Dataset.insert(
        Dataset(
            pilot=pilot_id,
            site=site_id,
            version=(latest["version"] if latest else 0) + 1,
            kind=kind,
            filename=neutral_filename(request),
            sha256=hashlib.sha256(request.data).hexdigest(),
            row_count=row_count,
            uploaded_by=request.principal.user_id,
            is_current=True,
        )
    )
    return rows[0]["id"]


async def _audit_upload(request: UploadRequest, dataset_id: int, kind: str, rows: int) -> None:
    version = await Dataset.select(Dataset.version).where(Dataset.id == dataset_id).first()
    await audit.record(
        "data_upload",
        actor_id=request.principal.user_id,
        object_type="dataset",
        object_id=dataset_id,
        detail={
            "pilot": request.access.pilot_id,
            "site": request.site_id,
            "kind": kind,
            "version": version["version"],
            "rows": rows,
            "sha256": hashlib.sha256(request.data).hexdigest(),
        },
    )


async def import_students(
    request: UploadRequest, students: StudentData, *, job_id: int | None = None
) -> int:
    """Store a validated student-level file as the site's new current version, all or nothing."""
    async with _SiteLock(request.access.pilot_id, request.site_id):
        dataset_id = await _new_version(request, "students", len(students))
        with without_cycle_collection():
            await _insert_observations(dataset_id, students, job_id)
        await _audit_upload(request, dataset_id, "students", len(students))
    return dataset_id


async def _insert_observations(dataset_id: int, students: StudentData, job_id: int | None) -> None:
    """Every row in one bulk insert (one COPY on PostgreSQL), encoded a chunk at a time as the
    driver asks for rows, so the server stores the rows sent while the next are encoded; a COPY
    per chunk made each side wait for the other at every chunk (bench/README.md)."""
    engine_type = Observation._meta.db.engine_type
    columns = observation_columns(students)

    def rows() -> Iterator[tuple[Any, ...]]:
        for start in range(0, len(students), IMPORT_CHUNK_ROWS):
            stop = min(start + IMPORT_CHUNK_ROWS, len(students))
            yield from observation_rows(dataset_id, students, columns, start, stop, engine_type)
            if job_id is not None:
                import_progress[job_id] = stop

    await bulk_insert(Observation, rows(), columns=columns, encoded=True)


def observation_columns(students: StudentData) -> tuple[str, ...]:
    """The Observation columns to write: those the file had (arm always, as the randomization
    may fill it in); the others keep their defaults (blank, or null for flags and numbers)."""
    return tuple(
        name
        for name in OBSERVATION_COLUMNS
        if name in ("dataset", STUDENT_KEY, "arm", "outcomes") or name in students.columns_present
    )


def _nullable(values: np.ndarray) -> list[float | None]:
    return [None if value != value else value for value in values.tolist()]  # NaN ≠ NaN


def _json_texts(values: np.ndarray, whole: bool) -> list[str]:
    """Each value as JSON text: null where missing, whole numbers without a decimal point.

    Scores repeat (a few thousand distinct values in a million rows), so each distinct value
    is written once and the texts are looked up: about a third of the time of writing every one.
    """
    distinct, inverse = np.unique(values, return_inverse=True)  # NaNs become one entry
    texts = np.empty(len(distinct), dtype=object)
    texts[:] = [
        "null" if value != value else str(int(value)) if whole else repr(value)  # NaN ≠ NaN
        for value in distinct.tolist()
    ]
    result = texts[inverse]
    if not whole:
        # np.unique counts -0.0 as 0.0; keep the sign as each cell wrote it.
        negative_zeros = np.flatnonzero((values == 0) & np.signbit(values))
        result[negative_zeros] = "-0.0"
        result[np.flatnonzero((values == 0) & ~np.signbit(values))] = "0.0"
    return result.tolist()


# sqlite3 adapts a bool parameter through its slow path; SQLite stores it as 0 or 1 anyway.
_SQLITE_FLAGS = {True: 1, False: 0, None: None}


def observation_rows(
    dataset_id: int,
    students: StudentData,
    columns: tuple[str, ...],
    start: int,
    stop: int,
    engine_type: str,
) -> Iterator[tuple[Any, ...]]:
    """Rows start..stop as tuples of `columns` (from OBSERVATION_COLUMNS), encoded for the
    driver (bulk_insert's `encoded` path); the outcomes' JSON is written column-wise."""

    def outcomes() -> list[str]:
        names = list(students.outcomes)
        template = "{" + ", ".join(f"{json.dumps(name)}: %s" for name in names) + "}"
        texts = [
            _json_texts(students.outcomes[name][start:stop], name in students.whole_outcomes)
            for name in names
        ]
        return [template % values for values in zip(*texts, strict=True)]

    def values_of(name: str) -> Any:
        if name == "dataset":
            return repeat(dataset_id, stop - start)
        if name == "outcomes":
            return outcomes()
        values = getattr(students, name)[start:stop]
        if name in ("baseline", "dosage"):
            return _nullable(values)
        if name in SUBGROUP_FLAGS and engine_type == "sqlite":
            return list(map(_SQLITE_FLAGS.__getitem__, values))
        return values

    return zip(*map(values_of, columns), strict=True)


async def import_aggregates(request: UploadRequest, aggregates: list[AggregateRow]) -> int:
    async with _SiteLock(request.access.pilot_id, request.site_id):
        dataset_id = await _new_version(request, "aggregates", len(aggregates))
        await bulk_insert(
            SummaryRow,
            (
                {
                    "dataset": dataset_id,
                    "arm": row.arm,
                    "outcome": row.outcome,
                    "randomized": row.randomized,
                    "n": row.n,
                    "mean": row.mean,
                    "sd": row.sd,
                    "successes": row.successes,
                }
                for row in aggregates
            ),
        )
        await _audit_upload(request, dataset_id, "aggregates", len(aggregates))
    return dataset_id
