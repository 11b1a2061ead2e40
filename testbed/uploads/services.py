"""Outcome data: uploads (checked whole, stored all or nothing, superseding the site's previous
upload), attrition, the data-quality summary and implementation logs.

An upload becomes an UploadJob first. Small files are checked and imported while the request
waits; larger ones in a task of this process while the job page shows progress
(`SYNCHRONOUS_LIMIT_BYTES`). Progress of the import itself lives in this process's memory, as
the rows are written inside one transaction that other connections cannot see into.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from itertools import repeat
from typing import Any

import anyio
import numpy as np
from piccolo.engine.sqlite import TransactionType

from analysis.suppression import suppress_attrition
from analysis.wwc import attrition as wwc_attrition
from testbed import audit
from testbed.access import SITE_STATUSES, PilotAccess, access_to_pilot, may_see_student_rows
from testbed.auth import Principal
from testbed.bulk import bulk_insert
from testbed.designs.services import registered_design, require_registered_design
from testbed.errors import Conflict, Forbidden, InvalidInput, NotFound
from testbed.findings.disclosure import hidden_reason
from testbed.settings import Settings
from testbed.tables import (
    Assignment,
    Dataset,
    Enrollment,
    ImplementationLog,
    Observation,
    Pilot,
    SummaryRow,
    UploadJob,
)
from testbed.uploads import leases
from testbed.uploads.charts import histogram
from testbed.uploads.columns import STUDENT_COLUMNS, STUDENT_KEY, SUBGROUP_FLAGS
from testbed.uploads.pseudonymize import pilot_key, pseudonymizer
from testbed.uploads.spreadsheet import is_zip_archive, workbook_as_csv
from testbed.uploads.validation import (
    MAX_PROBLEMS_LISTED,
    AggregateRow,
    OutcomeRule,
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
IMPORT_CHUNK_ROWS = 50_000
CLUSTER_UNITS = ("classroom", "school")
SMALL_CELL = 10
OBSERVATION_COLUMNS = ("dataset", *STUDENT_COLUMNS, "outcomes")

logger = logging.getLogger("testbed.uploads")

# Rows written so far by imports running in this process (job id → rows).
_import_progress: dict[int, int] = {}
# Background uploads of this process (a reference keeps each task alive until it ends).
_running: set[asyncio.Task] = set()


# --- the design and the site -----------------------------------------------------------------


async def pilot_sites(pilot_id: int) -> list[dict[str, Any]]:
    """The pilot's sites (districts whose enrollment made them a site), by name."""
    return await (
        Enrollment.select(
            Enrollment.district.id.as_alias("id"), Enrollment.district.name.as_alias("name")
        )
        .where((Enrollment.pilot == pilot_id) & Enrollment.status.is_in(list(SITE_STATUSES)))
        .order_by(Enrollment.district.name)
    )


async def require_site(pilot_id: int, site_id: int) -> dict[str, Any]:
    site = next((s for s in await pilot_sites(pilot_id) if s["id"] == site_id), None)
    if site is None:
        raise NotFound("That district is not a site of this pilot.")
    return site


def may_upload(principal: Principal, access: PilotAccess, site_id: int) -> bool:
    """Network admins, and verified members of the site's own district."""
    if principal.is_network_admin:
        return True
    membership = principal.membership(site_id)
    return (
        membership is not None
        and membership.kind == "district"
        and membership.verified
        and site_id in access.site_district_ids
    )


def require_upload_permission(principal: Principal, access: PilotAccess, site_id: int) -> None:
    if not may_upload(principal, access, site_id):
        raise Forbidden(
            "Only verified members of this site's district (or network administrators) can "
            "upload or change its data."
        )


