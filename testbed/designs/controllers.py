"""Pages and API for a pilot's design: the editor, power, registration, amendments,
verification, the diff between versions, the REES export, and randomization per site."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, Response, get, post, put
from litestar.connection import ASGIConnection
from litestar.datastructures import UploadFile
from litestar.handlers.base import BaseRouteHandler
from litestar.params import FromPath, JSONBody, MultipartBody, QueryParameter, URLEncodedBody
from litestar.plugins.flash import flash
from litestar.response import Redirect, Template

from testbed.access import pilot_access, pilot_viewer, require_student_rows
from testbed.auth import Principal, SignedIn, Viewer, access_rule, guarded, require_principal
from testbed.designs import services
from testbed.designs.document import (
    DESIGN_TYPE_WORDS,
    DIRECTION_WORDS,
    KIND_WORDS,
    UNIT_WORDS,
    form_from_document,
    outcome_row_count,
)
from testbed.designs.rosters import MAX_UPLOAD_BYTES
from testbed.designs.schemas import (
    AmendIn,
    AssignmentOut,
    BaselineCheckOut,
    DesignOut,
    DiffLine,
    DiffOut,
    DraftIn,
    PowerOut,
    RandomizationOut,
    RegisterIn,
    SiteRandomizationOut,
    VerificationOut,
    VerifyOut,
    VersionOut,
)
from testbed.errors import Conflict, Forbidden, InvalidInput, NotFound, TestbedError
from testbed.web import form_errors, form_page, require_confirmation

Form = URLEncodedBody[dict[str, str]]
Upload = MultipartBody[dict[str, Any]]
# Room for the multipart envelope around the largest accepted file.
UPLOAD_BODY_LIMIT = MAX_UPLOAD_BYTES + 64_000
OptionalVersion = Annotated[int | None, QueryParameter(ge=1)]


# --- guards: they run before the body is read --------------------------------------------------


def _pilot_id(connection: ASGIConnection) -> int:
    return int(connection.path_params["pilot_id"])


async def design_editor(connection: ASGIConnection, _: BaseRouteHandler) -> None:
    access = await pilot_access(require_principal(connection), _pilot_id(connection))
    services.require_edit_design(access)


async def site_district(connection: ASGIConnection, _: BaseRouteHandler) -> None:
    """The site's district (or a network administrator): its rosters and baseline groups."""
    access = await pilot_access(require_principal(connection), _pilot_id(connection))
    services.require_upload_for_site(access, int(connection.path_params["site_id"]))


async def site_rows_reader(connection: ASGIConnection, _: BaseRouteHandler) -> None:
    access = await pilot_access(require_principal(connection), _pilot_id(connection))
    require_student_rows(access, int(connection.path_params["site_id"]))


WORDS = {
    "design_types": DESIGN_TYPE_WORDS,
    "units": UNIT_WORDS,
    "kinds": KIND_WORDS,
    "directions": DIRECTION_WORDS,
}


# --- pages ------------------------------------------------------------------------------------


