"""A pilot's sites as its design's pages list them."""

from __future__ import annotations

from typing import Any

from testbed.errors import NotFound
from testbed.tables import (
    Enrollment,
)


async def site_names(pilot_id: int) -> list[dict[str, Any]]:
    return await (
        Enrollment.select(
            Enrollment.district.id.as_alias("site_id"),
            Enrollment.district.name.as_alias("name"),
            Enrollment.district.state.as_alias("state"),
        )
        .where((Enrollment.pilot == pilot_id) & (Enrollment.status == "site"))
        .order_by(Enrollment.district.name)
    )


async def require_site(pilot_id: int, site_id: int) -> dict[str, Any]:
    site = next((s for s in await site_names(pilot_id) if s["site_id"] == site_id), None)
    if site is None:
        raise NotFound("That district is not a site of this pilot.")
    return site
