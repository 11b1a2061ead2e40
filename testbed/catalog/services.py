"""The catalog both sides browse: district profiles and needs, products, and pilot calls with
their lifecycle. Pages and the API call these functions; the rules live here.

Raw input comes from forms (text, lists of checkbox values) or from the API (JSON values), and
one reader validates both. A share typed in a form is a percentage ("45" or "45 %"); a share
sent as a JSON number is a fraction (0.45), which is also how shares are stored and returned.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import reduce
from operator import and_
from typing import Any
from urllib.parse import urlencode, urlsplit

from piccolo.columns import Array, Column
from piccolo.columns.combination import Combinable

from testbed import audit, vocabulary
from testbed.access import SITE_STATUSES, PilotAccess, pilot_access, visible_pilots_where
from testbed.auth import Principal
from testbed.db import is_unique_violation
from testbed.errors import Conflict, Forbidden, InvalidInput, NotFound
from testbed.tables import (
    MAX_ID,
    DistrictProfile,
    Enrollment,
    Finding,
    Need,
    Organization,
    Pilot,
    Product,
)

DEFAULT_PER_PAGE = 25
MAX_PER_PAGE = 100
NEED_STATUSES = ("open", "closed")
EDITABLE_PILOT_STATUSES = frozenset({"draft", "open"})
FIX_MESSAGE = "Some of what you entered needs fixing."

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


# --- reading input --------------------------------------------------------------------------


class InputReader:
    """Reads raw values (form text or JSON values) field by field and collects every problem,
    so a form shows all of them at once."""

    def __init__(self, values: Mapping[str, Any]):
        self.values = values
        self.errors: list[dict[str, str]] = []

    def problem(self, name: str, message: str) -> None:
        self.errors.append({"field": name, "message": message})

    def raise_problems(self, error_type: type[InvalidInput] | type[Conflict] = InvalidInput):
        if self.errors:
            raise error_type(FIX_MESSAGE, errors=self.errors)

    def _raw(self, name: str) -> Any:
        value = self.values.get(name)
        return value.strip() if isinstance(value, str) else value

    def text(self, name: str, label: str, *, required: bool = True, max_length: int = 200) -> str:
        value = self._raw(name)
        if value is None or value == "":
            if required:
                self.problem(name, f"Enter {label}.")
            return ""
        if not isinstance(value, str):
            self.problem(name, f"Enter {label} as text.")
            return ""
        if len(value) > max_length:
            self.problem(name, f"Keep {label} to {max_length:,} characters.")
        return value

    def number(
        self, name: str, label: str, *, minimum: float, maximum: float, whole: bool = False
    ) -> Any:
        value = self._raw(name)
        kind = "a whole number" if whole else "a number"
        if value is None or value == "":
            self.problem(name, f"Enter {label}.")
            return None
        parsed = _as_number(value.replace(",", "") if isinstance(value, str) else value)
        if parsed is None or (whole and parsed != int(parsed)):
            self.problem(name, f"Enter {label} as {kind}.")
            return None
        if not minimum <= parsed <= maximum:
            self.problem(name, f"Enter {label} from {minimum:,g} to {maximum:,g}.")
            return None
        return int(parsed) if whole else parsed

    def share(self, name: str, label: str) -> float | None:
        value = self._raw(name)
        if value is None or value == "":
            self.problem(name, f"Enter {label}.")
            return None
        if isinstance(value, str):
            percent = _as_number(value.removesuffix("%").strip())
            if percent is None or not 0 <= percent <= 100:
                self.problem(name, f"Enter {label} as a percentage from 0 to 100, e.g. 45.")
                return None
            return round(percent / 100, 4)
        fraction = _as_number(value)
        if fraction is None or not 0 <= fraction <= 1:
            self.problem(name, f"Give {label} as a fraction from 0 to 1.")
            return None
        return fraction

    def choice(self, name: str, label: str, options: Iterable[Any], *, required: bool = True):
        value = self._raw(name)
        if value is None or value == "":
            if required:
                self.problem(name, f"Choose {label}.")
            return None
        by_text = {str(option): option for option in options}
        if str(value) not in by_text:
            self.problem(name, f"Choose {label} from the list.")
            return None
        return by_text[str(value)]

    def codes(self, name: str, label: str, options: Iterable[Any], *, at_least_one: bool = True):
        value = self.values.get(name)
        raw = [] if value in (None, "") else [value] if isinstance(value, str | int) else value
        if not isinstance(raw, list | tuple):
            self.problem(name, f"Give {label} as a list.")
            return []
        options = list(options)
        by_text = {str(option): option for option in options}
        unknown = [str(item) for item in raw if str(item) not in by_text]
        if unknown:
            self.problem(name, f"Unknown {label}: {', '.join(unknown)}.")
        chosen = {by_text[str(item)] for item in raw if str(item) in by_text}
        if at_least_one and not chosen and not unknown:
            self.problem(name, f"Choose at least one of the {label}.")
        return [option for option in options if option in chosen]

    def flag(self, name: str) -> bool:
        value = self._raw(name)
        if isinstance(value, str):
            return value.lower() in {"on", "1", "true", "yes"}
        return bool(value)

    def url(self, name: str, label: str, *, required: bool = False) -> str:
        value = self.text(name, label, required=required, max_length=300)
        if value:
            parts = urlsplit(value)
            if parts.scheme not in ("http", "https") or not parts.netloc:
                self.problem(name, f"Enter {label} as a web address starting with https://.")
        return value


def _as_number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


# --- list filters and pages -----------------------------------------------------------------


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


def _has_code(column: Array, code: str | int) -> Combinable:
    """An array column holds this code. SQLite stores arrays as JSON text and Piccolo's `any`
    there is a bare LIKE, so string codes are matched in their quoted JSON form instead."""
    if column._meta.engine_type == "sqlite" and isinstance(code, str):
        return column.like(f'%"{code}"%')
    return column.any(code)


def _has_any_code(column: Array, codes: Iterable[str]) -> Combinable:
    return reduce(lambda a, b: a | b, (_has_code(column, code) for code in codes))


def _search(words: list[str], columns: Sequence[Column]) -> list[Combinable]:
    """Every word must appear (case-insensitively) in at least one of the columns. SQLite's
    LIKE already ignores case (Piccolo warns on each ILIKE there, then uses LIKE)."""

    def contains(column: Column, word: str) -> Combinable:
        pattern = f"%{word}%"
        return (
            column.like(pattern) if column._meta.engine_type == "sqlite" else column.ilike(pattern)
        )

    return [reduce(lambda a, b: a | b, (contains(c, word) for c in columns)) for word in words]


async def _page(
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


# --- districts ------------------------------------------------------------------------------

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
            _has_any_code(DistrictProfile.grades_served, vocabulary.GRADE_BANDS[filters.grade_band])
        )
    if filters.pillar or filters.subject:
        # Districts with an open need of this pillar and subject.
        needs: list[Combinable] = [Need.is_open.eq(True)]
        if filters.pillar:
            needs.append(_has_code(Need.pillars, filters.pillar))
        if filters.subject:
            needs.append(Need.subject == filters.subject)
        where.append(
            DistrictProfile.organization.is_in(
                Need.select(Need.district).where(reduce(and_, needs))
            )
        )
    where += _search(
        filters.words,
        (DistrictProfile.organization.name, DistrictProfile.organization.description),
    )
    result = await _page(
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


async def _require_district(principal: Principal, district_id: int) -> dict[str, Any]:
    require_district_member(principal, district_id)
    return await get_district(principal, district_id)


async def save_district_profile(
    principal: Principal, district_id: int, values: Mapping[str, Any]
) -> None:
    """Create or replace the district's profile (and its state, kept on the organization)."""
    await _require_district(principal, district_id)
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


