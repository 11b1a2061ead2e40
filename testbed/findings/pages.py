"""Pages for findings: run, read (HTML, CSV, JSON, print), approve, publish, retract, and the
district's decision after the pilot. The same in JSON: api.py."""

from __future__ import annotations

import json
import weakref
from typing import Any

from litestar import Controller, MediaType, Request, Response, get, post
from litestar.params import FromPath, URLEncodedBody
from litestar.plugins.flash import flash
from litestar.response import Redirect, Template
from markupsafe import Markup

from testbed.access import pilot_access, pilot_viewer
from testbed.auth import (
    PUBLIC,
    Principal,
    SignedIn,
    Viewer,
    access_rule,
    guarded,
)
from testbed.errors import NotFound, TestbedError
from testbed.findings import services, words
from testbed.findings.guards import (
    finding_manager,
    finding_party,
    finding_reader,
    guard_read,
    parse_reference,
    pilot_analyst,
    pilot_site_district,
)
from testbed.findings.schemas import (
    finding_out,
)
from testbed.web import form_errors, form_page, require_confirmation

Form = URLEncodedBody[dict[str, str]]


# What the finding templates use to print numbers and words.
TEMPLATE_HELPERS = {
    "num": words.number,
    "share": words.share,
    "pval": words.p_value,
    "p_is": words.p_equals,
    "better": words.better,
    "districts_in": words.districts_in_estimate,
    "arm_words": {
        "treatment": "Used the product",
        "control": "Comparison group",
        "baseline": "Same students at the start",
    },
    "subgroup_caution": words.subgroup_caution(),
}


RESULTS_TEMPLATE = "findings/_results.html.j2"


PRINT_TEMPLATE = "findings/print.html.j2"


RENDERINGS_PER_AUDIENCE = 8


async def _finding_page(
    request: Request,
    viewer: Principal | None,
    finding_id: int,
    template: str = "findings/finding.html.j2",
    *,
    error: TestbedError | None = None,
    values: dict[str, str] | None = None,
) -> Template:
    view = await services.view_finding(viewer, finding_id, guard_read(request))
    printing = template == PRINT_TEMPLATE
    return form_page(
        template,
        values=values or {},
        error=error,
        extra={"view": view, "results_html": results_html(request, view, printing=printing)},
    )


# The results part of a finding's page, rendered, for each audience (a services.Shown) still in
# the services' cache: the same markup serves every request of that audience, and it is most of
# the page's rendering. It goes when its Shown leaves that cache.
_rendered_results: weakref.WeakKeyDictionary[services.Shown, dict[tuple, Markup]] = (
    weakref.WeakKeyDictionary()
)


def results_html(request: Request, view: services.FindingView, *, printing: bool) -> Markup:
    """findings/_results.html.j2 for this view; the template sees only what the key holds
    (with the Shown) and its undefined variables raise, so nothing else can slip in."""
    retracted = view.finding["retracted_at"] is not None
    key = (retracted, printing, tuple(sorted(view.site_names.items())))
    rendered = _rendered_results.setdefault(view.shown, {})
    if key not in rendered:
        if len(rendered) >= RENDERINGS_PER_AUDIENCE:
            rendered.clear()
        template = request.app.template_engine.get_template(RESULTS_TEMPLATE)
        # Markup of the autoescaping environment: every value in it was escaped when rendered.
        rendered[key] = Markup(  # noqa: S704
            template.render(
                results=view.results,
                primary=view.primary,
                headline=view.headline,
                weaknesses=view.weaknesses,
                why_different=view.shown.why_different,
                plots=view.shown.plots,
                site_names=view.site_names,
                retracted=retracted,
                printing=printing,
                **TEMPLATE_HELPERS,
            )
        )
    return rendered[key]


class FindingListController(Controller):
    tags = ["findings"]
    include_in_schema = False
    opt = PUBLIC

    @get("/findings")
    async def published(self) -> Template:
        return Template(
            "findings/list.html.j2", context={"findings": await services.published_findings()}
        )