def rules_from_design(
    document: dict[str, Any], assignment: dict[str, str] | None, max_bytes: int
) -> UploadRules:
    """What the registered design asks of an upload."""
    outcomes = tuple(
        OutcomeRule(
            name=str(outcome["name"]).strip().lower(),
            kind=outcome.get("kind", "continuous"),
            minimum=outcome.get("min"),
            maximum=outcome.get("max"),
            primary=bool(outcome.get("primary")),
        )
        for outcome in document.get("outcomes", [])
    )
    if not outcomes:
        raise Conflict("The registered design names no outcomes; amend it before uploading.")
    cluster_design = document.get("unit_of_assignment") in CLUSTER_UNITS
    return UploadRules(
        arms=tuple(document.get("arms") or ("treatment", "control")),
        outcomes=outcomes,
        needs_cluster=cluster_design or document.get("design_type") == "cluster_rct",
        has_baseline=bool(document.get("baseline_measure")),
        assignment=assignment or None,
        assignment_unit="cluster" if cluster_design else "student",
        max_bytes=max_bytes,
    )


async def site_assignment(pilot_id: int, site_id: int) -> dict[str, str] | None:
    row = (
        await Assignment.select(Assignment.arms)
        .where((Assignment.pilot == pilot_id) & (Assignment.site == site_id))
        .order_by(Assignment.id, ascending=False)
        .output(load_json=True)
        .first()
    )
    return {str(unit): str(arm) for unit, arm in row["arms"].items()} if row else None


async def upload_rules(pilot_id: int, site_id: int, max_bytes: int) -> UploadRules:
    design = await require_registered_design(pilot_id)
    return rules_from_design(
        design["document"], await site_assignment(pilot_id, site_id), max_bytes
    )


def template_header(rules: UploadRules) -> list[str]:
    required, optional = rules.student_columns()
    order = [*STUDENT_COLUMNS, *(outcome.name for outcome in rules.outcomes)]
    wanted = set(required) | set(optional)
    if not rules.needs_cluster:
        # Still accepted in a file, but a template for students assigned one by one does not
        # ask for classroom codes.
        wanted.discard("cluster")
    return [name for name in order if name in wanted]


async def template_csv(pilot_id: int) -> str:
    design = await require_registered_design(pilot_id)
    rules = rules_from_design(design["document"], None, 0)
    return ",".join(template_header(rules)) + "\r\n"


# --- uploads ---------------------------------------------------------------------------------


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
        _import_progress.pop(job_id, None)
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
    engine_type = Observation._meta.db.engine_type
    columns = observation_columns(students)
    for start in range(0, len(students), IMPORT_CHUNK_ROWS):
        stop = min(start + IMPORT_CHUNK_ROWS, len(students))
        await bulk_insert(
            Observation,
            observation_rows(dataset_id, students, columns, start, stop, engine_type),
            columns=columns,
            encoded=True,
        )
        if job_id is not None:
            _import_progress[job_id] = stop


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


# --- jobs ------------------------------------------------------------------------------------


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
    if job["status"] == "importing" and job_id in _import_progress:
        job["rows_done"] = _import_progress[job_id]
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


# --- attrition and data quality ---------------------------------------------------------------


def _json_value_sql(engine_type: str) -> str:
    """SQL for one outcome's value inside Observation.outcomes (the path as a parameter)."""
    if engine_type == "postgres":
        return "(outcomes::jsonb ->> {})"
    return "json_extract(outcomes, {})"


def _json_path(engine_type: str, name: str) -> str:
    return name if engine_type == "postgres" else "$." + json.dumps(name)


async def pilot_datasets(pilot_id: int) -> list[dict[str, Any]]:
    return await (
        Dataset.select(
            Dataset.id,
            Dataset.site,
            Dataset.site.name.as_alias("site_name"),
            Dataset.version,
            Dataset.kind,
            Dataset.filename,
            Dataset.sha256,
            Dataset.row_count,
            Dataset.uploaded_at,
            Dataset.is_current,
            Dataset.uploaded_by.name.as_alias("uploaded_by_name"),
        )
        .where(Dataset.pilot == pilot_id)
        .order_by(Dataset.site.name)
        .order_by(Dataset.version, ascending=False)
    )


# What an upload's listing says about the students of its site: shown only to those who may see
# the site's student rows. Everyone else sees the site, version, kind, whether it is current and
# when it was uploaded.
UPLOAD_DETAILS = ("filename", "sha256", "row_count", "uploaded_by_name")