# --- needs ----------------------------------------------------------------------------------

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
        where.append(_has_code(Need.pillars, filters.pillar))
    if filters.grade_band:
        where.append(Need.grade_band == filters.grade_band)
    if filters.subject:
        where.append(Need.subject == filters.subject)
    if filters.status:
        where.append(Need.is_open.eq(filters.status == "open"))
    where += _search(filters.words, (Need.title, Need.statement))
    return await _page(Need, NEED_COLUMNS, where, (Need.title, Need.id), filters, page)


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
    await _require_district(principal, district_id)
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


# --- products -------------------------------------------------------------------------------

PRODUCT_LIST_COLUMNS = (
    Product.id,
    Product.name,
    Product.description,
    Product.grade_bands,
    Product.subjects,
    Product.pillars,
    Product.platforms,
    Product.essa_tier_claimed,
    Product.vendor.id.as_alias("vendor_id"),
    Product.vendor.name.as_alias("vendor_name"),
)
PRODUCT_COLUMNS = (
    *PRODUCT_LIST_COLUMNS,
    Product.student_data_collected,
    Product.privacy_policy_url,
    Product.evidence_url,
)
ESSA_TIERS = (1, 2, 3, 4)


async def list_products(filters: ListFilters, page: int) -> Page:
    where: list[Combinable] = []
    if filters.vendor:
        where.append(Product.vendor == filters.vendor)
    if filters.pillar:
        where.append(_has_code(Product.pillars, filters.pillar))
    if filters.grade_band:
        where.append(_has_code(Product.grade_bands, filters.grade_band))
    if filters.subject:
        where.append(_has_code(Product.subjects, filters.subject))
    where += _search(filters.words, (Product.name, Product.description, Product.vendor.name))
    return await _page(
        Product, PRODUCT_LIST_COLUMNS, where, (Product.name, Product.id), filters, page
    )


