"""API shapes for outcome data uploads (msgspec Structs)."""

from __future__ import annotations

from datetime import datetime

import msgspec


class ProblemOut(msgspec.Struct):
    row: int | None
    column: str | None
    message: str


class AttritionOut(msgspec.Struct):
    randomized: dict[str, int]
    analyzed: dict[str, int]
    overall: float | None
    differential: float | None
    rating: str | None
    summary: str


class UploadJobOut(msgspec.Struct):
    id: int
    url: str
    pilot_id: int
    site_id: int
    kind: str
    filename: str
    size_bytes: int
    sha256: str
    status: str
    rows_total: int
    rows_done: int
    message: str
    problem_count: int
    problems: list[ProblemOut]
    dataset_id: int | None
    attrition: AttritionOut | None = None


class DatasetOut(msgspec.Struct):
    id: int
    site_id: int
    site_name: str
    version: int
    kind: str
    filename: str
    sha256: str
    row_count: int | None  # None outside the site's district (see docs/findings.md, privacy)
    uploaded_at: datetime
    uploaded_by: str | None
    is_current: bool
