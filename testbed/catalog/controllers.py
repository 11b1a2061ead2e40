"""Pages and API for the catalog: districts and their needs, products, and pilot calls."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, get, post, put
from litestar.connection import ASGIConnection
from litestar.di import NamedDependency, Provide
from litestar.handlers.base import BaseRouteHandler
from litestar.openapi.spec import Schema
from litestar.openapi.spec.enums import OpenAPIType
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter
from litestar.plugins.flash import flash
from litestar.response import Redirect, Template
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED

from testbed import vocabulary
from testbed.access import pilot_manager, pilot_viewer
from testbed.auth import PUBLIC, Principal, SignedIn, Viewer, guarded, member_of, require_principal
from testbed.catalog import services
from testbed.catalog.schemas import (
    DistrictDetail,
    DistrictOut,
    Item,
    NeedIn,
    NeedOut,
    Page,
    PilotCallIn,
    PilotCreate,
    PilotDetail,
    PilotOut,
    ProductDetail,
    ProductIn,
    ProductOut,
    ProfileIn,
    StatusChange,
    convert,
)
from testbed.catalog.services import ListFilters
from testbed.errors import Conflict, Forbidden, InvalidInput, NotFound, TestbedError
from testbed.tables import MAX_ID
from testbed.web import form_errors, form_page

# Form fields that hold several checkbox values.
LIST_FIELDS = frozenset(
    {"grades_served", "platforms", "pillars", "grade_bands", "subjects", "grades"}
)

verified_vendor = member_of("vendor", verified=True)


async def read_form(request: Request) -> dict[str, Any]:
    """The posted form, with every value of the checkbox groups (a plain dict body would keep
    only one value per name)."""
    form = await request.form()
    values: dict[str, Any] = {name: [] for name in LIST_FIELDS}
    for name in form:
        values[name] = form.getall(name) if name in LIST_FIELDS else form.get(name)
    return values


def _client_address(request: Request) -> str:
    return request.client.host if request.client else ""


# --- guards: they run before the body is read, and the services check again ------------------


def district_member(connection: ASGIConnection, _: BaseRouteHandler) -> None:
    services.require_district_member(
        require_principal(connection), int(connection.path_params["district_id"])
    )


async def product_editor(connection: ASGIConnection, _: BaseRouteHandler) -> None:
    await services.require_product_editor(
        require_principal(connection), int(connection.path_params["product_id"])
    )


# --- list filters, read the same way by pages and API ----------------------------------------

# Each filter is declared with what it accepts, so the OpenAPI document tells callers (and
# schemathesis) the truth: a vocabulary code from testbed/vocabulary.py, an id, or "" for any
# (what the pages' filter forms send). parse_filters checks the same and names what is wrong.


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


def _list_page(template: str, result: services.Page, **extra: Any) -> Template:
    return Template(template, context={"result": result, "filters": result.filters, **extra})


# --- district pages -------------------------------------------------------------------------

STATE_OPTIONS = [("", "Choose a state"), *((state, state) for state in vocabulary.US_STATES)]


def _percent_text(share: float | None) -> str:
    return "" if share is None else f"{round(100 * share, 2):g}"


def _profile_form_values(district: dict[str, Any]) -> dict[str, Any]:
    profile = district["profile"] or {}
    values = {
        **profile,
        "state": district["state"] or "",
        "max_concurrent_pilots": profile.get("max_concurrent_pilots", 2),
    }
    for name in ("frl_share", "el_share", "swd_share"):
        values[name] = _percent_text(profile.get(name))
    return values


async def _open_needs(principal: Principal | None, district_id: int) -> list[dict[str, Any]]:
    filters = ListFilters(district=district_id, status="open", per_page=services.MAX_PER_PAGE)
    return (await services.list_needs(principal, filters, 1)).items


class DistrictController(Controller):
    path = "/districts"
    tags = ["catalog"]
    include_in_schema = False
    opt = PUBLIC

    @get("/", dependencies={"filters": Provide(district_filters)})
    async def districts(self, viewer: Viewer, filters: Filters, page: PageNumber = 1) -> Template:
        result = await services.list_districts(viewer, filters, page)
        return _list_page("catalog/districts.html.j2", result)

    @get("/{district_id:int}")
    async def district(self, viewer: Viewer, district_id: FromPath[int]) -> Template:
        district = await services.get_district(viewer, district_id)
        return Template(
            "catalog/district.html.j2",
            context={
                "district": district,
                "needs": await _open_needs(viewer, district_id),
                "is_member": viewer is not None
                and (viewer.is_network_admin or viewer.is_member_of(district_id)),
            },
        )

    @get("/{district_id:int}/profile", **guarded(district_member))
    async def profile_form(self, principal: SignedIn, district_id: FromPath[int]) -> Template:
        district = await services.get_district(principal, district_id)
        return form_page(
            "catalog/profile_form.html.j2",
            values=_profile_form_values(district),
            extra={"district": district, "state_options": STATE_OPTIONS},
        )

    @post("/{district_id:int}/profile", **guarded(district_member))
    async def save_profile(
        self, request: Request, principal: SignedIn, district_id: FromPath[int]
    ) -> Template | Redirect:
        values = await read_form(request)
        with form_errors() as outcome:
            await services.save_district_profile(principal, district_id, values)
        if outcome.error:
            return form_page(
                "catalog/profile_form.html.j2",
                values=values,
                error=outcome.error,
                extra={
                    "district": await services.get_district(principal, district_id),
                    "state_options": STATE_OPTIONS,
                },
            )
        flash(request, "Your district's profile is saved.", category="saved")
        return Redirect(f"/districts/{district_id}")

    @get("/{district_id:int}/needs", **guarded(district_member))
    async def needs(self, principal: SignedIn, district_id: FromPath[int]) -> Template:
        filters = ListFilters(district=district_id, per_page=services.MAX_PER_PAGE)
        return Template(
            "catalog/needs.html.j2",
            context={
                "district": await services.get_district(principal, district_id),
                "needs": (await services.list_needs(principal, filters, 1)).items,
            },
        )

    @get("/{district_id:int}/needs/new", **guarded(district_member))
    async def new_need(self, principal: SignedIn, district_id: FromPath[int]) -> Template:
        district = await services.get_district(principal, district_id)
        return form_page(
            "catalog/need_form.html.j2", values={}, extra={"district": district, "need": None}
        )

    @post("/{district_id:int}/needs", **guarded(district_member))
    async def create_need(
        self, request: Request, principal: SignedIn, district_id: FromPath[int]
    ) -> Template | Redirect:
        values = await read_form(request)
        with form_errors() as outcome:
            await services.create_need(principal, district_id, values)
        if outcome.error:
            return form_page(
                "catalog/need_form.html.j2",
                values=values,
                error=outcome.error,
                extra={
                    "district": await services.get_district(principal, district_id),
                    "need": None,
                },
            )
        flash(request, "The need is saved.", category="saved")
        return Redirect(f"/districts/{district_id}/needs")

    @get(
        "/{district_id:int}/needs/{need_id:int}/edit",
        **guarded(district_member),
    )
    async def edit_need(
        self, principal: SignedIn, district_id: FromPath[int], need_id: FromPath[int]
    ) -> Template:
        need = await services.get_need(principal, district_id, need_id)
        return form_page(
            "catalog/need_form.html.j2",
            values=need,
            extra={"district": await services.get_district(principal, district_id), "need": need},
        )

    @post(
        "/{district_id:int}/needs/{need_id:int}/edit",
        **guarded(district_member),
    )
    async def update_need(
        self,
        request: Request,
        principal: SignedIn,
        district_id: FromPath[int],
        need_id: FromPath[int],
    ) -> Template | Redirect:
        values = await read_form(request)
        with form_errors() as outcome:
            await services.update_need(principal, district_id, need_id, values)
        if outcome.error:
            return form_page(
                "catalog/need_form.html.j2",
                values=values,
                error=outcome.error,
                extra={
                    "district": await services.get_district(principal, district_id),
                    "need": await services.get_need(principal, district_id, need_id),
                },
            )
        flash(request, "The need is saved.", category="saved")
        return Redirect(f"/districts/{district_id}/needs")

    @post(
        "/{district_id:int}/needs/{need_id:int}/status",
        **guarded(district_member),
    )
    async def need_status(
        self,
        request: Request,
        principal: SignedIn,
        district_id: FromPath[int],
        need_id: FromPath[int],
    ) -> Redirect:
        values = await read_form(request)
        is_open = values.get("status") == "open"
        await services.set_need_open(principal, district_id, need_id, is_open)
        flash(request, "The need's status is changed.", category="saved")
        return Redirect(f"/districts/{district_id}/needs")


class NeedController(Controller):
    path = "/needs"
    tags = ["catalog"]
    include_in_schema = False
    opt = PUBLIC

    @get("/", dependencies={"filters": Provide(need_filters)})
    async def needs(self, viewer: Viewer, filters: Filters, page: PageNumber = 1) -> Template:
        result = await services.list_needs(viewer, filters, page)
        return _list_page("catalog/needs_list.html.j2", result)


# --- product pages --------------------------------------------------------------------------


class ProductController(Controller):
    path = "/products"
    tags = ["catalog"]
    include_in_schema = False
    opt = PUBLIC

    @get("/", dependencies={"filters": Provide(product_filters)})
    async def products(self, viewer: Viewer, filters: Filters, page: PageNumber = 1) -> Template:
        result = await services.list_products(filters, page)
        can_propose = viewer is not None and (
            viewer.is_network_admin or bool(viewer.organizations_of_kind("vendor"))
        )
        return _list_page("catalog/products.html.j2", result, can_propose=can_propose)

    @get("/new", **guarded(verified_vendor))
    async def new_product(self, principal: SignedIn) -> Template:
        return await _product_form(principal, values={})

    @post("/", **guarded(verified_vendor))
    async def create_product(self, request: Request, principal: SignedIn) -> Template | Redirect:
        values = await read_form(request)
        with form_errors() as outcome:
            product_id = await services.create_product(principal, values)
        if outcome.error:
            return await _product_form(principal, values=values, error=outcome.error)
        flash(request, "The product is saved.", category="saved")
        return Redirect(f"/products/{product_id}")

    @get("/{product_id:int}")
    async def product(self, viewer: Viewer, product_id: FromPath[int]) -> Template:
        product = await services.get_product(product_id)
        calls = await services.list_pilots(
            viewer, ListFilters(product=product_id, per_page=services.MAX_PER_PAGE), 1
        )
        return Template(
            "catalog/product.html.j2",
            context={
                "product": product,
                "calls": calls.items,
                "can_edit": viewer is not None
                and (viewer.is_network_admin or viewer.is_member_of(product["vendor_id"])),
            },
        )

    @get("/{product_id:int}/edit", **guarded(product_editor))
    async def edit_product(self, principal: SignedIn, product_id: FromPath[int]) -> Template:
        product = await services.get_product(product_id)
        return await _product_form(principal, values=product, product=product)

    @post("/{product_id:int}/edit", **guarded(product_editor))
    async def update_product(
        self,
        request: Request,
        principal: SignedIn,
        product_id: FromPath[int],
    ) -> Template | Redirect:
        values = await read_form(request)
        with form_errors() as outcome:
            await services.update_product(principal, product_id, values)
        if outcome.error:
            product = await services.get_product(product_id)
            return await _product_form(
                principal, values=values, error=outcome.error, product=product
            )
        flash(request, "The product is saved.", category="saved")
        return Redirect(f"/products/{product_id}")


TIER_OPTIONS = [
    ("", "None"),
    ("1", "Tier 1: strong evidence"),
    ("2", "Tier 2: moderate evidence"),
    ("3", "Tier 3: promising evidence"),
    ("4", "Tier 4: demonstrates a rationale"),
]


def _select_values(values: dict[str, Any], *names: str) -> dict[str, Any]:
    """Form values with the chosen options as text, as the select boxes compare them."""
    return {**values, **{name: str(values.get(name) or "") for name in names}}


async def _product_form(
    principal: Principal,
    *,
    values: dict[str, Any],
    error: TestbedError | None = None,
    product: dict[str, Any] | None = None,
) -> Template:
    vendors = await services.vendor_options(principal)
    return form_page(
        "catalog/product_form.html.j2",
        values=_select_values(values, "essa_tier_claimed", "vendor"),
        error=error,
        extra={
            "product": product,
            "vendors": vendors,
            "vendor_options": [("", "Choose the vendor"), *((str(i), n) for i, n in vendors)],
            "tier_options": TIER_OPTIONS,
        },
    )


# --- pilot call pages -----------------------------------------------------------------------


class PilotController(Controller):
    path = "/pilots"
    tags = ["catalog"]
    include_in_schema = False
    opt = PUBLIC

    @get("/", dependencies={"filters": Provide(pilot_filters)})
    async def pilots(self, viewer: Viewer, filters: Filters, page: PageNumber = 1) -> Template:
        result = await services.list_pilots(viewer, filters, page)
        return _list_page("catalog/pilots.html.j2", result)

    @get("/new", **guarded(verified_vendor))
    async def new_pilot(
        self, principal: SignedIn, product: FromQuery[int | None] = None
    ) -> Template:
        return await _pilot_form(principal, values={"product": product or ""})

    @post("/", **guarded(verified_vendor))
    async def create_pilot(self, request: Request, principal: SignedIn) -> Template | Redirect:
        values = await read_form(request)
        with form_errors() as outcome:
            pilot_id = await services.create_pilot(principal, values)
        if outcome.error:
            return await _pilot_form(principal, values=values, error=outcome.error)
        flash(request, "The pilot call is saved as a draft.", category="saved")
        return Redirect(f"/pilots/{pilot_id}")

    @get("/{pilot_id:int}", **guarded(pilot_viewer))
    async def pilot(self, viewer: Viewer, pilot_id: FromPath[int]) -> Template:
        pilot, access = await services.get_pilot(viewer, pilot_id)
        return Template(
            "catalog/pilot.html.j2",
            context={
                "pilot": pilot,
                "can_manage": access.can_manage,
                "can_edit": access.can_manage and access.status in services.EDITABLE_PILOT_STATUSES,
                "next_statuses": services.next_statuses(access),
            },
        )

    @get("/{pilot_id:int}/edit", **guarded(pilot_manager))
    async def edit_pilot(self, principal: SignedIn, pilot_id: FromPath[int]) -> Template:
        pilot, _ = await services.get_pilot(principal, pilot_id)
        return await _pilot_form(principal, values=pilot, pilot=pilot)

    @post("/{pilot_id:int}/edit", **guarded(pilot_manager))
    async def update_pilot(
        self, request: Request, principal: SignedIn, pilot_id: FromPath[int]
    ) -> Template | Redirect:
        values = await read_form(request)
        with form_errors() as outcome:
            await services.update_pilot(principal, pilot_id, values)
        if outcome.error:
            pilot, _ = await services.get_pilot(principal, pilot_id)
            return await _pilot_form(principal, values=values, error=outcome.error, pilot=pilot)
        flash(request, "The pilot call is saved.", category="saved")
        return Redirect(f"/pilots/{pilot_id}")

    @post("/{pilot_id:int}/status", **guarded(pilot_manager))
    async def change_status(
        self, request: Request, principal: SignedIn, pilot_id: FromPath[int]
    ) -> Redirect:
        values = await read_form(request)
        await services.change_pilot_status(
            principal,
            pilot_id,
            str(values.get("status") or ""),
            ip_address=_client_address(request),
        )
        flash(request, "The pilot's status is changed.", category="saved")
        return Redirect(f"/pilots/{pilot_id}")


async def _pilot_form(
    principal: Principal,
    *,
    values: dict[str, Any],
    error: TestbedError | None = None,
    pilot: dict[str, Any] | None = None,
) -> Template:
    products = [] if pilot else await services.product_options(principal)
    return form_page(
        "catalog/pilot_form.html.j2",
        values=_select_values(values, "product"),
        error=error,
        extra={
            "pilot": pilot,
            "product_options": [("", "Choose the product"), *((str(i), n) for i, n in products)],
        },
    )


# --- JSON API -------------------------------------------------------------------------------


def _page_of(result: services.Page, item_type: type[Item]) -> Page[Item]:
    return Page(
        items=convert(result.items, item_type),
        total=result.total,
        page=result.page,
        per_page=result.per_page,
    )


async def _district_detail(principal: Principal | None, district_id: int) -> DistrictDetail:
    district = await services.get_district(principal, district_id)
    return msgspec.convert(
        {**district, "open_needs": await _open_needs(principal, district_id)},
        DistrictDetail,
        from_attributes=True,
    )


async def _pilot_detail(principal: Principal | None, pilot_id: int) -> PilotDetail:
    pilot, access = await services.get_pilot(principal, pilot_id)
    return msgspec.convert({**pilot, "next_statuses": services.next_statuses(access)}, PilotDetail)


class CatalogApiController(Controller):
    path = "/api/v1"
    tags = ["catalog"]
    opt = PUBLIC

    @get(
        "/districts",
        summary="The network's districts (public directory)",
        dependencies={"filters": Provide(district_filters)},
        raises=[InvalidInput],
    )
    async def districts(
        self, viewer: Viewer, filters: Filters, page: PageNumber = 1
    ) -> Page[DistrictOut]:
        result = await services.list_districts(viewer, filters, page)
        return _page_of(result, DistrictOut)

    @get(
        "/districts/{district_id:int}",
        summary="A district's profile and open needs",
        raises=[NotFound],
    )
    async def district(self, viewer: Viewer, district_id: FromPath[int]) -> DistrictDetail:
        return await _district_detail(viewer, district_id)

    @put(
        "/districts/{district_id:int}/profile",
        summary="Create or replace the district's profile (shares as fractions 0–1)",
        **guarded(district_member),
        raises=[Forbidden, NotFound, InvalidInput, Conflict],
    )
    async def save_profile(
        self, principal: SignedIn, district_id: FromPath[int], data: JSONBody[ProfileIn]
    ) -> DistrictDetail:
        await services.save_district_profile(principal, district_id, msgspec.structs.asdict(data))
        return await _district_detail(principal, district_id)

    @get(
        "/needs",
        summary="Districts' needs (problem statements)",
        dependencies={"filters": Provide(need_filters)},
        raises=[InvalidInput],
    )
    async def needs(self, viewer: Viewer, filters: Filters, page: PageNumber = 1) -> Page[NeedOut]:
        result = await services.list_needs(viewer, filters, page)
        return _page_of(result, NeedOut)

    @post(
        "/districts/{district_id:int}/needs",
        summary="Add a need to the district",
        **guarded(district_member),
        status_code=HTTP_201_CREATED,
        raises=[Forbidden, NotFound, InvalidInput],
    )
    async def create_need(
        self, principal: SignedIn, district_id: FromPath[int], data: JSONBody[NeedIn]
    ) -> NeedOut:
        need_id = await services.create_need(principal, district_id, msgspec.structs.asdict(data))
        return msgspec.convert(await services.get_need(principal, district_id, need_id), NeedOut)

    @put(
        "/districts/{district_id:int}/needs/{need_id:int}",
        summary="Replace a need (is_open closes or reopens it)",
        **guarded(district_member),
        raises=[Forbidden, NotFound, InvalidInput],
    )
    async def update_need(
        self,
        principal: SignedIn,
        district_id: FromPath[int],
        need_id: FromPath[int],
        data: JSONBody[NeedIn],
    ) -> NeedOut:
        await services.update_need(principal, district_id, need_id, msgspec.structs.asdict(data))
        return msgspec.convert(await services.get_need(principal, district_id, need_id), NeedOut)

    @get(
        "/products",
        summary="Products listed by vendors",
        dependencies={"filters": Provide(product_filters)},
        raises=[InvalidInput],
    )
    async def products(self, filters: Filters, page: PageNumber = 1) -> Page[ProductOut]:
        return _page_of(await services.list_products(filters, page), ProductOut)

    @get("/products/{product_id:int}", summary="One product", raises=[NotFound])
    async def product(self, product_id: FromPath[int]) -> ProductDetail:
        return msgspec.convert(await services.get_product(product_id), ProductDetail)

    @post(
        "/products",
        summary="List a product (members of a verified vendor)",
        **guarded(verified_vendor),
        status_code=HTTP_201_CREATED,
        raises=[Forbidden, InvalidInput],
    )
    async def create_product(self, principal: SignedIn, data: JSONBody[ProductIn]) -> ProductDetail:
        values = msgspec.structs.asdict(data)
        product_id = await services.create_product(principal, values)
        return msgspec.convert(await services.get_product(product_id), ProductDetail)

    @put(
        "/products/{product_id:int}",
        summary="Replace a product's listing (its vendor's members)",
        **guarded(product_editor),
        raises=[Forbidden, NotFound, InvalidInput],
    )
    async def update_product(
        self, principal: SignedIn, product_id: FromPath[int], data: JSONBody[ProductIn]
    ) -> ProductDetail:
        values = msgspec.structs.asdict(data)
        await services.update_product(principal, product_id, values)
        return msgspec.convert(await services.get_product(product_id), ProductDetail)

    @get(
        "/pilots",
        summary="Pilot calls and pilots the caller may see",
        dependencies={"filters": Provide(pilot_filters)},
        raises=[InvalidInput],
    )
    async def pilots(
        self, viewer: Viewer, filters: Filters, page: PageNumber = 1
    ) -> Page[PilotOut]:
        result = await services.list_pilots(viewer, filters, page)
        return _page_of(result, PilotOut)

    @get(
        "/pilots/{pilot_id:int}",
        summary="One pilot call",
        **guarded(pilot_viewer),
        raises=[NotFound],
    )
    async def pilot(self, viewer: Viewer, pilot_id: FromPath[int]) -> PilotDetail:
        return await _pilot_detail(viewer, pilot_id)

    @post(
        "/pilots",
        summary="Open a call for a product, as a draft (members of its verified vendor)",
        **guarded(verified_vendor),
        status_code=HTTP_201_CREATED,
        raises=[Forbidden, InvalidInput],
    )
    async def create_pilot(self, principal: SignedIn, data: JSONBody[PilotCreate]) -> PilotDetail:
        pilot_id = await services.create_pilot(principal, msgspec.structs.asdict(data))
        return await _pilot_detail(principal, pilot_id)

    @put(
        "/pilots/{pilot_id:int}",
        summary="Replace a call's details (while it is a draft or open)",
        **guarded(pilot_manager),
        raises=[Forbidden, NotFound, InvalidInput, Conflict],
    )
    async def update_pilot(
        self, principal: SignedIn, pilot_id: FromPath[int], data: JSONBody[PilotCallIn]
    ) -> PilotDetail:
        await services.update_pilot(principal, pilot_id, msgspec.structs.asdict(data))
        return await _pilot_detail(principal, pilot_id)

    @post(
        "/pilots/{pilot_id:int}/status",
        summary="Move a pilot along its lifecycle",
        status_code=HTTP_200_OK,
        **guarded(pilot_manager),
        raises=[Forbidden, NotFound, InvalidInput, Conflict],
    )
    async def change_status(
        self,
        request: Request,
        principal: SignedIn,
        pilot_id: FromPath[int],
        data: JSONBody[StatusChange],
    ) -> PilotDetail:
        await services.change_pilot_status(
            principal, pilot_id, data.status, ip_address=_client_address(request)
        )
        return await _pilot_detail(principal, pilot_id)


ROUTE_HANDLERS: list[Any] = [
    DistrictController,
    NeedController,
    ProductController,
    PilotController,
    CatalogApiController,
]