async def get_product(product_id: int) -> dict[str, Any]:
    product = await Product.select(*PRODUCT_COLUMNS).where(Product.id == product_id).first()
    if product is None:
        raise NotFound("There is no such product.")
    return product


async def vendor_options(principal: Principal) -> list[tuple[int, str]]:
    """The vendors this principal may list products and open calls for: its verified vendors,
    or every vendor for a network admin."""
    if principal.is_network_admin:
        rows = await (
            Organization.select(Organization.id, Organization.name)
            .where(Organization.kind == "vendor")
            .order_by(Organization.name, Organization.id)
        )
        return [(row["id"], row["name"]) for row in rows]
    return [
        (m.organization_id, m.name)
        for m in principal.memberships
        if m.kind == "vendor" and m.verified
    ]


async def product_options(principal: Principal) -> list[tuple[int, str]]:
    """The products this principal may open a call for."""
    query = Product.select(Product.id, Product.name, Product.vendor.name.as_alias("vendor"))
    if not principal.is_network_admin:
        vendor_ids = [vendor_id for vendor_id, _ in await vendor_options(principal)]
        query = query.where(Product.vendor.is_in(vendor_ids or [-1]))
    rows = await query.order_by(Product.name, Product.id)
    return [(row["id"], f"{row['name']} ({row['vendor']})") for row in rows]


async def _choose_vendor(principal: Principal, reader: InputReader) -> int | None:
    options = [vendor_id for vendor_id, _ in await vendor_options(principal)]
    if not options:
        raise Forbidden(
            "Your organization has not been verified by the network yet. "
            "You can browse, but not volunteer, propose or upload until it is."
        )
    if reader.values.get("vendor") in (None, "") and len(options) == 1:
        return options[0]
    return reader.choice("vendor", "the vendor", options)


