"""API shapes for the catalog (msgspec Structs). Shares are fractions from 0 to 1."""

from __future__ import annotations

from typing import Any, Generic, TypeVar

import msgspec

Item = TypeVar("Item")


def convert(rows: list[dict[str, Any]], shape: type[Item]) -> list[Item]:
    return [msgspec.convert(row, shape, from_attributes=True) for row in rows]


class Page(msgspec.Struct, Generic[Item]):
    """One page of a list: its items, how many there are in all, and where this page is."""

    items: list[Item]
    total: int
    page: int
    per_page: int


# --- districts and needs --------------------------------------------------------------------


class DistrictOut(msgspec.Struct):
    id: int
    name: str
    state: str | None
    locale: str
    enrollment_band: str
    enrollment: int
    frl_share: float
    el_share: float
    grades_served: list[str]


class ProfileOut(msgspec.Struct):
    nces_lea_id: str
    locale: str
    enrollment: int
    enrollment_band: str
    frl_share: float
    el_share: float
    swd_share: float
    grades_served: list[str]
    device_ratio: float
    platforms: list[str]
    signed_ndpa: bool
    max_concurrent_pilots: int


class ProfileIn(msgspec.Struct, kw_only=True):
    nces_lea_id: str
    state: str
    locale: str
    enrollment: int
    frl_share: float
    el_share: float
    swd_share: float
    grades_served: list[str]
    device_ratio: float
    platforms: list[str] = []
    signed_ndpa: bool = False
    max_concurrent_pilots: int = 2


class NeedOut(msgspec.Struct):
    id: int
    district_id: int
    district_name: str
    state: str | None
    title: str
    statement: str
    pillars: list[int]
    grade_band: str
    subject: str
    is_open: bool


class NeedIn(msgspec.Struct, kw_only=True):
    title: str
    statement: str
    pillars: list[int]
    grade_band: str
    subject: str
    is_open: bool = True


class DistrictDetail(msgspec.Struct):
    id: int
    name: str
    state: str | None
    website: str
    description: str
    verified: bool
    profile: ProfileOut | None
    open_needs: list[NeedOut]


# --- products -------------------------------------------------------------------------------


class ProductOut(msgspec.Struct):
    id: int
    name: str
    description: str
    vendor_id: int
    vendor_name: str
    grade_bands: list[str]
    subjects: list[str]
    pillars: list[int]
    platforms: list[str]
    essa_tier_claimed: int | None


class ProductDetail(ProductOut):
    student_data_collected: str
    privacy_policy_url: str
    evidence_url: str


class ProductIn(msgspec.Struct, kw_only=True):
    name: str
    description: str
    grade_bands: list[str]
    subjects: list[str]
    pillars: list[int]
    platforms: list[str] = []
    student_data_collected: str = ""
    privacy_policy_url: str = ""
    essa_tier_claimed: int | None = None
    evidence_url: str = ""
    vendor: int | None = None  # needed only by members of several vendors, and admins


# --- pilot calls ----------------------------------------------------------------------------


class PilotOut(msgspec.Struct):
    id: int
    title: str
    status: str
    product_id: int
    product_name: str
    vendor_id: int
    vendor_name: str
    grades: list[str]
    subjects: list[str]
    pillars: list[int]
    sites_wanted: int
    students_per_site: int
    weeks: int
    start_window: str


class PilotDetail(PilotOut):
    research_question: str
    devices_required: str
    training_hours: int
    sites_receive: str
    next_statuses: list[str]  # the moves the caller can make now


class PilotCallIn(msgspec.Struct, kw_only=True):
    title: str
    research_question: str
    grades: list[str]
    subjects: list[str]
    pillars: list[int]
    sites_wanted: int
    students_per_site: int
    weeks: int
    start_window: str = ""
    devices_required: str = ""
    training_hours: int = 0
    sites_receive: str = ""


class PilotCreate(PilotCallIn, kw_only=True):
    product: int


class StatusChange(msgspec.Struct):
    status: str
