"""Pages and API for findings: run, read, approve, publish, retract, and the district's
decision after the pilot."""

from __future__ import annotations

import json
import weakref
from datetime import UTC, datetime
from typing import Any

from litestar import Controller, MediaType, Request, Response, get, post
from litestar.connection import ASGIConnection
from litestar.handlers.base import BaseRouteHandler
from litestar.params import FromPath, JSONBody, URLEncodedBody
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
    current_principal,
    guarded,
    require_principal,
)
from testbed.errors import Conflict, Forbidden, InvalidInput, NotFound, TestbedError
from testbed.findings import services, words
from testbed.findings.schemas import (
    ApprovalIn,
    ApprovalOut,
    FindingOut,
    FindingSummary,
    PublishedFinding,
    RetractIn,
    SiteApproval,
)
from testbed.web import form_errors, form_page, require_confirmation

Form = URLEncodedBody[dict[str, str]]
FORMATS = ("html", "csv", "json")
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


def parse_reference(reference: str) -> tuple[int, str]:
    """ "12", "12.csv" or "12.json" -> (12, format); anything else is not a finding."""
    number, _, suffix = reference.partition(".")
    fmt = suffix or "html"
    if not number.isdigit() or fmt not in FORMATS or len(number) > 12:
        raise NotFound("There is no such finding.")
    return int(number), fmt


# --- guards ---------------------------------------------------------------------------------


async def pilot_analyst(connection: ASGIConnection, _: BaseRouteHandler) -> None:
    principal = require_principal(connection)
    access = await pilot_access(principal, int(connection.path_params["pilot_id"]))
    if not services.may_run(access):
        raise Forbidden("Only the pilot's vendor, its researchers or a network admin do this.")


async def pilot_site_district(connection: ASGIConnection, _: BaseRouteHandler) -> None:
    principal = require_principal(connection)
    access = await pilot_access(principal, int(connection.path_params["pilot_id"]))
    if not access.is_site_district:
        raise Forbidden("Only a district that hosted the pilot records its decision.")


def _finding_id(connection: ASGIConnection) -> int:
    value = connection.path_params["finding_id"]
    return value if isinstance(value, int) else parse_reference(str(value))[0]


async def finding_reader(connection: ASGIConnection, _: BaseRouteHandler) -> None:
    read = await services.read_finding(current_principal(connection), _finding_id(connection))
    if connection.scope.get("method") == "GET":
        # A page view reads nothing new in its handler: it shows what this check just read.
        connection.state.finding_read = read


def _guard_read(request: Request) -> services.FindingRead | None:
    """What finding_reader read for this GET request (None for any other request)."""
    return request.state.get("finding_read") if request.method == "GET" else None


async def finding_party(connection: ASGIConnection, _: BaseRouteHandler) -> None:
    principal = require_principal(connection)
    _, access = await services.finding_access(principal, _finding_id(connection))
    if not (access.is_vendor or access.is_site_district):
        raise Forbidden("Only the pilot's vendor and its site districts approve a finding.")


async def finding_manager(connection: ASGIConnection, _: BaseRouteHandler) -> None:
    principal = require_principal(connection)
    _, access = await services.finding_access(principal, _finding_id(connection))
    access.require_manage()


# --- pages ----------------------------------------------------------------------------------


