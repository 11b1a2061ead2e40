"""Pages and API for network synthesis: product evidence, districts like mine, the network
dashboard and the researchers' export. All public: they show only published material."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from litestar import Controller, MediaType, Response, get
from litestar.params import FromPath
from litestar.response import Template

from testbed.auth import PUBLIC, Viewer
from testbed.errors import NotFound
from testbed.findings.words import number, p_equals, share
from testbed.synthesis import plots, services
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
    rows = [
        [pilot.title, pilot.estimate, *pilot.ci, pilot.shrunken] for pilot in evidence.pooled_pilots
    ]
    pooled = evidence.pooled
    summary = (
        [pooled["estimate"], *pooled["ci"], *pooled["prediction_interval"]] if pooled else None
    )
    return plots.forest(rows, summary)


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
                "board": await services.dashboard(),
                **HELPERS,
            },
        )

    @get("/network/data-dictionary")
    async def data_dictionary(self) -> Template:
        return Template(
            "synthesis/data_dictionary.html.j2",
            context={"columns": services.EXPORT_DICTIONARY},
        )

    @get("/network/findings.csv")
    async def export_csv(self) -> Response[str]:
        return Response(
            services.export_csv(await services.export_rows()),
            media_type="text/csv",
            headers={"Content-Disposition": 'attachment; filename="network-findings.csv"'},
        )

    @get("/network/findings.json")
    async def export_json(self) -> Response[str]:
        return Response(
            json.dumps(await services.export_rows(), sort_keys=True, indent=1),
            media_type=MediaType.JSON,
            headers={"Content-Disposition": 'attachment; filename="network-findings.json"'},
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
        return await services.dashboard()

    @get(
        "/network/findings",
        summary="Published findings, one row per pilot and outcome (see the data dictionary)",
    )
    async def findings(self) -> list[dict[str, Any]]:
        return await services.export_rows()


ROUTE_HANDLERS: list[Any] = [SynthesisController, SynthesisApiController]
