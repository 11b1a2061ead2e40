"""Pages for network synthesis: product evidence, districts like mine, the network dashboard and
the researchers' export. All public: they show only published material. The same in JSON:
api.py."""

from __future__ import annotations

from litestar import Controller, Request, Response, get
from litestar.params import FromPath
from litestar.response import Stream, Template

from testbed.auth import PUBLIC, Viewer
from testbed.costs import services as costs_services
from testbed.findings.words import number, p_equals, share
from testbed.synthesis import dashboard, export, plots, services
from testbed.synthesis.paging import Cursor, PageLimit, next_link
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


class SynthesisController(Controller):
    tags = ["network synthesis"]
    include_in_schema = False
    opt = PUBLIC

    @get("/products/{product_id:int}/evidence")
    async def evidence(self, product_id: FromPath[int]) -> Template:
        evidence = await services.product_evidence(product_id)
        return Template(
            "synthesis/evidence.html.j2",
            context={
                "evidence": evidence,
                "forest": _forest(evidence),
                "costs": await costs_services.evidence_section(evidence),
                **HELPERS,
            },
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
            headers=next_link(request, limit, after),
        )

    @get("/network/findings.json")
    async def export_json(self) -> Stream:
        return Stream(
            export.json_download(),
            media_type="application/json",
            headers={"Content-Disposition": 'attachment; filename="network-findings.json"'},
        )


ROUTE_HANDLERS = [SynthesisController]
