"""The designs API: versions, drafts, power, registration, amendments, verification, the REES
export and randomization per site."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, get, post, put
from litestar.params import FromPath, JSONBody, QueryParameter

from testbed.access import pilot_viewer
from testbed.auth import SignedIn, Viewer, access_rule, guarded
from testbed.designs import services
from testbed.designs.guards import design_editor, site_district
from testbed.designs.rosters import UPLOAD_BODY_LIMIT
from testbed.designs.schemas import (
    AmendIn,
    AssignmentOut,
    BaselineCheckOut,
    DesignOut,
    DiffLine,
    DiffOut,
    DraftIn,
    OptionalVersion,
    PowerOut,
    RandomizationOut,
    RegisterIn,
    SiteRandomizationOut,
    VerificationOut,
    VerifyOut,
    VersionOut,
)
from testbed.errors import Conflict, Forbidden, InvalidInput, NotFound


def _version_out(version: dict[str, Any]) -> VersionOut:
    return VersionOut(**{name: version[name] for name in VersionOut.__struct_fields__})


def _power_out(panel: Any) -> PowerOut | None:
    if panel is None:
        return None
    return PowerOut(**{name: getattr(panel, name) for name in PowerOut.__struct_fields__})


def _verification_out(pilot_id: int, version: dict[str, Any]) -> VerificationOut:
    return VerificationOut(
        version=version["version"],
        status=version["status"],
        registered_at=version["registered_at"],
        amendment_reason=version["amendment_reason"],
        document=version["document"],
        canonical_json=version["canonical_json"],
        stored_sha256=version["sha256"],
        recomputed_sha256=version["recomputed_sha256"],
        matches=version["matches"],
        download=f"/pilots/{pilot_id}/design/versions/{version['version']}/canonical.json",
    )


def _assignment_out(summary: dict[str, Any] | None) -> AssignmentOut | None:
    return msgspec.convert(summary, AssignmentOut) if summary else None


def _baseline_out(check: dict[str, Any] | None) -> BaselineCheckOut | None:
    return msgspec.convert(check, BaselineCheckOut) if check else None


class DesignApiController(Controller):
    path = "/api/v1/pilots/{pilot_id:int}"
    tags = ["designs"]
    guards = [pilot_viewer]
    opt = access_rule(pilot_viewer)

    @get(
        "/design",
        summary="The pilot's design: versions, draft, registration, power",
        raises=[NotFound],
    )
    async def get_design(self, viewer: Viewer, pilot_id: FromPath[int]) -> DesignOut:
        page = await services.design_page(viewer, pilot_id)
        return DesignOut(
            pilot_id=pilot_id,
            pilot_title=page["pilot"]["title"],
            draft=_version_out(page["draft"]) if page["draft"] else None,
            registered=_version_out(page["registered"]) if page["registered"] else None,
            versions=[_version_out(v) for v in page["versions"]],
            power=_power_out(page["power"]),
        )

    @put(
        "/design",
        summary="Write the draft (after a registration: an amendment, with a reason)",
        **guarded(design_editor),
        raises=[Forbidden, NotFound, Conflict, InvalidInput],
    )
    async def put_design(
        self, principal: SignedIn, pilot_id: FromPath[int], data: JSONBody[DraftIn]
    ) -> VersionOut:
        saved = await services.save_draft(
            principal,
            pilot_id,
            msgspec.to_builtins(data.document),
            amendment_reason=data.amendment_reason,
            expected_version=data.version,
            base_version=data.base_version,
        )
        return _version_out(saved)

    @post(
        "/design/register",
        summary="Register the draft: freeze it with its SHA-256",
        **guarded(design_editor),
        raises=[Forbidden, NotFound, Conflict, InvalidInput],
    )
    async def register(
        self, principal: SignedIn, pilot_id: FromPath[int], data: JSONBody[RegisterIn]
    ) -> VerificationOut:
        registered = await services.register_draft(
            principal, pilot_id, expected_version=data.version
        )
        return _verification_out(pilot_id, registered)

    @post(
        "/design/amend",
        summary="Start an amendment of the registered design (a reason is required)",
        **guarded(design_editor),
        raises=[Forbidden, NotFound, Conflict, InvalidInput],
    )
    async def amend(
        self, principal: SignedIn, pilot_id: FromPath[int], data: JSONBody[AmendIn]
    ) -> VersionOut:
        document = msgspec.to_builtins(data.document) if data.document else None
        started = await services.start_amendment(principal, pilot_id, data.reason, document)
        return _version_out(started)

    @get("/design/versions", summary="Every version you may see", raises=[NotFound])
    async def versions(self, viewer: Viewer, pilot_id: FromPath[int]) -> list[VersionOut]:
        found = await services.list_versions(viewer, pilot_id)
        return [_version_out(v) for v in found]

    @get(
        "/design/versions/{version:int}",
        summary="One version, with its hash recomputed",
        raises=[NotFound],
    )
    async def version(
        self, viewer: Viewer, pilot_id: FromPath[int], version: FromPath[int]
    ) -> VerificationOut:
        found = await services.get_version(viewer, pilot_id, version)
        return _verification_out(pilot_id, found)

    @get(
        "/design/diff",
        summary="Field-by-field differences between two versions",
        raises=[NotFound],
    )
    async def diff(
        self,
        viewer: Viewer,
        pilot_id: FromPath[int],
        from_version: Annotated[int | None, QueryParameter(name="from", ge=1)] = None,
        to_version: Annotated[int | None, QueryParameter(name="to", ge=1)] = None,
    ) -> DiffOut:
        found = await services.diff_versions(viewer, pilot_id, from_version, to_version)
        return DiffOut(
            from_version=found["from_version"],
            to_version=found["to_version"],
            changes=[DiffLine(c["path"], c["old"], c["new"]) for c in found["changes"]],
        )

    @get("/design/rees", summary="A registration in REES's field groups", raises=[NotFound])
    async def rees(
        self, viewer: Viewer, pilot_id: FromPath[int], version: OptionalVersion = None
    ) -> dict[str, Any]:
        return await services.rees_export(viewer, pilot_id, version)

    @get(
        "/randomization",
        summary="Each site's randomization or baseline check",
        raises=[NotFound],
    )
    async def randomization(self, viewer: Viewer, pilot_id: FromPath[int]) -> RandomizationOut:
        page = await services.randomization_page(viewer, pilot_id)
        return RandomizationOut(
            pilot_id=pilot_id,
            design_type=page["design_type"],
            registered_version=page["design"]["version"] if page["design"] else None,
            sites=[
                SiteRandomizationOut(
                    site_id=site["site_id"],
                    site_name=site["name"],
                    assignment=_assignment_out(site["assignment"]),
                    baseline_check=_baseline_out(site["baseline_check"]),
                )
                for site in page["sites"]
            ],
        )

    @post(
        "/randomization/{site_id:int}",
        summary="Randomize a site from a roster CSV (key[, stratum]) sent as the body",
        **guarded(site_district),
        request_max_body_size=UPLOAD_BODY_LIMIT,
        raises=[Forbidden, NotFound, Conflict, InvalidInput],
    )
    async def randomize(
        self,
        request: Request,
        principal: SignedIn,
        pilot_id: FromPath[int],
        site_id: FromPath[int],
    ) -> AssignmentOut:
        summary = await services.randomize_site(principal, pilot_id, site_id, await request.body())
        return msgspec.convert(summary, AssignmentOut)

    @post(
        "/randomization/{site_id:int}/baseline",
        summary="Check baseline equivalence from a CSV (key, group, baseline) sent as the body",
        **guarded(site_district),
        request_max_body_size=UPLOAD_BODY_LIMIT,
        raises=[Forbidden, NotFound, Conflict, InvalidInput],
    )
    async def baseline(
        self,
        request: Request,
        principal: SignedIn,
        pilot_id: FromPath[int],
        site_id: FromPath[int],
    ) -> BaselineCheckOut:
        check = await services.check_baseline(principal, pilot_id, site_id, await request.body())
        return msgspec.convert(check, BaselineCheckOut)

    @get(
        "/randomization/{site_id:int}/verify",
        summary="Re-run a site's draw and compare",
        raises=[NotFound, Conflict],
    )
    async def verify(
        self, viewer: Viewer, pilot_id: FromPath[int], site_id: FromPath[int]
    ) -> VerifyOut:
        result = await services.verify_site(viewer, pilot_id, site_id)
        return VerifyOut(**{name: result[name] for name in VerifyOut.__struct_fields__})


ROUTE_HANDLERS = [DesignApiController]
