"""Implementation logs: what each site did to run the pilot, reported by its district."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from piccolo.engine.sqlite import TransactionType

from testbed import audit
from testbed.access import PilotAccess
from testbed.auth import Principal
from testbed.inputs import InputReader
from testbed.tables import (
    ImplementationLog,
)
from testbed.uploads.services.sites import require_site, require_upload_permission


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


async def save_implementation_log(
    principal: Principal, access: PilotAccess, site_id: int, values: dict[str, str]
) -> None:
    require_upload_permission(principal, access, site_id)
    await require_site(access.pilot_id, site_id)
    reader = InputReader(values)
    held = {"yes": True, "no": False, "": None}.get((values.get("training_held") or "").strip())
    training_on = reader.iso_date("training_on")
    started_on = reader.iso_date("started_on")
    ended_on = reader.iso_date("ended_on")
    if started_on and ended_on and ended_on < started_on:
        reader.problem("ended_on", "The end date is before the start date.")
    if training_on and held is False:
        reader.problem("training_on", "A training date was given, but no training held.")
    problems = (values.get("problems") or "").strip()
    if len(problems) > 5000:
        reader.problem("problems", "Keep this under 5,000 characters.")
    reader.raise_problems(message="Some of the log needs fixing.")
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
