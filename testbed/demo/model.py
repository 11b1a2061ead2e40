"""The generated demo network as plain data: no database, so tests and benchmarks can use it.

Rows refer to each other by natural keys (organization slug, user email, product name within
its vendor, pilot title); the loader turns those into ids.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from typing import Any

from testbed.demo.outcomes import OutcomeSpec, StudentRows


@dataclass
class OrganizationSpec:
    slug: str
    kind: str  # district | vendor | research
    name: str
    state: str | None
    website: str
    description: str
    verified: bool


@dataclass
class DistrictSpec:
    organization: str  # slug
    nces_lea_id: str
    locale: str
    enrollment: int
    frl_share: float
    el_share: float
    swd_share: float
    grades_served: list[str]
    device_ratio: float
    platforms: list[str]
    signed_ndpa: bool
    max_concurrent_pilots: int


@dataclass
class NeedSpec:
    district: str  # slug
    title: str
    statement: str
    pillars: list[int]
    grade_band: str
    subject: str


@dataclass
class ProductSpec:
    vendor: str  # slug
    name: str
    description: str
    grade_bands: list[str]
    subjects: list[str]
    pillars: list[int]
    platforms: list[str]
    student_data_collected: str
    privacy_policy_url: str
    essa_tier_claimed: int | None
    evidence_url: str


@dataclass
class UserSpec:
    email: str
    name: str
    is_network_admin: bool = False
    memberships: list[tuple[str, str]] = field(default_factory=list)  # (slug, role)


@dataclass
class EnrollmentSpec:
    district: str  # slug
    status: str
    capacity_students: int
    capacity_classrooms: int
    grades: list[str]
    note: str = ""
    fit_score: float | None = None
    fit_explanation: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class DesignSpec:
    version: int
    document: dict[str, Any]
    registered_at: datetime.datetime | None
    sha256: str
    amendment_reason: str = ""
    author: str | None = None  # email
    created_at: datetime.datetime | None = None


@dataclass
class AssignmentSpec:
    site: str  # slug
    seed: int
    algorithm: str
    arms: dict[str, str]


@dataclass
class DatasetSpec:
    site: str  # slug
    version: int
    kind: str  # students | aggregates
    filename: str
    sha256: str
    row_count: int
    uploaded_by: str  # email
    uploaded_at: datetime.datetime
    is_current: bool
    students: StudentRows | None = None
    summaries: list[dict[str, Any]] | None = None


@dataclass
class PilotSpec:
    product_vendor: str  # slug
    product_name: str
    title: str
    research_question: str
    grades: list[str]
    subjects: list[str]
    pillars: list[int]
    sites_wanted: int
    students_per_site: int
    weeks: int
    start_window: str
    starts_on: datetime.date | None
    ends_on: datetime.date | None
    devices_required: str
    training_hours: int
    sites_receive: str
    status: str
    created_at: datetime.datetime
    updated_at: datetime.datetime
    truth: OutcomeSpec | None = None  # how its outcome data were generated, if it has any
    design_type: str | None = None
    researchers: list[str] = field(default_factory=list)  # emails given a PilotRole
    enrollments: list[EnrollmentSpec] = field(default_factory=list)
    designs: list[DesignSpec] = field(default_factory=list)
    assignments: list[AssignmentSpec] = field(default_factory=list)
    datasets: list[DatasetSpec] = field(default_factory=list)

    @property
    def true_effect(self) -> float | None:
        """The standardized effect its outcome data were generated with."""
        return None if self.truth is None else self.truth.true_effect

    @property
    def sites(self) -> list[str]:
        return [
            enrollment.district for enrollment in self.enrollments if enrollment.status == "site"
        ]


@dataclass
class DemoNetwork:
    scale: int
    seed: int
    organizations: list[OrganizationSpec]
    districts: list[DistrictSpec]
    needs: list[NeedSpec]
    products: list[ProductSpec]
    users: list[UserSpec]
    pilots: list[PilotSpec]

    @property
    def true_effects(self) -> dict[str, float]:
        """Pilot title -> the standardized effect its outcome data were generated with."""
        return {
            pilot.title: pilot.true_effect for pilot in self.pilots if pilot.true_effect is not None
        }

    def count_observations(self) -> int:
        return sum(
            len(dataset.students)
            for pilot in self.pilots
            for dataset in pilot.datasets
            if dataset.students is not None
        )
