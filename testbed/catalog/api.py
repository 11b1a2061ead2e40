"""The catalog API: districts, needs, products and pilot calls, listed with the same filters as
the pages (filters.py)."""

from __future__ import annotations

import msgspec
from litestar import Controller, Request, get, post, put
from litestar.di import Provide
from litestar.params import FromPath, JSONBody
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED

from testbed.access import pilot_manager, pilot_viewer
from testbed.auth import PUBLIC, Principal, SignedIn, Viewer, guarded
from testbed.catalog import services
from testbed.catalog.filters import (
    Filters,
    PageNumber,
    district_filters,
    need_filters,
    pilot_filters,
    product_filters,
)
from testbed.catalog.guards import district_member, product_editor, verified_vendor
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
from testbed.errors import Conflict, Forbidden, InvalidInput, NotFound
from testbed.web import client_address


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
        {**district, "open_needs": await services.open_needs(principal, district_id)},
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
            principal, pilot_id, data.status, ip_address=client_address(request)
        )
        return await _pilot_detail(principal, pilot_id)


ROUTE_HANDLERS = [CatalogApiController]