def _read_product(reader: InputReader) -> dict[Column, Any]:
    tier = reader.choice("essa_tier_claimed", "an ESSA tier", ESSA_TIERS, required=False)
    evidence_url = reader.url("evidence_url", "the link to the study")
    if tier is not None and not evidence_url:
        reader.problem("evidence_url", "Link the study behind the ESSA tier you claim.")
    return {
        Product.name: reader.text("name", "the product's name"),
        Product.description: reader.text("description", "a description", max_length=5000),
        Product.grade_bands: reader.codes("grade_bands", "grade bands", vocabulary.GRADE_BANDS),
        Product.subjects: reader.codes("subjects", "subjects", vocabulary.SUBJECTS),
        Product.pillars: reader.codes("pillars", "pillars", vocabulary.PILLARS),
        Product.platforms: reader.codes(
            "platforms", "platforms", vocabulary.PLATFORMS, at_least_one=False
        ),
        Product.student_data_collected: reader.text(
            "student_data_collected", "the student data collected", max_length=5000
        ),
        Product.privacy_policy_url: reader.url("privacy_policy_url", "the privacy policy link"),
        Product.essa_tier_claimed: tier,
        Product.evidence_url: evidence_url,
    }


async def create_product(principal: Principal, values: Mapping[str, Any]) -> int:
    reader = InputReader(values)
    vendor_id = await _choose_vendor(principal, reader)
    product = _read_product(reader)
    reader.raise_problems()
    rows = await Product.insert(
        Product(vendor=vendor_id, **{column._meta.name: value for column, value in product.items()})
    )
    await audit.record(
        "product_created",
        actor_id=principal.user_id,
        object_type="product",
        object_id=rows[0]["id"],
        detail={"vendor": vendor_id},
    )
    return rows[0]["id"]


async def require_product_editor(principal: Principal, product_id: int) -> dict[str, Any]:
    """The product, when this principal may change it: its vendor's members, or an admin."""
    product = await get_product(product_id)
    if not (principal.is_network_admin or principal.is_member_of(product["vendor_id"])):
        raise Forbidden("Only the product's vendor can change it.")
    return product


async def update_product(principal: Principal, product_id: int, values: Mapping[str, Any]):
    await require_product_editor(principal, product_id)
    reader = InputReader(values)
    product = _read_product(reader)
    reader.raise_problems()
    await Product.update(product).where(Product.id == product_id)
    await audit.record(
        "product_updated", actor_id=principal.user_id, object_type="product", object_id=product_id
    )


# --- pilot calls ----------------------------------------------------------------------------

PILOT_LIST_COLUMNS = (
    Pilot.id,
    Pilot.title,
    Pilot.status,
    Pilot.grades,
    Pilot.subjects,
    Pilot.pillars,
    Pilot.sites_wanted,
    Pilot.students_per_site,
    Pilot.weeks,
    Pilot.start_window,
    Pilot.product.id.as_alias("product_id"),
    Pilot.product.name.as_alias("product_name"),
    Pilot.product.vendor.id.as_alias("vendor_id"),
    Pilot.product.vendor.name.as_alias("vendor_name"),
)
PILOT_COLUMNS = (
    *PILOT_LIST_COLUMNS,
    Pilot.research_question,
    Pilot.devices_required,
    Pilot.training_hours,
    Pilot.sites_receive,
    Pilot.created_at,
    Pilot.updated_at,
)

# The lifecycle: from each status, the statuses a pilot may move to.
TRANSITIONS: dict[str, tuple[str, ...]] = {
    "draft": ("open", "withdrawn"),
    "open": ("matching", "withdrawn"),
    "matching": ("active", "open", "withdrawn"),
    "active": ("analysis", "withdrawn"),
    "analysis": ("published", "closed"),
    "published": ("closed",),
    "closed": (),
    "withdrawn": (),
}
# The vendor runs its own call until it becomes a study, and may withdraw it at any point;
# the later steps are the network's (registration, data and approvals will gate them).
VENDOR_MOVES_FROM = frozenset({"draft", "open", "matching"})


