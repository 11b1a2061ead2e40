"""The accounts API: who am I, access tokens, organization members and invitations, per-pilot
roles, and the network admin's lists."""

from __future__ import annotations

from litestar import Controller, Request, delete, get, post
from litestar.params import FromPath, FromQuery, JSONBody
from litestar.status_codes import HTTP_204_NO_CONTENT

from testbed.access import organization_admin, organization_member, pilot_access, pilot_manager
from testbed.accounts import services
from testbed.accounts.schemas import (
    AuditEventOut,
    InvitationCreated,
    InvitationIn,
    Me,
    MemberOut,
    MembershipOut,
    OrganizationOut,
    PilotRoleIn,
    PilotRoleOut,
    TokenCreated,
    TokenIn,
    TokenOut,
)
from testbed.auth import (
    Principal,
    SignedIn,
    access_rule,
    guarded,
    network_admin,
    signed_in,
)
from testbed.errors import Conflict, Forbidden, InvalidInput, NotFound
from testbed.tables import MAX_ID


def _me(principal: Principal) -> Me:
    return Me(
        id=principal.user_id,
        email=principal.email,
        name=principal.name,
        is_network_admin=principal.is_network_admin,
        email_verified=principal.verified,
        role=principal.role_label,
        memberships=[MembershipOut(**vars(m)) for m in principal.memberships],
    )


class AccountApiController(Controller):
    path = "/api/v1"
    tags = ["accounts"]
    guards = [signed_in]
    opt = access_rule(signed_in)

    @get("/me", summary="Who am I")
    async def me(self, principal: SignedIn) -> Me:
        return _me(principal)

    @get("/tokens", summary="My personal access tokens")
    async def list_tokens(self, principal: SignedIn) -> list[TokenOut]:
        rows = await services.list_access_tokens(principal)
        return [TokenOut(**row) for row in rows]

    @post("/tokens", summary="Create a personal access token (shown once)", raises=[InvalidInput])
    async def create_token(self, principal: SignedIn, data: JSONBody[TokenIn]) -> TokenCreated:
        token_id, token = await services.create_access_token(principal, data.name)
        return TokenCreated(id=token_id, name=data.name.strip(), token=token)

    @delete(
        "/tokens/{token_id:int}",
        summary="Revoke a personal access token",
        status_code=HTTP_204_NO_CONTENT,
        raises=[NotFound],
    )
    async def revoke_token(self, principal: SignedIn, token_id: FromPath[int]) -> None:
        await services.revoke_access_token(principal, token_id)


class OrganizationApiController(Controller):
    path = "/api/v1/organizations/{organization_id:int}"
    tags = ["accounts"]
    guards = [organization_member]
    opt = access_rule(organization_member)

    @get("/members", summary="Members of an organization", raises=[Forbidden, NotFound])
    async def members(self, principal: SignedIn, organization_id: FromPath[int]) -> list[MemberOut]:
        await services.get_organization(organization_id)
        rows = await services.list_members(principal, organization_id)
        return [MemberOut(**row) for row in rows]

    @post(
        "/invitations",
        summary="Invite a colleague (mails the one-time link, and returns it)",
        **guarded(organization_admin),
        raises=[Forbidden, NotFound, InvalidInput],
    )
    async def invite(
        self,
        request: Request,
        principal: SignedIn,
        organization_id: FromPath[int],
        data: JSONBody[InvitationIn],
    ) -> InvitationCreated:
        await services.get_organization(organization_id)
        token = await services.create_invitation(
            principal,
            organization_id=organization_id,
            email=data.email,
            role=data.role,
            settings=request.app.state["settings"],
        )
        return InvitationCreated(
            email=services.normalize_email(data.email),
            role=data.role,
            link=services.invitation_link(request.app.state["settings"], token),
        )


class PilotRoleApiController(Controller):
    path = "/api/v1/pilots/{pilot_id:int}/roles"
    tags = ["pilots"]
    guards = [pilot_manager]
    opt = access_rule(pilot_manager)

    @get("/", summary="People with a role on a pilot", raises=[NotFound, Forbidden])
    async def list_roles(self, principal: SignedIn, pilot_id: FromPath[int]) -> list[PilotRoleOut]:
        (await pilot_access(principal, pilot_id)).require_manage()
        return [PilotRoleOut(**row) for row in await services.list_pilot_roles(pilot_id)]

    @post(
        "/",
        summary="Give a person a role on a pilot",
        raises=[NotFound, Forbidden, InvalidInput, Conflict],
    )
    async def grant(
        self, principal: SignedIn, pilot_id: FromPath[int], data: JSONBody[PilotRoleIn]
    ) -> list[PilotRoleOut]:
        (await pilot_access(principal, pilot_id)).require_manage()
        await services.grant_pilot_role(principal, pilot_id, email=data.email, role=data.role)
        return [PilotRoleOut(**row) for row in await services.list_pilot_roles(pilot_id)]

    @delete(
        "/{role_id:int}",
        summary="Remove a person's role on a pilot",
        status_code=HTTP_204_NO_CONTENT,
        raises=[NotFound, Forbidden],
    )
    async def revoke(
        self, principal: SignedIn, pilot_id: FromPath[int], role_id: FromPath[int]
    ) -> None:
        (await pilot_access(principal, pilot_id)).require_manage()
        await services.revoke_pilot_role(principal, pilot_id, role_id)


class AdminApiController(Controller):
    path = "/api/v1/admin"
    tags = ["admin"]
    guards = [network_admin]
    opt = access_rule(network_admin)

    @get(
        "/organizations",
        summary="Organizations, optionally only (un)verified ones",
        raises=[Forbidden],
    )
    async def organizations(self, verified: FromQuery[bool | None] = None) -> list[OrganizationOut]:
        rows = await services.list_organizations(verified=verified)
        return [
            OrganizationOut(**{k: row[k] for k in OrganizationOut.__struct_fields__})
            for row in rows
        ]

    @post(
        "/organizations/{organization_id:int}/verify",
        summary="Verify an organization",
        raises=[Forbidden, NotFound],
    )
    async def verify(self, principal: SignedIn, organization_id: FromPath[int]) -> OrganizationOut:
        await services.verify_organization(principal, organization_id)
        row = await services.get_organization(organization_id)
        return OrganizationOut(**{k: row[k] for k in OrganizationOut.__struct_fields__})

    @get("/audit", summary="The security audit log, newest first", raises=[Forbidden])
    async def audit(
        self,
        action: FromQuery[str | None] = None,
        limit: FromQuery[int] = 100,
        offset: FromQuery[int] = 0,
    ) -> list[AuditEventOut]:
        rows = await services.audit_events(
            action=action, limit=max(1, min(limit, 1000)), offset=max(0, min(offset, MAX_ID))
        )
        return [AuditEventOut(**row) for row in rows]


ROUTE_HANDLERS = [
    AccountApiController,
    OrganizationApiController,
    PilotRoleApiController,
    AdminApiController,
]