def datasets_as_seen_by(
    access: PilotAccess, datasets: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """`pilot_datasets` for one viewer: each site's uploads in full for its own district, the
    pilot's researchers and admins (may_see_student_rows); without file name, checksum, row
    count and uploader for anyone else (`details_shown` False)."""
    shown = []
    for dataset in datasets:
        if may_see_student_rows(access, dataset["site"]):
            shown.append({**dataset, "details_shown": True})
        else:
            shown.append({**dataset, **dict.fromkeys(UPLOAD_DETAILS), "details_shown": False})
    return shown


@dataclass
class ArmCounts:
    randomized: int
    analyzed: int


async def site_arm_counts(
    pilot_id: int, design: dict[str, Any], datasets: list[dict[str, Any]]
) -> dict[int, dict[str, ArmCounts]]:
    """Per site (current upload) and arm: randomized and analyzed (primary outcome present).

    Randomized comes from the site's randomization when students were randomized by the
    service, else from the rows uploaded; for aggregates from the file's randomized column.
    """
    document = design["document"]
    rules = rules_from_design(document, None, 0)
    primary = rules.primary_outcome
    current = [d for d in datasets if d["is_current"]]
    counts: dict[int, dict[str, ArmCounts]] = {d["site"]: {} for d in current}
    student_sets = {d["id"]: d["site"] for d in current if d["kind"] == "students"}
    aggregate_sets = {d["id"]: d["site"] for d in current if d["kind"] == "aggregates"}
    engine = Observation._meta.db
    if student_sets:
        ids = ", ".join(str(int(i)) for i in student_sets)
        rows = await Observation.raw(
            f"SELECT dataset, arm, COUNT(*) AS uploaded, "  # noqa: S608 (ids are ints)
            f"COUNT({_json_value_sql(engine.engine_type)}) AS analyzed "
            f"FROM observation WHERE dataset IN ({ids}) GROUP BY dataset, arm",
            _json_path(engine.engine_type, primary),
        )
        for row in rows:
            counts[student_sets[row["dataset"]]][row["arm"]] = ArmCounts(
                randomized=row["uploaded"], analyzed=row["analyzed"]
            )
    if aggregate_sets:
        summaries = await SummaryRow.select().where(SummaryRow.dataset.is_in(list(aggregate_sets)))
        # Randomized is a property of the site's arm, not of an outcome: the largest figure any
        # row of the file gives (its randomized column, else its n), so an outcome measured on
        # fewer students does not shrink the sample randomized.
        for row in summaries:
            site_counts = counts[aggregate_sets[row["dataset"]]]
            found = site_counts.get(row["arm"], ArmCounts(0, 0))
            randomized = max(found.randomized, row["randomized"] or 0, row["n"])
            analyzed = row["n"] if row["outcome"] == primary else found.analyzed
            site_counts[row["arm"]] = ArmCounts(max(randomized, analyzed), analyzed)
    if document.get("unit_of_assignment", "student") == "student":
        assignments = (
            await Assignment.select(Assignment.site, Assignment.arms)
            .where(Assignment.pilot == pilot_id)
            .order_by(Assignment.id)
            .output(load_json=True)
        )
        for assignment in assignments:
            site_counts = counts.get(assignment["site"])
            if site_counts is None or assignment["site"] in aggregate_sets.values():
                continue
            per_arm: dict[str, int] = {}
            for arm in assignment["arms"].values():
                per_arm[arm] = per_arm.get(arm, 0) + 1
            for arm, randomized in per_arm.items():
                analyzed = site_counts.get(arm, ArmCounts(0, 0)).analyzed
                site_counts[arm] = ArmCounts(max(randomized, analyzed), analyzed)
    return counts


async def current_site_counts(pilot_id: int) -> dict[int, dict[str, ArmCounts]]:
    """Per site with a current upload and arm: randomized and analyzed, under the pilot's
    registered design (empty before registration). The one source of these counts for the
    finding, the data page, the dashboard and the home page."""
    design = await registered_design(pilot_id)
    if design is None:
        return {}
    return await site_arm_counts(pilot_id, design, await pilot_datasets(pilot_id))


def students_reached(counts: dict[str, ArmCounts]) -> int:
    """Students in a site's part of the pilot: every student randomized (or uploaded), whether
    or not their outcome arrived; for a site that sent totals, from its totals."""
    return sum(arm.randomized for arm in counts.values())


async def network_students_reached() -> dict[tuple[int, int], int]:
    """(pilot, site) -> students reached, over every current upload of the network."""
    pilots = await Dataset.select(Dataset.pilot).where(Dataset.is_current.eq(True)).distinct()
    reached = {}
    for pilot_id in sorted(row["pilot"] for row in pilots):
        for site, counts in (await current_site_counts(pilot_id)).items():
            reached[(pilot_id, site)] = students_reached(counts)
    return reached


@dataclass(frozen=True)
class AttritionSummary:
    randomized: dict[str, int]
    analyzed: dict[str, int]
    overall: float | None
    differential: float | None
    rating: str | None
    max_differential: float | None
    words: str


def attrition_summary(
    counts: dict[str, ArmCounts], arms: tuple[str, ...] = ("treatment", "control")
) -> AttritionSummary:
    """Overall and differential attrition with the WWC rating (cautious boundary), in words."""
    randomized = {arm: counts[arm].randomized for arm in counts}
    analyzed = {arm: counts[arm].analyzed for arm in counts}
    total_randomized = sum(randomized.values())
    total_analyzed = sum(analyzed.values())
    treatment, control = (arms + ("control",))[:2]
    if randomized.get(treatment, 0) >= 1 and randomized.get(control, 0) >= 1:
        result = wwc_attrition(
            randomized[treatment], analyzed.get(treatment, 0), randomized[control],
            analyzed.get(control, 0),
        )  # fmt: skip
        words = (
            f"Of {total_randomized:,} students randomized, {total_analyzed:,} have the primary "
            f"outcome: overall attrition {100 * result.overall:.1f} %, differential "
            f"{100 * result.differential:.1f} percentage points ({treatment} "
            f"{100 * result.treatment:.1f} %, {control} {100 * result.control:.1f} %). "
            + (
                "That is low attrition under the WWC's cautious boundary."
                if result.rating == "low"
                else "That is high attrition under the WWC's cautious boundary"
                + (
                    f" (at this overall rate the differential must stay within "
                    f"{100 * result.max_differential:.1f} points)."
                    if result.max_differential is not None
                    else " (no differential is low at this overall rate)."
                )
            )
        )
        return AttritionSummary(
            randomized, analyzed, result.overall, result.differential, result.rating,
            result.max_differential, words,
        )  # fmt: skip
    if total_randomized:
        overall = 1 - total_analyzed / total_randomized
        words = (
            f"Of {total_randomized:,} students, {total_analyzed:,} have the primary outcome "
            f"(attrition {100 * overall:.1f} %). With one arm there is no differential "
            "attrition to rate."
        )
        return AttritionSummary(randomized, analyzed, overall, None, None, None, words)
    return AttritionSummary(randomized, analyzed, None, None, None, None, "No data yet.")


async def dataset_attrition(dataset_id: int) -> AttritionSummary | None:
    """Attrition of one site's upload, as shown right after it."""
    dataset = await Dataset.select().where(Dataset.id == dataset_id).first()
    design = await registered_design(dataset["pilot"]) if dataset else None
    if dataset is None or design is None:
        return None
    counts = await site_arm_counts(dataset["pilot"], design, [{**dataset, "is_current": True}])
    arms = tuple(design["document"].get("arms") or ("treatment", "control"))
    return attrition_summary(counts.get(dataset["site"], {}), arms)


def known_sites(principal: Principal | None, access: PilotAccess) -> set[int] | None:
    """Sites whose rows the viewer may see unsuppressed (None: every site, for admins)."""
    if principal is not None and principal.is_network_admin:
        return None
    return set(access.site_district_ids)


async def data_quality(principal: Principal | None, access: PilotAccess) -> dict[str, Any]:
    """Everything the data-quality page shows, suppressed for the viewer."""
    pilot_id = access.pilot_id
    pilot = (
        await Pilot.select(Pilot.id, Pilot.title, Pilot.status).where(Pilot.id == pilot_id).first()
    )
    design = await registered_design(pilot_id)
    sites = await pilot_sites(pilot_id)
    datasets = await pilot_datasets(pilot_id)
    logs = {log["site"]: log for log in await implementation_logs(pilot_id)}
    known = known_sites(principal, access)
    listed = datasets_as_seen_by(access, datasets)
    page: dict[str, Any] = {
        "pilot": pilot,
        "design": design,
        "sites": sites,
        "logs": logs,
        "uploadable": {
            site["id"]
            for site in sites
            if principal is not None and may_upload(principal, access, site["id"])
        },
        "versions": listed,
        "current": {d["site"]: d for d in listed if d["is_current"]},
        "sees_everything": known is None,
    }
    if design is None:
        return page
    arms = tuple(design["document"].get("arms") or ("treatment", "control"))
    counts = await site_arm_counts(pilot_id, design, datasets)
    sites_with_data = [site for site in sites if site["id"] in counts]
    page["arms"] = arms
    page["attrition_rows"] = _attrition_table(sites_with_data, counts, arms, known)
    pooled = {
        arm: ArmCounts(
            sum(counts[s["id"]].get(arm, ArmCounts(0, 0)).randomized for s in sites_with_data),
            sum(counts[s["id"]].get(arm, ArmCounts(0, 0)).analyzed for s in sites_with_data),
        )
        for arm in arms
    }
    page["attrition"] = attrition_summary(pooled, arms) if sites_with_data else None
    page["missingness"] = await _missingness(design, datasets, sites_with_data, known)
    page["distributions"] = await _distributions(design, datasets, known, arms)
    return page


async def randomized_shown(pilot_id: int, known: set[int] | None) -> dict[int, dict[str, bool]]:
    """Site -> arm (and "total") -> whether its randomized count may be shown to a viewer who
    knows the `known` sites' rows (None: every site), by the data page's rule. The
    randomization pages show the same counts and must hide the same ones."""
    design = await registered_design(pilot_id)
    if design is None:
        return {}
    arms = tuple(design["document"].get("arms") or ("treatment", "control"))
    counts = await current_site_counts(pilot_id)
    sites = [{"id": site} for site in sorted(counts)]
    table = _attrition_table(sites, counts, arms, known)
    return {
        row["site"]["id"]: {
            **{cell["arm"]: cell["randomized"] is not None for cell in row["cells"]},
            "total": row["randomized"] is not None,
        }
        for row in table["rows"]
    }


def _attrition_table(
    sites: list[dict[str, Any]],
    counts: dict[int, dict[str, ArmCounts]],
    arms: tuple[str, ...],
    known: set[int] | None,
) -> dict[str, Any]:
    """Randomized and analyzed per site and arm, suppressed together (analysis.suppression:
    randomized minus analyzed must not give a small count either)."""
    known_rows = [known is None or site["id"] in known for site in sites]
    cells = {
        measure: [
            [getattr(counts[site["id"]].get(arm, ArmCounts(0, 0)), measure) for arm in arms]
            for site in sites
        ]
        for measure in ("randomized", "analyzed")
    }
    shown = suppress_attrition(cells["randomized"], cells["analyzed"], SMALL_CELL, known_rows)
    tables = {"randomized": shown.randomized, "analyzed": shown.analyzed}
    rows = []
    for i, site in enumerate(sites):
        row_cells = []
        for j, arm in enumerate(arms):
            randomized = tables["randomized"].cells[i][j]
            analyzed = tables["analyzed"].cells[i][j]
            rate = (
                1 - analyzed / randomized
                if randomized is not None and analyzed is not None and randomized > 0
                else None
            )
            row_cells.append(
                {
                    "arm": arm,
                    "randomized": randomized,
                    "analyzed": analyzed,
                    "rate": rate,
                    "why": {
                        "randomized": hidden_reason(
                            cells["randomized"][i][j],
                            cells["randomized"][i][j] - cells["analyzed"][i][j],
                        ),
                        "analyzed": hidden_reason(cells["analyzed"][i][j]),
                    },
                }
            )
        rows.append(
            {
                "site": site,
                "cells": row_cells,
                "randomized": tables["randomized"].row_totals[i],
                "analyzed": tables["analyzed"].row_totals[i],
            }
        )
    column_totals = {
        measure: [sum(row[j] for row in cells[measure]) for j in range(len(arms))]
        for measure in ("randomized", "analyzed")
    }
    return {
        "rows": rows,
        "randomized_totals": tables["randomized"].column_totals,
        "analyzed_totals": tables["analyzed"].column_totals,
        "totals_why": {
            "randomized": [
                hidden_reason(r, r - a)
                for r, a in zip(column_totals["randomized"], column_totals["analyzed"], strict=True)
            ],
            "analyzed": [hidden_reason(a) for a in column_totals["analyzed"]],
        },
        "randomized": tables["randomized"].total,
        "analyzed": tables["analyzed"].total,
        "suppressed": any(t.hidden_cells for t in tables.values()),
    }


async def _missingness(
    design: dict[str, Any],
    datasets: list[dict[str, Any]],
    sites: list[dict[str, Any]],
    known: set[int] | None,
) -> dict[str, Any]:
    """Per site (current student-level upload): the share of rows missing each column."""
    current = {d["site"]: d for d in datasets if d["is_current"] and d["kind"] == "students"}
    engine = Observation._meta.db
    rules = rules_from_design(design["document"], None, 0)
    text_columns = ["cluster", "arm", "gender", "race_ethnicity"]
    null_columns = ["frl", "el", "swd", "baseline", "dosage"]
    outcome_names = [outcome.name for outcome in rules.outcomes]
    columns = [*text_columns, *null_columns, *outcome_names]
    rows_out = []
    for site in sites:
        dataset = current.get(site["id"])
        if dataset is None:
            continue
        n = dataset["row_count"]
        own = known is None or site["id"] in known
        if not own and n < SMALL_CELL:
            rows_out.append({"site": site, "n": None, "missing": None})
            continue
        parts = [f"SUM(CASE WHEN {c} = '' THEN 1 ELSE 0 END) AS {c}" for c in text_columns]
        parts += [f"SUM(CASE WHEN {c} IS NULL THEN 1 ELSE 0 END) AS {c}" for c in null_columns]
        value = _json_value_sql(engine.engine_type)
        parts += [
            f"SUM(CASE WHEN {value} IS NULL THEN 1 ELSE 0 END) AS o{i}"
            for i in range(len(outcome_names))
        ]
        result = await Observation.raw(
            f"SELECT {', '.join(parts)} FROM observation WHERE dataset = {{}}",  # noqa: S608
            *[_json_path(engine.engine_type, name) for name in outcome_names],
            dataset["id"],
        )
        found = result[0]
        missing = [int(found[c] or 0) for c in [*text_columns, *null_columns]]
        missing += [int(found[f"o{i}"] or 0) for i in range(len(outcome_names))]
        if own:
            shares = [m / n if n else None for m in missing]
            rows_out.append({"site": site, "n": n, "missing": shares})
            continue
        # Outside the district: the rows uploaded less those with the outcome would be the
        # students lost, and a share of 1 to 9 rows times the rows is a small count.
        rows_out.append(
            {
                "site": site,
                "n": None,
                "missing": [None if 0 < m < SMALL_CELL else m / n for m in missing],
            }
        )
    return {"columns": columns, "rows": rows_out}


async def _distributions(
    design: dict[str, Any],
    datasets: list[dict[str, Any]],
    known: set[int] | None,
    arms: tuple[str, ...],
) -> list[dict[str, Any]]:
    """Per outcome: a histogram by arm over the current student-level uploads (pooled)."""
    current = [d for d in datasets if d["is_current"] and d["kind"] == "students"]
    if not current:
        return []
    everyone_known = known is None or all(d["site"] in known for d in current)
    engine = Observation._meta.db
    ids = ", ".join(str(int(d["id"])) for d in current)
    rules = rules_from_design(design["document"], None, 0)
    charts = []
    for outcome in rules.outcomes:
        rows = await Observation.raw(
            f"SELECT arm, {_json_value_sql(engine.engine_type)} AS value "  # noqa: S608
            f"FROM observation WHERE dataset IN ({ids})",
            _json_path(engine.engine_type, outcome.name),
        )
        by_arm = {
            arm: np.array(
                [float(r["value"]) for r in rows if r["arm"] == arm and r["value"] is not None]
            )
            for arm in arms
        }
        label = next(
            (o.get("label") or o["name"] for o in design["document"]["outcomes"]
             if str(o["name"]).strip().lower() == outcome.name),
            outcome.name,
        )  # fmt: skip
        charts.append(histogram(outcome, label, by_arm, suppress=not everyone_known))
    return charts


# --- implementation logs -----------------------------------------------------------------------


async def implementation_logs(pilot_id: int) -> list[dict[str, Any]]:
    return await ImplementationLog.select(
        *ImplementationLog.all_columns(),
        ImplementationLog.updated_by.name.as_alias("updated_by_name"),
    ).where(ImplementationLog.pilot == pilot_id)


async def implementation_log(pilot_id: int, site_id: int) -> dict[str, Any] | None:
    return (
        await ImplementationLog.select()
        .where((ImplementationLog.pilot == pilot_id) & (ImplementationLog.site == site_id))
        .first()
    )


def _date_field(values: dict[str, str], name: str, errors: list[dict[str, str]]) -> date | None:
    text = (values.get(name) or "").strip()
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        errors.append({"field": name, "message": "Enter a date as YYYY-MM-DD."})
        return None


async def save_implementation_log(
    principal: Principal, access: PilotAccess, site_id: int, values: dict[str, str]
) -> None:
    require_upload_permission(principal, access, site_id)
    await require_site(access.pilot_id, site_id)
    errors: list[dict[str, str]] = []
    held = {"yes": True, "no": False, "": None}.get((values.get("training_held") or "").strip())
    training_on = _date_field(values, "training_on", errors)
    started_on = _date_field(values, "started_on", errors)
    ended_on = _date_field(values, "ended_on", errors)
    if started_on and ended_on and ended_on < started_on:
        errors.append({"field": "ended_on", "message": "The end date is before the start date."})
    if training_on and held is False:
        errors.append(
            {"field": "training_on", "message": "A training date was given, but no training held."}
        )
    problems = (values.get("problems") or "").strip()
    if len(problems) > 5000:
        errors.append({"field": "problems", "message": "Keep this under 5,000 characters."})
    if errors:
        raise InvalidInput("Some of the log needs fixing.", errors=errors)
    fields = {
        ImplementationLog.training_held: held,
        ImplementationLog.training_on: training_on,
        ImplementationLog.started_on: started_on,
        ImplementationLog.ended_on: ended_on,
        ImplementationLog.problems: problems,
        ImplementationLog.updated_by: principal.user_id,
        ImplementationLog.updated_at: datetime.now(UTC),
    }
    engine = ImplementationLog._meta.db
    # Read, then write: SQLite takes the write lock at BEGIN, or a writer that got in between
    # (the upload sweep) fails this save at once with "database is locked", busy timeout or not.
    write = (
        engine.transaction()
        if engine.engine_type == "postgres"
        else engine.transaction(transaction_type=TransactionType.immediate)
    )
    async with write:
        existing = await implementation_log(access.pilot_id, site_id)
        if existing:
            await ImplementationLog.update(fields).where(ImplementationLog.id == existing["id"])
        else:
            await ImplementationLog.insert(
                ImplementationLog(
                    pilot=access.pilot_id,
                    site=site_id,
                    **{column._meta.name: value for column, value in fields.items()},
                )
            )
        await audit.record(
            "implementation_log",
            actor_id=principal.user_id,
            object_type="pilot",
            object_id=access.pilot_id,
            detail={"site": site_id},
        )