class DesignPagesController(Controller):
    path = "/pilots/{pilot_id:int}/design"
    tags = ["designs"]
    include_in_schema = False
    guards = [pilot_viewer]
    opt = access_rule(pilot_viewer)

    @get("/")
    async def design_page(self, viewer: Viewer, pilot_id: FromPath[int]) -> Template:
        page = await services.design_page(viewer, pilot_id)
        return Template("designs/design.html.j2", context={**page, **WORDS})

    @get("/edit", **guarded(design_editor))
    async def edit_page(self, principal: SignedIn, pilot_id: FromPath[int]) -> Template:
        return await _editor(principal, pilot_id)

    @post("/edit", **guarded(design_editor))
    async def save(
        self,
        request: Request,
        principal: SignedIn,
        pilot_id: FromPath[int],
        data: Form,
    ) -> Template | Redirect:
        if data.get("add_outcome"):
            rows = str(outcome_row_count(data) + 1)
            return await _editor(principal, pilot_id, values={**data, "outcome_rows": rows})
        version, base_version = data.get("version", ""), data.get("base_version", "")
        with form_errors() as outcome:
            await services.save_draft(
                principal,
                pilot_id,
                data,
                from_form=True,
                amendment_reason=data.get("amendment_reason"),
                expected_version=int(version) if version.isdigit() else None,
                base_version=int(base_version) if base_version.isdigit() else None,
            )
        if outcome.error:
            return await _editor(principal, pilot_id, values=data, error=outcome.error)
        flash(request, "The draft design is saved.", category="saved")
        return Redirect(f"/pilots/{pilot_id}/design")

    @post("/register", **guarded(design_editor))
    async def register(
        self, request: Request, principal: SignedIn, pilot_id: FromPath[int], data: Form
    ) -> Redirect:
        version = data.get("version", "")
        require_confirmation(data, "register this version")
        registered = await services.register_draft(
            principal,
            pilot_id,
            expected_version=int(version) if version.isdigit() else None,
        )
        flash(
            request,
            "The design is registered: this version can no longer change.",
            category="saved",
        )
        return Redirect(f"/pilots/{pilot_id}/design/versions/{registered['version']}")

    @get("/amend", **guarded(design_editor))
    async def amend_page(self, principal: SignedIn, pilot_id: FromPath[int]) -> Template:
        return await _amend_page(principal, pilot_id)

    @post("/amend", **guarded(design_editor))
    async def amend(
        self,
        request: Request,
        principal: SignedIn,
        pilot_id: FromPath[int],
        data: Form,
    ) -> Template | Redirect:
        with form_errors() as outcome:
            await services.start_amendment(principal, pilot_id, data.get("amendment_reason", ""))
        if outcome.error:
            return await _amend_page(principal, pilot_id, values=data, error=outcome.error)
        flash(
            request,
            "The amendment is saved as a new draft; register it when it is ready.",
            category="saved",
        )
        return Redirect(f"/pilots/{pilot_id}/design/edit")

    @get("/versions/{version:int}")
    async def version_page(
        self, viewer: Viewer, pilot_id: FromPath[int], version: FromPath[int]
    ) -> Template:
        return Template(
            "designs/version.html.j2",
            context={
                "pilot": await services.pilot_summary(pilot_id),
                "version": await services.get_version(viewer, pilot_id, version),
                **WORDS,
            },
        )

    @get("/versions/{version:int}/canonical.json")
    async def canonical_download(
        self, viewer: Viewer, pilot_id: FromPath[int], version: FromPath[int]
    ) -> Response[bytes]:
        found = await services.get_version(viewer, pilot_id, version)
        return Response(
            found["canonical_json"].encode("utf-8"),
            media_type="application/json",
            headers={
                "Content-Disposition": (
                    f'attachment; filename="pilot-{pilot_id}-design-v{version}.json"'
                )
            },
        )

    @get("/diff")
    async def diff_page(
        self,
        viewer: Viewer,
        pilot_id: FromPath[int],
        from_version: Annotated[int | None, QueryParameter(name="from", ge=1)] = None,
        to_version: Annotated[int | None, QueryParameter(name="to", ge=1)] = None,
    ) -> Template:
        return Template(
            "designs/diff.html.j2",
            context={
                "pilot": await services.pilot_summary(pilot_id),
                "diff": await services.diff_versions(viewer, pilot_id, from_version, to_version),
            },
        )

    @get("/rees")
    async def rees_page(
        self, viewer: Viewer, pilot_id: FromPath[int], version: OptionalVersion = None
    ) -> Template:
        export = await services.rees_export(viewer, pilot_id, version)
        return Template(
            "designs/rees.html.j2", context={"pilot_id": pilot_id, "rees": export, **WORDS}
        )


async def _editor(
    principal: Principal,
    pilot_id: int,
    *,
    values: dict[str, Any] | None = None,
    error: TestbedError | None = None,
) -> Template:
    state = await services.editor_state(principal, pilot_id)
    if values is None:
        latest = state["latest"]
        values = form_from_document(latest["document"] if latest else None)
        if state["draft"]:
            values["version"] = str(state["draft"]["version"])
            values["amendment_reason"] = state["draft"]["amendment_reason"]
        elif latest:
            # Saving starts an amendment of this registered version, unless someone else has.
            values["base_version"] = str(latest["version"])
    return form_page(
        "designs/edit.html.j2",
        values=values,
        error=error,
        extra={**state, **WORDS, "outcome_rows": outcome_row_count(values)},
    )


