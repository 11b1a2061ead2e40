"""The findings API: run, read, approve, publish, retract, and the district's decision."""

from __future__ import annotations

from datetime import UTC, datetime

from litestar import Controller, Request, get, post
from litestar.params import FromPath, JSONBody

from testbed.access import pilot_viewer
from testbed.auth import (
    PUBLIC,
    SignedIn,
    Viewer,
    guarded,
)
from testbed.errors import Conflict, Forbidden, InvalidInput, NotFound
from testbed.findings import services
from testbed.findings.guards import (
    finding_manager,
    finding_party,
    finding_reader,
    guard_read,
    pilot_analyst,
)
from testbed.findings.schemas import (
    ApprovalIn,
    ApprovalOut,
    FindingOut,
    FindingSummary,
    PublishedFinding,
    RetractIn,
    SiteApproval,
    finding_out,
)


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
        view = await services.view_finding(viewer, finding_id, guard_read(request))
        return FindingOut(**finding_out(view))

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
        return FindingOut(**finding_out(view))


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
        return FindingOut(**finding_out(await services.view_finding(principal, public_id)))

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
        return FindingOut(**finding_out(await services.view_finding(principal, finding_id)))


ROUTE_HANDLERS = [FindingApiController, FindingDecisionApiController]