async def _finding_page(
    request: Request,
    viewer: Principal | None,
    finding_id: int,
    template: str = "findings/finding.html.j2",
    *,
    error: TestbedError | None = None,
    values: dict[str, str] | None = None,
) -> Template:
    view = await services.view_finding(viewer, finding_id, _guard_read(request))
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
        view = await services.view_finding(viewer, number, _guard_read(request))
        filename = f"finding-{number}.{fmt}"
        headers = {"Content-Disposition": f'attachment; filename="{filename}"'}
        if fmt == "csv":
            return Response(services.csv_text(view), media_type="text/csv", headers=headers)
        return Response(
            json.dumps(_finding_out(view), sort_keys=True, default=str, indent=1),
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


# --- JSON API -------------------------------------------------------------------------------


def _finding_out(view: services.FindingView) -> dict[str, Any]:
    finding = view.finding
    return {
        "id": finding["id"],
        "pilot_id": finding["pilot"],
        "variant": finding["variant"],
        "design_version_id": finding["design_version"],
        "dataset_ids": json.loads(finding["dataset_ids"]),
        "headline": view.headline,
        "weaknesses": view.weaknesses,
        "why_different": view.shown.why_different,
        "computed_at": finding["computed_at"],
        "published_at": finding["published_at"],
        "retracted_at": finding["retracted_at"],
        "retraction_reason": finding["retraction_reason"],
        "embargo_until": finding["embargo_until"],
        "withheld_sites": view.withheld_sites,
        "suppressed": view.results["suppressed"],
        "results": view.results,
    }


class FindingApiController(Controller):
    path = "/api/v1"
    tags = ["findings"]

    @get(
        "/findings",
        summary="Published findings (null, negative and retracted ones included)",
        opt=PUBLIC,
    )
    async def published(self) -> list[PublishedFinding]:
        return [PublishedFinding(**row) for row in await services.published_findings()]

    @get(
        "/findings/{finding_id:int}",
        summary="One finding, small cells suppressed for viewers outside its district",
        **guarded(finding_reader),
        raises=[NotFound],
    )
    async def finding(
        self, request: Request, viewer: Viewer, finding_id: FromPath[int]
    ) -> FindingOut:
        view = await services.view_finding(viewer, finding_id, _guard_read(request))
        return FindingOut(**_finding_out(view))

    @get(
        "/pilots/{pilot_id:int}/findings",
        summary="A pilot's findings that the caller may read",
        **guarded(pilot_viewer),
        raises=[NotFound],
    )
    async def pilot_findings(self, viewer: Viewer, pilot_id: FromPath[int]) -> list[FindingSummary]:
        rows = await services.readable_findings(viewer, pilot_id)
        return [FindingSummary(**row) for row in rows]

    @post(
        "/pilots/{pilot_id:int}/findings",
        summary="Run the registered analysis on the current data (same inputs: same finding)",
        **guarded(pilot_analyst),
        raises=[NotFound, Forbidden, Conflict],
    )
    async def run(self, principal: SignedIn, viewer: Viewer, pilot_id: FromPath[int]) -> FindingOut:
        finding_id = await services.run_finding(principal, pilot_id)
        view = await services.view_finding(viewer, finding_id)
        return FindingOut(**_finding_out(view))


class FindingDecisionApiController(Controller):
    """Approve, publish and retract through the API: the services and guards of the pages."""

    path = "/api/v1/findings/{finding_id:int}"
    tags = ["findings"]

    @post(
        "/approval",
        summary="Approve or withhold a finding: the vendor for all of it, a district for its site",
        status_code=200,
        **guarded(finding_party),
        raises=[Forbidden, NotFound, Conflict, InvalidInput],
    )
    async def approval(
        self, principal: SignedIn, finding_id: FromPath[int], data: JSONBody[ApprovalIn]
    ) -> ApprovalOut:
        await services.decide_approval(
            principal, finding_id, decision=data.decision, site_id=data.site_id
        )
        finding, _ = await services.finding_access(principal, finding_id)
        state = await services.approval_state(finding)
        return ApprovalOut(
            finding_id=finding_id,
            vendor=state.vendor,
            sites=[SiteApproval(site, decision) for site, decision in sorted(state.sites.items())],
            embargo_until=state.embargo_until,
            waiting_for=state.blocking_reason(datetime.now(UTC).date()),
        )

    @post(
        "/publish",
        summary="Publish an approved finding (returns what the public reads)",
        **guarded(finding_manager),
        raises=[Forbidden, NotFound, Conflict],
    )
    async def publish(self, principal: SignedIn, finding_id: FromPath[int]) -> FindingOut:
        public_id = await services.publish(principal, finding_id)
        return FindingOut(**_finding_out(await services.view_finding(principal, public_id)))

    @post(
        "/retract",
        summary="Retract a published finding, with the reason shown to readers",
        status_code=200,
        **guarded(finding_manager),
        raises=[Forbidden, NotFound, Conflict, InvalidInput],
    )
    async def retract(
        self, principal: SignedIn, finding_id: FromPath[int], data: JSONBody[RetractIn]
    ) -> FindingOut:
        await services.retract(principal, finding_id, data.reason)
        return FindingOut(**_finding_out(await services.view_finding(principal, finding_id)))


ROUTE_HANDLERS: list[Any] = [
    FindingListController,
    FindingController,
    PilotFindingsController,
    FindingApiController,
    FindingDecisionApiController,
]
