"""A district's needs: what it wants help with, open or closed."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from piccolo.columns import Column
from piccolo.columns.combination import Combinable

from testbed import audit, vocabulary
from testbed.auth import Principal
from testbed.catalog.services.districts import require_district, require_district_member
from testbed.catalog.services.listing import (
    MAX_PER_PAGE,
    ListFilters,
    Page,
    fetch_page,
    has_code,
    search_terms,
)
from testbed.errors import NotFound
from testbed.inputs import InputReader
from testbed.tables import (
    DistrictProfile,
    Need,
)

NEED_STATUSES = ("open", "closed")
NEED_COLUMNS = (
    Need.id,
    Need.title,
    Need.statement,
    Need.pillars,
    Need.grade_band,
    Need.subject,
    Need.is_open,
    Need.created_at,
    Need.district.id.as_alias("district_id"),
    Need.district.name.as_alias("district_name"),
    Need.district.state.as_alias("state"),
)


def _visible_needs_where(principal: Principal | None) -> Combinable | None:
    """Open needs of verified districts are public; closed ones stay with the district."""
    if principal is not None and principal.is_network_admin:
        return None
    public = Need.is_open.eq(True) & Need.district.verified.eq(True)
    own = principal.organizations_of_kind("district") if principal else []
    return public | Need.district.is_in(own) if own else public


async def list_needs(principal: Principal | None, filters: ListFilters, page: int) -> Page:
    where: list[Combinable] = []
    visible = _visible_needs_where(principal)
    if visible is not None:
        where.append(visible)
    if filters.district:
        where.append(Need.district == filters.district)
    if filters.state:
        where.append(Need.district.state == filters.state)
    if filters.locale:
        where.append(
            Need.district.is_in(
                DistrictProfile.select(DistrictProfile.organization).where(
                    DistrictProfile.locale == filters.locale
                )
            )
        )
    if filters.pillar:
        where.append(has_code(Need.pillars, filters.pillar))
    if filters.grade_band:
        where.append(Need.grade_band == filters.grade_band)
    if filters.subject:
        where.append(Need.subject == filters.subject)
    if filters.status:
        where.append(Need.is_open.eq(filters.status == "open"))
    where += search_terms(filters.words, (Need.title, Need.statement))
    return await fetch_page(Need, NEED_COLUMNS, where, (Need.title, Need.id), filters, page)


async def open_needs(principal: Principal | None, district_id: int) -> list[dict[str, Any]]:
    """A district's open needs as this person may see them (its page and its API detail)."""
    filters = ListFilters(district=district_id, status="open", per_page=MAX_PER_PAGE)
    return (await list_needs(principal, filters, 1)).items


async def get_need(principal: Principal, district_id: int, need_id: int) -> dict[str, Any]:
    require_district_member(principal, district_id)
    need = (
        await Need.select(*NEED_COLUMNS)
        .where((Need.id == need_id) & (Need.district == district_id))
        .first()
    )
    if need is None:
        raise NotFound("This district has no such need.")
    return need


def _read_need(values: Mapping[str, Any]) -> dict[Column, Any]:
    reader = InputReader(values)
    need = {
        Need.title: reader.text("title", "a short title"),
        Need.statement: reader.text("statement", "the problem statement", max_length=5000),
        Need.pillars: reader.codes("pillars", "pillars", vocabulary.PILLARS),
        Need.grade_band: reader.choice("grade_band", "a grade band", vocabulary.GRADE_BANDS),
        Need.subject: reader.choice("subject", "a subject", vocabulary.SUBJECTS),
    }
    reader.raise_problems()
    return need


async def create_need(principal: Principal, district_id: int, values: Mapping[str, Any]) -> int:
    await require_district(principal, district_id)
    need = _read_need(values)
    rows = await Need.insert(
        Need(
            district=district_id,
            is_open=InputReader(values).flag("is_open") if "is_open" in values else True,
            **{column._meta.name: value for column, value in need.items()},
        )
    )
    await audit.record(
        "need_created", actor_id=principal.user_id, object_type="need", object_id=rows[0]["id"]
    )
    return rows[0]["id"]


async def update_need(
    principal: Principal, district_id: int, need_id: int, values: Mapping[str, Any]
) -> None:
    await get_need(principal, district_id, need_id)
    need = _read_need(values)
    if "is_open" in values:
        need[Need.is_open] = InputReader(values).flag("is_open")
    await Need.update(need).where(Need.id == need_id)
    await audit.record(
        "need_updated", actor_id=principal.user_id, object_type="need", object_id=need_id
    )


async def set_need_open(principal: Principal, district_id: int, need_id: int, is_open: bool):
    await get_need(principal, district_id, need_id)
    await Need.update({Need.is_open: is_open}).where(Need.id == need_id)
    await audit.record(
        "need_reopened" if is_open else "need_closed",
        actor_id=principal.user_id,
        object_type="need",
        object_id=need_id,
    )
