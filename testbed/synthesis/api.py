"""The network synthesis API: product evidence, districts like mine, the dashboard and the
researchers' export a page at a time."""

from __future__ import annotations

import dataclasses
from typing import Any

from litestar import Controller, Request, Response, get
from litestar.datastructures import ResponseHeader
from litestar.params import FromPath

from testbed.auth import PUBLIC, Viewer
from testbed.errors import NotFound, TestbedError
from testbed.synthesis import dashboard, export, services
from testbed.synthesis.paging import Cursor, PageLimit, next_link
from testbed.synthesis.schemas import (
    PilotEffect,
    ProductEvidence,
    SimilarDistrict,
    SimilarDistricts,
)


def _evidence_out(evidence: services.Evidence) -> ProductEvidence:
    return ProductEvidence(
        product_id=evidence.product["id"],
        product=evidence.product["name"],
        headline=evidence.headline,
        k=evidence.k,
        districts=evidence.districts,
        students=evidence.students,
        students_exact=evidence.students_exact,
        pooled=evidence.pooled,
        heterogeneity=evidence.heterogeneity,
        prediction=evidence.prediction,
        method=evidence.method,
        essa=evidence.essa,
        breakdowns=[dataclasses.asdict(breakdown) for breakdown in evidence.breakdowns],
        why_different=evidence.why_different,
        pilots=[
            PilotEffect(
                pilot_id=pilot.pilot_id,
                finding_id=pilot.finding_id,
                title=pilot.title,
                outcome=pilot.outcome,
                design_type=pilot.design_type,
                estimate=pilot.estimate,
                se=pilot.se,
                ci=None if pilot.ci is None else list(pilot.ci),
                p=pilot.p,
                students=pilot.students,
                shrunken_estimate=pilot.shrunken,
                weight=pilot.weight,
                locale=pilot.locale,
                retracted=pilot.retracted,
                pooled=pilot.pooled,
                not_pooled_because=pilot.not_pooled_because,
            )
            for pilot in evidence.pilots
        ],
    )


def _similar_out(similar: services.SimilarDistricts) -> SimilarDistricts:
    return SimilarDistricts(
        district_id=similar.district["id"],
        name=similar.district["name"],
        matches=[SimilarDistrict(**match) for match in similar.matches],
    )


NEXT_LINK = ResponseHeader(
    name="Link",
    description='The next page, as `<address>; rel="next"` (RFC 8288); absent on the last page.',
    documentation_only=True,
)


class SynthesisApiController(Controller):
    path = "/api/v1"
    tags = ["network synthesis"]
    opt = PUBLIC

    @get(
        "/products/{product_id:int}/evidence",
        summary="A product's published pilots pooled by random-effects meta-analysis",
        raises=[NotFound],
    )
    async def evidence(self, product_id: FromPath[int]) -> ProductEvidence:
        return _evidence_out(await services.product_evidence(product_id))

    @get(
        "/districts/{district_id:int}/similar",
        summary="Published findings from the districts most like this one",
        raises=[NotFound],
    )
    async def similar(self, viewer: Viewer, district_id: FromPath[int]) -> SimilarDistricts:
        similar = await services.similar_districts(viewer, district_id)
        return _similar_out(similar)

    @get("/network/dashboard", summary="The network's pilots in aggregate, small cells hidden")
    async def dashboard(self) -> dict[str, Any]:
        return await dashboard.dashboard()

    @get(
        "/network/findings",
        summary="Published findings, one row per pilot and outcome (see the data dictionary)",
        description="A page at a time, by keyset: the rows of the latest published finding of "
        "each of the next `limit` pilots (by id). The `Link` header gives the next page "
        '(`rel="next"`) and is absent on the last one; a cursor the service did not give is a '
        "400. The whole export in one file: /network/findings.csv or .json (streamed).",
        raises=[TestbedError],
        response_headers=[NEXT_LINK],
    )
    async def findings(
        self, request: Request, limit: PageLimit = None, cursor: Cursor = None
    ) -> Response[list[dict[str, Any]]]:
        rows, after = await export.export_page(
            limit or export.DEFAULT_LIMIT, export.decode_cursor(cursor)
        )
        return Response(rows, headers=next_link(request, limit, after))


ROUTE_HANDLERS = [SynthesisApiController]