async def list_pilots(principal: Principal | None, filters: ListFilters, page: int) -> Page:
    where: list[Combinable] = [visible_pilots_where(principal)]
    if filters.status:
        where.append(Pilot.status == filters.status)
    if filters.product:
        where.append(Pilot.product == filters.product)
    if filters.vendor:
        where.append(Pilot.product.vendor == filters.vendor)
    if filters.pillar:
        where.append(_has_code(Pilot.pillars, filters.pillar))
    if filters.grade_band:
        where.append(_has_any_code(Pilot.grades, vocabulary.GRADE_BANDS[filters.grade_band]))
    if filters.subject:
        where.append(_has_code(Pilot.subjects, filters.subject))
    where += _search(filters.words, (Pilot.title, Pilot.research_question, Pilot.product.name))
    return await _page(Pilot, PILOT_LIST_COLUMNS, where, (Pilot.title, Pilot.id), filters, page)


async def get_pilot(principal: Principal | None, pilot_id: int) -> tuple[dict, PilotAccess]:
    access = await pilot_access(principal, pilot_id)
    pilot = await Pilot.select(*PILOT_COLUMNS).where(Pilot.id == pilot_id).first()
    if pilot is None:
        raise NotFound("There is no such pilot.")
    return pilot, access


def _read_pilot(reader: InputReader) -> dict[Column, Any]:
    return {
        Pilot.title: reader.text("title", "a title"),
        Pilot.research_question: reader.text(
            "research_question", "the research question", max_length=2000
        ),
        Pilot.grades: reader.codes("grades", "grades", vocabulary.GRADE_CODES),
        Pilot.subjects: reader.codes("subjects", "subjects", vocabulary.SUBJECTS),
        Pilot.pillars: reader.codes("pillars", "pillars", vocabulary.PILLARS),
        Pilot.sites_wanted: reader.number(
            "sites_wanted", "the number of sites", minimum=1, maximum=100, whole=True
        ),
        Pilot.students_per_site: reader.number(
            "students_per_site", "the students per site", minimum=1, maximum=100_000, whole=True
        ),
        Pilot.weeks: reader.number("weeks", "the weeks", minimum=1, maximum=104, whole=True),
        Pilot.start_window: reader.text(
            "start_window", "the start window", required=False, max_length=100
        ),
        Pilot.devices_required: reader.text(
            "devices_required", "the devices required", required=False
        ),
        Pilot.training_hours: reader.number(
            "training_hours", "the training hours", minimum=0, maximum=1000, whole=True
        ),
        Pilot.sites_receive: reader.text(
            "sites_receive", "what sites receive", required=False, max_length=5000
        ),
    }


async def create_pilot(principal: Principal, values: Mapping[str, Any]) -> int:
    """A new call, as a draft, for a product of one of the principal's verified vendors."""
    reader = InputReader(values)
    product_id = reader.number("product", "the product", minimum=1, maximum=MAX_ID, whole=True)
    pilot = _read_pilot(reader)
    if product_id is not None:
        product = await Product.select(Product.vendor).where(Product.id == product_id).first()
        own = {vendor_id for vendor_id, _ in await vendor_options(principal)}
        if product is None:
            reader.problem("product", "There is no such product.")
        elif product["vendor"] not in own:
            raise Forbidden("Only the product's verified vendor can open a call for it.")
    reader.raise_problems()
    rows = await Pilot.insert(
        Pilot(
            product=product_id,
            status="draft",
            **{column._meta.name: value for column, value in pilot.items()},
        )
    )
    await audit.record(
        "pilot_created", actor_id=principal.user_id, object_type="pilot", object_id=rows[0]["id"]
    )
    return rows[0]["id"]


