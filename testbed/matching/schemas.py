"""API shapes for volunteering, recommendations, rounds and acceptance (msgspec Structs)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import msgspec
from litestar.openapi.spec import Schema
from litestar.openapi.spec.enums import OpenAPIType

from testbed.tables import MAX_ID, RowId


class VolunteerIn(msgspec.Struct):
    capacity_students: int
    capacity_classrooms: int = 0
    grades: list[str] = msgspec.field(default_factory=list)
    note: str = ""
    district_id: RowId | None = None  # needed only by members of several districts


class EnrollmentOut(msgspec.Struct):
    id: int
    pilot_id: int
    district_id: int
    status: str
    capacity_students: int
    capacity_classrooms: int
    grades: list[str]
    note: str
    fit_score: float | None


class FitPartOut(msgspec.Struct):
    part: str
    label: str
    points: float
    max: float
    why: str


class RecommendationOut(msgspec.Struct):
    pilot_id: int
    title: str
    status: str
    product: str
    vendor: str
    sites_wanted: int
    score: float
    out_of: float
    parts: list[FitPartOut]


class VolunteerOut(msgspec.Struct):
    enrollment_id: int
    district_id: int
    district_name: str
    status: str
    capacity_students: int
    capacity_classrooms: int
    grades: list[str]
    note: str
    locale: str | None
    frl_share: float | None
    score: float
    out_of: float
    parts: list[FitPartOut]


class SuggestionOut(msgspec.Struct):
    district_id: int
    name: str
    locale: str | None
    frl_share: float | None
    score: float
    out_of: float
    parts: list[FitPartOut]


class CallMatchingOut(msgspec.Struct):
    pilot_id: int
    title: str
    status: str
    sites_wanted: int
    sites: int
    volunteers: list[VolunteerOut]
    not_yet_volunteered: list[SuggestionOut]


class InviteIn(msgspec.Struct):
    district_id: RowId


class InviteOut(msgspec.Struct):
    district_id: int
    members_notified: int


# Litestar documents a list's items without their msgspec bounds: they are restated here.
PilotIds = Annotated[
    list[RowId],
    msgspec.Meta(
        extra_json_schema={
            "extra": {"items": Schema(type=OpenAPIType.INTEGER, minimum=1, maximum=MAX_ID)}
        }
    ),
]


class RoundIn(msgspec.Struct):
    pilot_ids: PilotIds | None = None  # every open call when left out


class RoundOut(msgspec.Struct):
    id: int
    created_at: datetime
    scope: str
    status: str
    message: str
    pilot_ids: list[int]
    objective: float
    lp_bound: float | None
    gap: float | None
    seconds: float
    summary: dict[str, Any]
    proposals: list[dict[str, Any]]
    shortfalls: list[dict[str, Any]]


class DecisionOut(msgspec.Struct):
    enrollment_id: int
    status: str


class WeightsOut(msgspec.Struct):
    weights: dict[str, float]
    labels: dict[str, str]
