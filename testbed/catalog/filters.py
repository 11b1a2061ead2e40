"""List filters, read the same way by pages and API.

Each filter is declared with what it accepts, so the OpenAPI document tells callers (and
schemathesis) the truth: a vocabulary code from testbed/vocabulary.py, an id, or "" for any
(what the pages' filter forms send). parse_filters checks the same and names what is wrong.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Annotated, Any

from litestar.di import NamedDependency
from litestar.openapi.spec import Schema
from litestar.openapi.spec.enums import OpenAPIType
from litestar.params import QueryParameter

from testbed import vocabulary
from testbed.catalog import services
from testbed.catalog.services import ListFilters
from testbed.tables import MAX_ID


def _choice(codes: Iterable[object], words: str, *, name: str | None = None) -> Any:
    return Annotated[
        str | None,
        QueryParameter(
            name=name,
            description=f"{words}; empty for any.",
            schema_extra={
                "one_of": None,
                "type": OpenAPIType.STRING,
                "enum": ["", *(str(code) for code in codes)],
            },
        ),
    ]


def _id(words: str) -> Any:
    return Annotated[
        str | None,
        QueryParameter(
            description=f"{words}; empty for any.",
            schema_extra={
                "one_of": [
                    Schema(type=OpenAPIType.INTEGER, minimum=1, maximum=MAX_ID),
                    Schema(type=OpenAPIType.STRING, enum=[""]),
                ]
            },
        ),
    ]


Search = Annotated[str | None, QueryParameter(description="Words to search for.")]


StateQuery = _choice(vocabulary.US_STATES, "A state's postal code", name="state")


LocaleQuery = _choice(vocabulary.LOCALES, "A locale")


PillarQuery = _choice(vocabulary.PILLARS, "A pillar's number")


GradeBandQuery = _choice(vocabulary.GRADE_BANDS, "A grade band")


SubjectQuery = _choice(vocabulary.SUBJECTS, "A subject")


PilotStatusQuery = _choice(vocabulary.PILOT_STATUSES, "A pilot's status")


NeedStatusQuery = _choice(services.NEED_STATUSES, "A need's status")


PerPage = Annotated[
    int, QueryParameter(ge=1, le=services.MAX_PER_PAGE, description="Items on a page.")
]


PageNumber = Annotated[int, QueryParameter(ge=1, le=MAX_ID, description="The page, from 1.")]


async def district_filters(
    q: Search = None,
    state_code: StateQuery = None,
    locale: LocaleQuery = None,
    pillar: PillarQuery = None,
    grade_band: GradeBandQuery = None,
    subject: SubjectQuery = None,
    per_page: PerPage = services.DEFAULT_PER_PAGE,
) -> ListFilters:
    """Search over names and descriptions; pillar and subject find districts with an open need
    of that kind."""
    return services.parse_filters(
        q=q,
        state=state_code,
        locale=locale,
        pillar=pillar,
        grade_band=grade_band,
        subject=subject,
        per_page=per_page,
    )


async def need_filters(
    q: Search = None,
    district: _id("A district's id") = None,
    state_code: StateQuery = None,
    locale: LocaleQuery = None,
    pillar: PillarQuery = None,
    grade_band: GradeBandQuery = None,
    subject: SubjectQuery = None,
    status: NeedStatusQuery = None,
    per_page: PerPage = services.DEFAULT_PER_PAGE,
) -> ListFilters:
    return services.parse_filters(
        q=q,
        district=district,
        state=state_code,
        locale=locale,
        pillar=pillar,
        grade_band=grade_band,
        subject=subject,
        status=status,
        per_page=per_page,
        statuses=services.NEED_STATUSES,
    )


async def product_filters(
    q: Search = None,
    vendor: _id("A vendor's id") = None,
    pillar: PillarQuery = None,
    grade_band: GradeBandQuery = None,
    subject: SubjectQuery = None,
    per_page: PerPage = services.DEFAULT_PER_PAGE,
) -> ListFilters:
    return services.parse_filters(
        q=q,
        vendor=vendor,
        pillar=pillar,
        grade_band=grade_band,
        subject=subject,
        per_page=per_page,
    )


async def pilot_filters(
    q: Search = None,
    status: PilotStatusQuery = None,
    product: _id("A product's id") = None,
    vendor: _id("A vendor's id") = None,
    pillar: PillarQuery = None,
    grade_band: GradeBandQuery = None,
    subject: SubjectQuery = None,
    per_page: PerPage = services.DEFAULT_PER_PAGE,
) -> ListFilters:
    return services.parse_filters(
        q=q,
        status=status,
        product=product,
        vendor=vendor,
        pillar=pillar,
        grade_band=grade_band,
        subject=subject,
        per_page=per_page,
        statuses=vocabulary.PILOT_STATUSES,
    )


Filters = NamedDependency[ListFilters]
