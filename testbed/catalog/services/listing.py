"""List filters from a query string, and pages of results."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import reduce
from operator import and_
from typing import Any
from urllib.parse import urlencode

from piccolo.columns import Array, Column
from piccolo.columns.combination import Combinable

from testbed import vocabulary
from testbed.inputs import InputReader
from testbed.tables import (
    MAX_ID,
)

DEFAULT_PER_PAGE = 25
MAX_PER_PAGE = 100


@dataclass(frozen=True)
class ListFilters:
    """What a list is narrowed to; empty fields do not filter."""

    q: str = ""
    state: str | None = None
    locale: str | None = None
    pillar: int | None = None
    grade_band: str | None = None
    subject: str | None = None
    status: str | None = None
    district: int | None = None
    vendor: int | None = None
    product: int | None = None
    per_page: int = DEFAULT_PER_PAGE

    @property
    def words(self) -> list[str]:
        # % and _ are LIKE wildcards, so they separate words rather than match anything.
        return re.sub(r"[%_\\]", " ", self.q).split()[:8]

    def query_string(self, page: int) -> str:
        """The URL query for another page of the same list, keeping every filter."""
        pairs = {
            name: value
            for name, value in vars(self).items()
            if value not in (None, "") and not (name == "per_page" and value == DEFAULT_PER_PAGE)
        }
        return urlencode({**pairs, "page": page})


def parse_filters(
    *,
    statuses: Sequence[str] = (),
    per_page: int = DEFAULT_PER_PAGE,
    **raw: str | int | None,
) -> ListFilters:
    """Filters from query parameters; an unknown code is a 422 naming the parameter."""
    values = {name: value for name, value in raw.items() if value not in (None, "")}
    if "state" in values:
        values["state"] = str(values["state"]).upper()
    reader = InputReader(values)
    filters = ListFilters(
        q=str(values.get("q", "")).strip()[:200],
        state=reader.choice("state", "a state", vocabulary.US_STATES, required=False),
        locale=reader.choice("locale", "a locale", vocabulary.LOCALES, required=False),
        pillar=reader.choice("pillar", "a pillar", vocabulary.PILLARS, required=False),
        grade_band=reader.choice(
            "grade_band", "a grade band", vocabulary.GRADE_BANDS, required=False
        ),
        subject=reader.choice("subject", "a subject", vocabulary.SUBJECTS, required=False),
        status=reader.choice("status", "a status", statuses, required=False),
        district=_positive_id(reader, values, "district"),
        vendor=_positive_id(reader, values, "vendor"),
        product=_positive_id(reader, values, "product"),
        per_page=max(1, min(per_page, MAX_PER_PAGE)),
    )
    reader.raise_problems()
    return filters


def _positive_id(reader: InputReader, values: Mapping[str, Any], name: str) -> int | None:
    if name not in values:
        return None
    return reader.number(name, f"the {name} id", minimum=1, maximum=MAX_ID, whole=True)


@dataclass(frozen=True)
class Page:
    """One page of a list, with what the page links need."""

    items: list[dict[str, Any]]
    total: int
    page: int
    per_page: int
    filters: ListFilters = field(default_factory=ListFilters)

    @property
    def first(self) -> int:
        return min((self.page - 1) * self.per_page + 1, self.total) if self.items else 0

    @property
    def last(self) -> int:
        return (self.page - 1) * self.per_page + len(self.items)

    @property
    def has_previous(self) -> bool:
        return self.page > 1

    @property
    def has_next(self) -> bool:
        return self.page * self.per_page < self.total

    def link(self, page: int) -> str:
        return "?" + self.filters.query_string(page)


def has_code(column: Array, code: str | int) -> Combinable:
    """An array column holds this code. SQLite stores arrays as JSON text and Piccolo's `any`
    there is a bare LIKE, so string codes are matched in their quoted JSON form instead."""
    if column._meta.engine_type == "sqlite" and isinstance(code, str):
        return column.like(f'%"{code}"%')
    return column.any(code)


def has_any_code(column: Array, codes: Iterable[str]) -> Combinable:
    return reduce(lambda a, b: a | b, (has_code(column, code) for code in codes))


def search_terms(words: list[str], columns: Sequence[Column]) -> list[Combinable]:
    """Every word must appear (case-insensitively) in at least one of the columns. SQLite's
    LIKE already ignores case (Piccolo warns on each ILIKE there, then uses LIKE)."""

    def contains(column: Column, word: str) -> Combinable:
        pattern = f"%{word}%"
        return (
            column.like(pattern) if column._meta.engine_type == "sqlite" else column.ilike(pattern)
        )

    return [reduce(lambda a, b: a | b, (contains(c, word) for c in columns)) for word in words]


async def fetch_page(
    table: type,
    columns: Sequence[Any],
    where: list[Combinable],
    order: Sequence[Column],
    filters: ListFilters,
    page: int,
) -> Page:
    """Two queries whatever the page size: the count and the page itself."""
    page = max(1, min(page, MAX_ID))  # a bounded page keeps the offset within 64 bits
    count_query = table.count()
    select = table.select(*columns).order_by(*order)
    if where:
        condition = reduce(and_, where)
        count_query = count_query.where(condition)
        select = select.where(condition)
    # One transaction: the count and the page see the same rows (and share a connection).
    async with table._meta.db.transaction():
        total = await count_query
        rows = await select.limit(filters.per_page).offset((page - 1) * filters.per_page)
    return Page(items=rows, total=total, page=page, per_page=filters.per_page, filters=filters)
