"""The registered design as later steps read it (outcome uploads call
`require_registered_design`), and its REES export."""

from __future__ import annotations

from typing import Any

from testbed.access import (
    RESEARCHER_ROLE,
    pilot_access,
    pilot_roles,
)
from testbed.auth import Principal
from testbed.designs import rees
from testbed.designs.power_panel import power_panel
from testbed.designs.services.sites import site_names
from testbed.designs.services.versions import all_versions, pilot_summary, visible_versions
from testbed.errors import Conflict, NotFound
from testbed.tables import (
    DesignVersion,
)


async def registered_design(pilot_id: int) -> dict[str, Any] | None:
    """The pilot's current registered design: the latest registered version's number, id,
    document, SHA-256 and registration time; None when nothing is registered. No access check:
    callers have checked who is asking."""
    row = (
        await DesignVersion.select(
            DesignVersion.id,
            DesignVersion.version,
            DesignVersion.document,
            DesignVersion.sha256,
            DesignVersion.registered_at,
        )
        .where((DesignVersion.pilot == pilot_id) & DesignVersion.registered_at.is_not_null())
        .order_by(DesignVersion.version, ascending=False)
        .first()
        .output(load_json=True)
    )
    return dict(row) if row else None


async def require_registered_design(
    pilot_id: int, *, before: str = "uploading data"
) -> dict[str, Any]:
    """The current registered design, or Conflict: nothing is collected before registration."""
    design = await registered_design(pilot_id)
    if design is None:
        raise Conflict(
            f"This pilot's design is not registered yet: register the design before {before}, "
            "so the plan is fixed before any data arrive."
        )
    return design


# --- REES export ------------------------------------------------------------------------------


async def rees_export(
    principal: Principal | None, pilot_id: int, version: int | None = None
) -> dict[str, Any]:
    """A registration in the field groups of SREE's Registry of Efficacy and Effectiveness
    Studies, to file there too."""
    access = await pilot_access(principal, pilot_id)
    registered = [
        v
        for v in visible_versions(access, await all_versions(pilot_id))
        if v["status"] == "registered"
    ]
    chosen = (
        next((v for v in registered if v["version"] == version), None)
        if version is not None
        else (registered[-1] if registered else None)
    )
    if chosen is None:
        raise NotFound("There is no registered version to export yet: register the design first.")
    sites = await site_names(pilot_id)
    return rees.export(
        pilot=await pilot_summary(pilot_id),
        version=chosen,
        power=power_panel(chosen["document"]),
        sites=sites,
        researchers=[
            role["name"]
            for role in await pilot_roles(pilot_id)
            if role["in_effect"] and role["role"] == RESEARCHER_ROLE
        ],
    )