async def _amend_page(
    principal: Principal,
    pilot_id: int,
    *,
    values: dict[str, Any] | None = None,
    error: TestbedError | None = None,
) -> Template:
    state = await services.editor_state(principal, pilot_id)
    return form_page(
        "designs/amend.html.j2",
        values=values or {},
        error=error,
        extra=state,
    )


class RandomizationPagesController(Controller):
    path = "/pilots/{pilot_id:int}/randomization"
    tags = ["designs"]
    include_in_schema = False
    guards = [pilot_viewer]
    opt = access_rule(pilot_viewer)

    @get("/")
    async def randomization_page(self, viewer: Viewer, pilot_id: FromPath[int]) -> Template:
        return await _randomization_page(viewer, pilot_id)

    @post(
        "/{site_id:int}/roster",
        **guarded(site_district),
        request_max_body_size=UPLOAD_BODY_LIMIT,
    )
    async def upload_roster(
        self,
        request: Request,
        viewer: Viewer,
        principal: SignedIn,
        pilot_id: FromPath[int],
        site_id: FromPath[int],
        data: Upload,
    ) -> Template | Redirect:
        with form_errors() as outcome:
            await services.randomize_site(
                principal, pilot_id, site_id, await _file_bytes(data, "roster")
            )
        if outcome.error:
            return await _randomization_page(viewer, pilot_id, error=outcome.error, site_id=site_id)
        flash(request, "The roster is uploaded and the site is randomized.", category="saved")
        return Redirect(f"/pilots/{pilot_id}/randomization#site-{site_id}")

    @post(
        "/{site_id:int}/baseline",
        **guarded(site_district),
        request_max_body_size=UPLOAD_BODY_LIMIT,
    )
    async def upload_baseline(
        self,
        request: Request,
        viewer: Viewer,
        principal: SignedIn,
        pilot_id: FromPath[int],
        site_id: FromPath[int],
        data: Upload,
    ) -> Template | Redirect:
        with form_errors() as outcome:
            await services.check_baseline(
                principal, pilot_id, site_id, await _file_bytes(data, "groups")
            )
        if outcome.error:
            return await _randomization_page(viewer, pilot_id, error=outcome.error, site_id=site_id)
        flash(request, "The comparison groups are uploaded.", category="saved")
        return Redirect(f"/pilots/{pilot_id}/randomization#site-{site_id}")

    @get("/{site_id:int}/verify")
    async def verify_page(
        self, viewer: Viewer, pilot_id: FromPath[int], site_id: FromPath[int]
    ) -> Template:
        result = await services.verify_site(viewer, pilot_id, site_id)
        return Template(
            "designs/verify.html.j2",
            context={"pilot": await services.pilot_summary(pilot_id), "result": result},
        )

    @get(
        "/{site_id:int}/assignment.csv",
        **guarded(site_rows_reader),
    )
    async def assignment_download(
        self, principal: SignedIn, pilot_id: FromPath[int], site_id: FromPath[int]
    ) -> Response[str]:
        filename, text = await services.assignment_csv(principal, pilot_id, site_id)
        return Response(
            text,
            media_type="text/csv",
            headers={"Content-Disposition": f'attachment; filename="{filename}"'},
        )


async def _file_bytes(data: dict[str, Any], field: str) -> bytes:
    upload = data.get(field)
    if not isinstance(upload, UploadFile):
        raise InvalidInput(
            "Choose a CSV file to upload.",
            errors=[{"field": field, "message": "Choose a CSV file to upload."}],
        )
    return await upload.read()


async def _randomization_page(
    viewer: Principal | None,
    pilot_id: int,
    *,
    error: TestbedError | None = None,
    site_id: int | None = None,
) -> Template:
    page = await services.randomization_page(viewer, pilot_id)
    return form_page(
        "designs/randomization.html.j2",
        values={},
        error=error,
        extra={**page, "error_site_id": site_id},
    )


# --- JSON API ---------------------------------------------------------------------------------


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


ROUTE_HANDLERS = [DesignPagesController, RandomizationPagesController, DesignApiController]
