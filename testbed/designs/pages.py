"""Pages for a pilot's design: the editor, power, registration, amendments, verification, the
diff between versions, and randomization per site. The same in JSON: api.py."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Request, Response, get, post
from litestar.datastructures import UploadFile
from litestar.params import FromPath, MultipartBody, QueryParameter, URLEncodedBody
from litestar.plugins.flash import flash
from litestar.response import Redirect, Template

from testbed.access import pilot_viewer
from testbed.auth import Principal, SignedIn, Viewer, access_rule, guarded
from testbed.designs import services
from testbed.designs.document import (
    DESIGN_TYPE_WORDS,
    DIRECTION_WORDS,
    KIND_WORDS,
    UNIT_WORDS,
    form_from_document,
    outcome_row_count,
)
from testbed.designs.guards import design_editor, site_district, site_rows_reader
from testbed.designs.rosters import UPLOAD_BODY_LIMIT
from testbed.designs.schemas import (
    OptionalVersion,
)
from testbed.errors import InvalidInput, TestbedError
from testbed.web import form_errors, form_page, require_confirmation

Form = URLEncodedBody[dict[str, str]]


Upload = MultipartBody[dict[str, Any]]


WORDS = {
    "design_types": DESIGN_TYPE_WORDS,
    "units": UNIT_WORDS,
    "kinds": KIND_WORDS,
    "directions": DIRECTION_WORDS,
}


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


ROUTE_HANDLERS = [DesignPagesController, RandomizationPagesController]
