"""Pages and API for network synthesis: product evidence, districts like mine, the network
dashboard and the researchers' export. All public: they show only published material."""

from __future__ import annotations

import dataclasses
from typing import Annotated, Any
from urllib.parse import urlencode

from litestar import Controller, Request, Response, get
from litestar.datastructures import ResponseHeader
from litestar.params import FromPath, QueryParameter
from litestar.response import Stream, Template

from testbed.auth import PUBLIC, Viewer
from testbed.errors import NotFound, TestbedError
from testbed.findings.words import number, p_equals, share
from testbed.synthesis import dashboard, export, plots, services
from testbed.synthesis.schemas import (
    PilotEffect,
    ProductEvidence,
    SimilarDistrict,
    SimilarDistricts,
)
from testbed.vocabulary import LOCALE_WORDS, PILLAR_WORDS

HELPERS = {
    "num": number,
    "share": share,
    "p_is": p_equals,
    "pillar_words": PILLAR_WORDS,
    "locale_words": LOCALE_WORDS,
}


def _forest(evidence: services.Evidence) -> str | None:
    return plots.forest(*services.forest_arguments(evidence))


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


class SynthesisController(Controller):
    tags = ["network synthesis"]
    include_in_schema = False
    opt = PUBLIC

    @get("/products/{product_id:int}/evidence")
    async def evidence(self, product_id: FromPath[int]) -> Template:
        evidence = await services.product_evidence(product_id)
        return Template(
            "synthesis/evidence.html.j2",
            context={"evidence": evidence, "forest": _forest(evidence), **HELPERS},
        )

    @get("/districts/{district_id:int}/similar")
    async def similar(self, viewer: Viewer, district_id: FromPath[int]) -> Template:
        similar = await services.similar_districts(viewer, district_id)
        return Template("synthesis/similar.html.j2", context={"similar": similar, **HELPERS})

    @get("/network")
    async def dashboard(self) -> Template:
        return Template(
            "synthesis/dashboard.html.j2",
            context={
                "board": await dashboard.dashboard(),
                **HELPERS,
            },
        )

    @get("/network/data-dictionary")
    async def data_dictionary(self) -> Template:
        return Template(
            "synthesis/data_dictionary.html.j2",
            context={"columns": export.EXPORT_DICTIONARY},
        )

    @get("/network/findings.csv")
    async def export_csv(
        self, request: Request, limit: PageLimit = None, cursor: Cursor = None
    ) -> Response[str] | Stream:
        """A page when `limit` or `cursor` is given, else the whole export, streamed."""
        if limit is None and cursor is None:
            return Stream(
                export.csv_download(),
                media_type="text/csv",
                headers={"Content-Disposition": 'attachment; filename="network-findings.csv"'},
            )
        rows, after = await export.export_page(
            limit or export.DEFAULT_LIMIT, export.decode_cursor(cursor)
        )
        return Response(
            export.csv_text(rows),
            media_type="text/csv",
            headers=_next_link(request, limit, after),
        )

    @get("/network/findings.json")
    async def export_json(self) -> Stream:
        return Stream(
            export.json_download(),
            media_type="application/json",
            headers={"Content-Disposition": 'attachment; filename="network-findings.json"'},
        )


PageLimit = Annotated[
    int | None,
    QueryParameter(
        ge=1,
        le=export.MAX_LIMIT,
        description=f"Findings on a page (each one row per outcome); {export.DEFAULT_LIMIT} "
        "when left out.",
    ),
]
Cursor = Annotated[
    str | None,
    QueryParameter(
        description="Where the page starts: the cursor in the previous page's `Link: <...>; "
        'rel="next"` header. Left out: the first page.'
    ),
]
NEXT_LINK = ResponseHeader(
    name="Link",
    description='The next page, as `<address>; rel="next"` (RFC 8288); absent on the last page.',
    documentation_only=True,
)


def _next_link(request: Request, limit: int | None, after: int | None) -> dict[str, str]:
    if after is None:
        return {}
    query = urlencode(
        {"limit": limit or export.DEFAULT_LIMIT, "cursor": export.encode_cursor(after)}
    )
    return {"Link": f'<{request.url.path}?{query}>; rel="next"'}


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
        return Response(rows, headers=_next_link(request, limit, after))


ROUTE_HANDLERS: list[Any] = [SynthesisController, SynthesisApiController]