async def update_pilot(principal: Principal, pilot_id: int, values: Mapping[str, Any]) -> None:
    access = await pilot_access(principal, pilot_id)
    access.require_manage()
    if access.status not in EDITABLE_PILOT_STATUSES:
        raise Conflict(
            f"This pilot is {access.status}: a call can be edited only while it is a draft or "
            "open, so that what districts volunteered for does not change under them."
        )
    reader = InputReader(values)
    pilot = _read_pilot(reader)
    reader.raise_problems()
    updated = await (
        Pilot.update({**pilot, Pilot.updated_at: datetime.now(UTC)})
        .where((Pilot.id == pilot_id) & Pilot.status.is_in(sorted(EDITABLE_PILOT_STATUSES)))
        .returning(Pilot.id)
    )
    if not updated:
        raise Conflict("The pilot's status changed meanwhile; reload the page.")
    await audit.record(
        "pilot_updated", actor_id=principal.user_id, object_type="pilot", object_id=pilot_id
    )


def may_move(access: PilotAccess, target: str) -> bool:
    """Whether this principal may make this (legal) move: the vendor its own call's early
    moves, withdrawal and publication (gated by a published finding), a network admin any
    move."""
    if access.is_network_admin:
        return True
    return access.is_vendor and (
        access.status in VENDOR_MOVES_FROM or target in ("withdrawn", "published")
    )


def next_statuses(access: PilotAccess) -> list[str]:
    """The moves this principal can make now (for the buttons on the pilot's page)."""
    return [target for target in TRANSITIONS[access.status] if may_move(access, target)]


async def transition_problems(
    pilot_id: int, current: str, target: str, *, by_network_admin: bool = False
) -> list[str]:
    """What stands in the way of a legal move, beyond who may make it. Later issues add their
    conditions here: a registered design before `active`, current data before `analysis`,
    approved findings before `published`."""
    problems = []
    if target == "active":
        sites = await Enrollment.count().where(
            (Enrollment.pilot == pilot_id) & Enrollment.status.is_in(sorted(SITE_STATUSES))
        )
        if sites == 0:
            problems.append("A pilot becomes active only with at least one accepted site.")
    if target == "published" and not by_network_admin:
        # The vendor publishes a pilot only with its approved, published finding.
        published = await Finding.exists().where(
            (Finding.pilot == pilot_id)
            & Finding.published_at.is_not_null()
            & Finding.retracted_at.is_null()
        )
        if not published:
            problems.append(
                "A pilot is published with its finding: the vendor and every site district "
                "approve it on the pilot's findings page, then it is published there."
            )
    return problems


async def change_pilot_status(
    principal: Principal, pilot_id: int, target: str, *, ip_address: str = ""
) -> str:
    """Move a pilot along its lifecycle; returns the new status."""
    access = await pilot_access(principal, pilot_id)
    access.require_manage()
    if target not in vocabulary.PILOT_STATUSES:
        raise InvalidInput(
            f"Unknown status {target!r}.",
            errors=[{"field": "status", "message": "Choose one of the offered statuses."}],
        )
    current = access.status
    allowed = TRANSITIONS[current]
    if target not in allowed:
        raise Conflict(
            f"A pilot that is {current} cannot become {target}. "
            + (
                f"From {current} it can become: {', '.join(allowed)}."
                if allowed
                else f"{current.capitalize()} is a final status."
            )
        )
    if not may_move(access, target):
        raise Forbidden(
            f"Only a network administrator can move a pilot from {current} to {target}."
        )
    problems = await transition_problems(
        pilot_id, current, target, by_network_admin=access.is_network_admin
    )
    if problems:
        raise Conflict(" ".join(problems))
    updated = await (
        Pilot.update({Pilot.status: target, Pilot.updated_at: datetime.now(UTC)})
        .where((Pilot.id == pilot_id) & (Pilot.status == current))
        .returning(Pilot.id)
    )
    if not updated:
        raise Conflict("The pilot's status changed meanwhile; reload the page.")
    await audit.record(
        "pilot_status_changed",
        actor_id=principal.user_id,
        object_type="pilot",
        object_id=pilot_id,
        detail={"from": current, "to": target},
        ip_address=ip_address,
    )
    return target
