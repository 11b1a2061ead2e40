"""The design document (a contract: the demo writes it, findings read it) and the API shapes.

A design document is stored in DesignVersion.document as plain JSON with exactly the keys of
`DesignDocument`; `students_per_cluster` is written only when a cluster design gives it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

import msgspec
from litestar.params import QueryParameter

DesignType = Literal["rct", "cluster_rct", "quasi_experiment", "pre_post"]
Unit = Literal["student", "classroom", "school"]
OutcomeKind = Literal["continuous", "binary", "count"]
Direction = Literal["higher_is_better", "lower_is_better"]


class OutcomeSpec(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    name: str
    label: str
    kind: OutcomeKind
    primary: bool
    direction: Direction
    instrument: str = ""
    unit: str = ""
    min: float | None = None
    max: float | None = None


class AnalysisPlan(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    covariates: list[str] = msgspec.field(default_factory=list)
    missing_data: str = ""
    alpha: float = 0.05


class DesignDocument(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    design_type: DesignType
    unit_of_assignment: Unit
    arms: list[str]
    research_questions: list[str]
    outcomes: list[OutcomeSpec]
    baseline_measure: str | None = None
    subgroups: list[str] = msgspec.field(default_factory=list)
    minimum_meaningful_effect: float
    icc: float = 0.2
    planned_sites: int
    planned_students_per_site: int
    students_per_cluster: int | None = None
    analysis_plan: AnalysisPlan = msgspec.field(default_factory=AnalysisPlan)


# --- API ------------------------------------------------------------------------------------


class DraftIn(msgspec.Struct, kw_only=True):
    """Write the draft. After a registration this starts (or continues) an amendment, which
    needs a reason. `version`, when given, names the draft being edited: if it has been
    registered meanwhile, the write is refused (409) instead of silently creating another.
    `base_version`, when given, names the registered version an amendment starts from: if
    someone else has started (or registered) another version meanwhile, the write is refused
    (409) instead of overwriting their amendment."""

    document: DesignDocument
    amendment_reason: str | None = None
    version: int | None = None
    base_version: int | None = None


class AmendIn(msgspec.Struct, kw_only=True):
    reason: str = ""
    document: DesignDocument | None = None


class RegisterIn(msgspec.Struct, kw_only=True):
    version: int | None = None


class VersionOut(msgspec.Struct, kw_only=True):
    version: int
    status: Literal["draft", "registered"]
    registered_at: datetime | None
    sha256: str | None
    amendment_reason: str
    author: str | None
    created_at: datetime
    document: dict[str, Any]


class VerificationOut(msgspec.Struct, kw_only=True):
    version: int
    status: Literal["draft", "registered"]
    registered_at: datetime | None
    amendment_reason: str
    document: dict[str, Any]
    canonical_json: str
    stored_sha256: str | None
    recomputed_sha256: str
    matches: bool | None  # None for a draft, which has no stored hash yet
    download: str


class PowerOut(msgspec.Struct, kw_only=True):
    applicable: bool
    total_students: int
    students_per_arm: float | None
    cluster_size: float | None
    design_effect: float | None
    mdes: float | None
    power_at_mme: float | None
    students_for_80_percent_power: int | None
    sentences: list[str]
    warnings: list[str]


class DesignOut(msgspec.Struct, kw_only=True):
    pilot_id: int
    pilot_title: str
    draft: VersionOut | None
    registered: VersionOut | None
    versions: list[VersionOut]
    power: PowerOut | None


class DiffLine(msgspec.Struct):
    path: str
    old: Any
    new: Any


class DiffOut(msgspec.Struct, kw_only=True):
    from_version: int
    to_version: int
    changes: list[DiffLine]


class BlockCount(msgspec.Struct):
    block: str
    counts: dict[str, int | None]  # None: hidden outside the site's district (small counts)


class AssignmentOut(msgspec.Struct, kw_only=True):
    site_id: int
    site_name: str
    seed: int
    algorithm: str
    units: int | None  # None: hidden outside the site's district (small counts)
    design_version: int | None
    created_at: datetime
    blocks: list[BlockCount]


class BaselineCheckOut(msgspec.Struct, kw_only=True):
    site_id: int
    site_name: str
    n_treatment: int
    n_comparison: int
    mean_treatment: float
    sd_treatment: float
    mean_comparison: float
    sd_comparison: float
    hedges_g: float
    rating: str
    sentence: str
    created_at: datetime


class SiteRandomizationOut(msgspec.Struct, kw_only=True):
    site_id: int
    site_name: str
    assignment: AssignmentOut | None
    baseline_check: BaselineCheckOut | None


class RandomizationOut(msgspec.Struct, kw_only=True):
    pilot_id: int
    design_type: str | None
    registered_version: int | None
    sites: list[SiteRandomizationOut]


class VerifyOut(msgspec.Struct, kw_only=True):
    site_id: int
    identical: bool
    units: int | None  # None: hidden outside the site's district (small counts)
    differences: int
    sentence: str


# A version number in the query (?version=2); none means the latest.
OptionalVersion = Annotated[int | None, QueryParameter(ge=1)]