class FindingController(Controller):
    path = "/findings/{finding_id:str}"
    tags = ["findings"]
    include_in_schema = False
    guards = [finding_reader]
    opt = access_rule(finding_reader)

    @get("/")
    async def finding(
        self,
        request: Request,
        viewer: Viewer,
        finding_id: FromPath[str],
    ) -> Response[Any]:
        number, fmt = parse_reference(finding_id)
        if fmt == "html":
            return await _finding_page(request, viewer, number)
        view = await services.view_finding(viewer, number, guard_read(request))
        filename = f"finding-{number}.{fmt}"
        headers = {"Content-Disposition": f'attachment; filename="{filename}"'}
        if fmt == "csv":
            return Response(services.csv_text(view), media_type="text/csv", headers=headers)
        return Response(
            json.dumps(finding_out(view), sort_keys=True, default=str, indent=1),
            media_type=MediaType.JSON,
            headers=headers,
        )

    @get("/print")
    async def printable(
        self, request: Request, viewer: Viewer, finding_id: FromPath[str]
    ) -> Template:
        number, fmt = parse_reference(finding_id)
        if fmt != "html":
            raise NotFound("There is no such page.")
        return await _finding_page(request, viewer, number, PRINT_TEMPLATE)

    @post("/approval", **guarded(finding_party))
    async def approval(
        self,
        request: Request,
        viewer: Viewer,
        principal: SignedIn,
        finding_id: FromPath[str],
        data: Form,
    ) -> Template | Redirect:
        number, _ = parse_reference(finding_id)
        site = data.get("site", "")
        with form_errors() as outcome:
            await services.decide_approval(
                principal,
                number,
                decision=data.get("decision", ""),
                site_id=int(site) if site.isdigit() else None,
            )
        if outcome.error:
            return await _finding_page(request, viewer, number, error=outcome.error, values=data)
        flash(request, "Your decision is recorded.", category="saved")
        return Redirect(f"/findings/{number}#publication")

    @post("/embargo", **guarded(finding_manager))
    async def embargo(
        self,
        request: Request,
        viewer: Viewer,
        principal: SignedIn,
        finding_id: FromPath[str],
        data: Form,
    ) -> Template | Redirect:
        number, _ = parse_reference(finding_id)
        with form_errors() as outcome:
            await services.set_embargo(principal, number, data.get("embargo_until", ""))
        if outcome.error:
            return await _finding_page(request, viewer, number, error=outcome.error, values=data)
        flash(request, "The embargo is saved.", category="saved")
        return Redirect(f"/findings/{number}#publication")

    @post("/publish", **guarded(finding_manager))
    async def publish(
        self,
        request: Request,
        viewer: Viewer,
        principal: SignedIn,
        finding_id: FromPath[str],
        data: Form,
    ) -> Template | Redirect:
        number, _ = parse_reference(finding_id)
        with form_errors() as outcome:
            require_confirmation(data, "publish this finding")
            public_id = await services.publish(principal, number)
        if outcome.error:
            return await _finding_page(request, viewer, number, error=outcome.error, values={})
        flash(request, "The finding is published.", category="saved")
        return Redirect(f"/findings/{public_id}")

    @post("/retract", **guarded(finding_manager))
    async def retract(
        self,
        request: Request,
        viewer: Viewer,
        principal: SignedIn,
        finding_id: FromPath[str],
        data: Form,
    ) -> Template | Redirect:
        number, _ = parse_reference(finding_id)
        with form_errors() as outcome:
            require_confirmation(data, "retract this finding")
            await services.retract(principal, number, data.get("reason", ""))
        if outcome.error:
            return await _finding_page(request, viewer, number, error=outcome.error, values=data)
        flash(request, "The finding is retracted; the page says when and why.", category="saved")
        return Redirect(f"/findings/{number}")


async def _pilot_findings_page(
    viewer: Principal | None,
    pilot_id: int,
    *,
    error: TestbedError | None = None,
    values: dict[str, str] | None = None,
) -> Template:
    principal = viewer
    access = await pilot_access(principal, pilot_id)
    latest = await services.latest_finding(pilot_id)
    view = None
    if latest is not None:
        try:
            view = await services.view_finding(principal, latest["id"])
        except NotFound:
            view = None
    published = [row for row in await services.published_findings() if row["pilot_id"] == pilot_id]
    return form_page(
        "findings/pilot.html.j2",
        values=values or {},
        error=error,
        extra={
            "pilot_id": pilot_id,
            "access": access,
            "may_run": services.may_run(access),
            "view": view,
            "published": published,
            "decisions": await services.decisions(pilot_id),
            "decision_words": services.DECISIONS,
            "own_sites": await services.site_names(sorted(access.site_district_ids)),
            "pilot": await services.pilot_words(pilot_id),
        },
    )


class PilotFindingsController(Controller):
    path = "/pilots/{pilot_id:int}"
    tags = ["findings"]
    include_in_schema = False
    guards = [pilot_viewer]
    opt = access_rule(pilot_viewer)

    @get("/findings")
    async def findings(self, viewer: Viewer, pilot_id: FromPath[int]) -> Template:
        return await _pilot_findings_page(viewer, pilot_id)

    @post("/findings/run", **guarded(pilot_analyst))
    async def run(
        self,
        request: Request,
        viewer: Viewer,
        principal: SignedIn,
        pilot_id: FromPath[int],
    ) -> Template | Redirect:
        with form_errors() as outcome:
            finding_id = await services.run_finding(principal, pilot_id)
        if outcome.error:
            return await _pilot_findings_page(viewer, pilot_id, error=outcome.error)
        flash(request, "The analysis ran: this is its finding.", category="saved")
        return Redirect(f"/findings/{finding_id}")

    @post("/decision", **guarded(pilot_site_district))
    async def decide(
        self,
        request: Request,
        viewer: Viewer,
        principal: SignedIn,
        pilot_id: FromPath[int],
        data: Form,
    ) -> Template | Redirect:
        district = data.get("district", "")
        with form_errors() as outcome:
            await services.record_decision(
                principal,
                pilot_id,
                district_id=int(district) if district.isdigit() else None,
                decision=data.get("decision", ""),
                reasons=data.get("reasons", ""),
            )
        if outcome.error:
            return await _pilot_findings_page(viewer, pilot_id, error=outcome.error, values=data)
        flash(request, "Your district's decision is recorded.", category="saved")
        return Redirect(f"/pilots/{pilot_id}/findings#decision")


ROUTE_HANDLERS = [FindingListController, FindingController, PilotFindingsController]
