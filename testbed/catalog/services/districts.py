"""District profiles: the directory, one district, and its profile as the district edits it."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from functools import reduce
from operator import and_
from typing import Any

from piccolo.columns import Column
from piccolo.columns.combination import Combinable

from testbed import audit, vocabulary
from testbed.auth import Principal
from testbed.catalog.services.listing import (
    ListFilters,
    Page,
    fetch_page,
    has_any_code,
    has_code,
    search_terms,
)
from testbed.db import is_unique_violation
from testbed.errors import Conflict, Forbidden, InvalidInput, NotFound
from testbed.inputs import FIX_MESSAGE, InputReader
from testbed.tables import (
    DistrictProfile,
    Need,
    Organization,
)

# Enrollment shown in the public directory as a band, not the exact figure.
ENROLLMENT_BANDS = (
    (2_500, "under 2,500 students"),
    (10_000, "2,500–10,000 students"),
    (50_000, "10,000–50,000 students"),
    (math.inf, "50,000 students or more"),
)


def enrollment_band(enrollment: int | None) -> str:
    if enrollment is None:
        return "not given"
    return next(words for limit, words in ENROLLMENT_BANDS if enrollment < limit)


DISTRICT_LIST_COLUMNS = (
    DistrictProfile.organization.id.as_alias("id"),
    DistrictProfile.organization.name.as_alias("name"),
    DistrictProfile.organization.state.as_alias("state"),
    DistrictProfile.locale,
    DistrictProfile.enrollment,
    DistrictProfile.frl_share,
    DistrictProfile.el_share,
    DistrictProfile.grades_served,
)


def _visible_districts_where(principal: Principal | None, organization: Any = Organization):
    """Verified districts are the network's public directory; a district's own members and
    network admins also see it before verification. `organization` is the Organization table
    or a foreign key to it."""
    if principal is not None and principal.is_network_admin:
        return organization.id.is_not_null()
    where = organization.verified.eq(True)
    own = principal.organizations_of_kind("district") if principal else []
    return where | organization.id.is_in(own) if own else where


async def list_districts(principal: Principal | None, filters: ListFilters, page: int) -> Page:
    where = [_visible_districts_where(principal, DistrictProfile.organization)]
    if filters.state:
        where.append(DistrictProfile.organization.state == filters.state)
    if filters.locale:
        where.append(DistrictProfile.locale == filters.locale)
    if filters.grade_band:
        where.append(
            has_any_code(DistrictProfile.grades_served, vocabulary.GRADE_BANDS[filters.grade_band])
        )
    if filters.pillar or filters.subject:
        # Districts with an open need of this pillar and subject.
        needs: list[Combinable] = [Need.is_open.eq(True)]
        if filters.pillar:
            needs.append(has_code(Need.pillars, filters.pillar))
        if filters.subject:
            needs.append(Need.subject == filters.subject)
        where.append(
            DistrictProfile.organization.is_in(
                Need.select(Need.district).where(reduce(and_, needs))
            )
        )
    where += search_terms(
        filters.words,
        (DistrictProfile.organization.name, DistrictProfile.organization.description),
    )
    result = await fetch_page(
        DistrictProfile,
        DISTRICT_LIST_COLUMNS,
        where,
        (DistrictProfile.organization.name, DistrictProfile.organization.id),
        filters,
        page,
    )
    for row in result.items:
        row["enrollment_band"] = enrollment_band(row["enrollment"])
    return result


async def get_district(principal: Principal | None, district_id: int) -> dict[str, Any]:
    """The district organization with its profile (None until filled in); 404 for anything
    that is not a district the principal may see."""
    organization = (
        await Organization.select(
            Organization.id,
            Organization.name,
            Organization.state,
            Organization.website,
            Organization.description,
            Organization.verified,
        )
        .where(
            (Organization.id == district_id)
            & (Organization.kind == "district")
            & _visible_districts_where(principal)
        )
        .first()
    )
    if organization is None:
        raise NotFound("There is no such district.")
    profile = (
        await DistrictProfile.select().where(DistrictProfile.organization == district_id).first()
    )
    if profile is not None:
        profile["enrollment_band"] = enrollment_band(profile["enrollment"])
    return {**organization, "profile": profile}


def require_district_member(principal: Principal, district_id: int) -> None:
    if not (principal.is_network_admin or principal.is_member_of(district_id)):
        raise Forbidden("Only this district's members can change its profile and needs.")


async def require_district(principal: Principal, district_id: int) -> dict[str, Any]:
    require_district_member(principal, district_id)
    return await get_district(principal, district_id)


async def save_district_profile(
    principal: Principal, district_id: int, values: Mapping[str, Any]
) -> None:
    """Create or replace the district's profile (and its state, kept on the organization)."""
    await require_district(principal, district_id)
    reader = InputReader(values)
    lea_id = reader.text("nces_lea_id", "the NCES LEA id", max_length=7)
    if lea_id and not re.fullmatch(r"\d{7}", lea_id):
        reader.problem("nces_lea_id", "The NCES LEA id is exactly 7 digits, e.g. 3904380.")
    state = reader.choice("state", "the state", vocabulary.US_STATES)
    profile = {
        DistrictProfile.nces_lea_id: lea_id,
        DistrictProfile.locale: reader.choice("locale", "a locale", vocabulary.LOCALES),
        DistrictProfile.enrollment: reader.number(
            "enrollment", "the enrollment", minimum=1, maximum=2_000_000, whole=True
        ),
        DistrictProfile.frl_share: reader.share(
            "frl_share", "the share eligible for free or reduced-price lunch"
        ),
        DistrictProfile.el_share: reader.share("el_share", "the share of English learners"),
        DistrictProfile.swd_share: reader.share(
            "swd_share", "the share of students with disabilities"
        ),
        DistrictProfile.grades_served: reader.codes(
            "grades_served", "grades served", vocabulary.GRADE_CODES
        ),
        DistrictProfile.device_ratio: reader.number(
            "device_ratio", "the devices per student", minimum=0, maximum=10
        ),
        DistrictProfile.platforms: reader.codes(
            "platforms", "platforms", vocabulary.PLATFORMS, at_least_one=False
        ),
        DistrictProfile.signed_ndpa: reader.flag("signed_ndpa"),
        DistrictProfile.max_concurrent_pilots: reader.number(
            "max_concurrent_pilots",
            "how many pilots you can host at once",
            minimum=0,
            maximum=20,
            whole=True,
        ),
        DistrictProfile.updated_at: datetime.now(UTC),
    }
    lea_id_is_valid = "nces_lea_id" not in {error["field"] for error in reader.errors}
    if lea_id_is_valid and await _lea_id_taken(lea_id, district_id):
        raise _taken_lea_id(reader)
    reader.raise_problems()
    try:
        await _write_district_profile(district_id, state, profile)
    except Exception as error:
        # Another district took the id between the check above and the write: the unique index
        # refuses it, and the request is answered as if it had come second all along.
        if is_unique_violation(error) and await _lea_id_taken(lea_id, district_id):
            raise _taken_lea_id(reader) from None
        raise
    await audit.record(
        "district_profile_saved",
        actor_id=principal.user_id,
        object_type="organization",
        object_id=district_id,
    )


async def _lea_id_taken(lea_id: str | None, district_id: int) -> bool:
    return await DistrictProfile.exists().where(
        (DistrictProfile.nces_lea_id == lea_id) & (DistrictProfile.organization != district_id)
    )


def _taken_lea_id(reader: InputReader) -> InvalidInput | Conflict:
    reader.problem("nces_lea_id", "Another district in the network already has this id.")
    # A taken id alone is a conflict with another district, not a typing mistake.
    error_type = Conflict if len(reader.errors) == 1 else InvalidInput
    return error_type(FIX_MESSAGE, errors=reader.errors)


async def _write_district_profile(
    district_id: int, state: str | None, profile: dict[Column, Any]
) -> None:
    async with DistrictProfile._meta.db.transaction():
        await Organization.update({Organization.state: state}).where(Organization.id == district_id)
        # One statement, so two first saves of one district's profile cannot both insert.
        await DistrictProfile.insert(
            DistrictProfile(
                organization=district_id,
                **{column._meta.name: value for column, value in profile.items()},
            )
        ).on_conflict(target=DistrictProfile.organization, action="DO UPDATE", values=list(profile))
