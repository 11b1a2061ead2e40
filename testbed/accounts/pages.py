"""Pages for signing in, sign-up, the account page, organizations, invitations, access tokens,
per-pilot roles and the network admin's pages. The same in JSON: api.py."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

from litestar import Controller, Request, get, post
from litestar.params import FromPath, FromQuery, QueryParameter, URLEncodedBody
from litestar.plugins.flash import flash
from litestar.response import Redirect, Template

from testbed.access import organization_admin, organization_member, pilot_access, pilot_manager
from testbed.accounts import addresses, deletion, recovery, services
from testbed.accounts.guards import invited_address
from testbed.accounts.tokens import LinkUsed
from testbed.auth import (
    BEFORE_VERIFICATION,
    PUBLIC,
    Principal,
    SignedIn,
    Viewer,
    access_rule,
    guarded,
    network_admin,
    signed_in,
)
from testbed.errors import InvalidInput, TestbedError
from testbed.sessions import start_session
from testbed.web import client_address, form_errors, form_page, require_confirmation

Form = URLEncodedBody[dict[str, str]]


SESSION_COOKIE = "testbed_session"  # app.create_app's SessionConfig key


def _safe_next(target: str | None) -> str:
    # Only local paths: an open redirect would let a phishing link borrow our domain.
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return "/work"


class SessionController(Controller):
    """Signing in and out."""

    tags = ["accounts"]
    include_in_schema = False
    opt = {**PUBLIC, BEFORE_VERIFICATION: True}

    @get("/login")
    async def login_page(
        self,
        next_page: Annotated[str | None, QueryParameter(name="next")] = None,
        signed_up: FromQuery[bool] = False,
        password_reset: FromQuery[bool] = False,
    ) -> Template:
        return form_page(
            "accounts/login.html.j2",
            values={"next": next_page or ""},
            extra={"signed_up": signed_up, "password_reset": password_reset},
        )

    @post("/login")
    async def login(self, request: Request, data: Form) -> Template | Redirect:
        with form_errors() as outcome:
            user_id = await services.authenticate(
                email=data.get("email", ""),
                password=data.get("password", ""),
                ip_address=client_address(request),
            )
        if outcome.error:
            # Credentials that do not match are a bad request (400), not a field to correct;
            # too many tries keep their 429.
            wrong = isinstance(outcome.error, InvalidInput)
            return form_page(
                "accounts/login.html.j2",
                values=data,
                error=outcome.error,
                status_code=400 if wrong else None,
            )
        old_session = request.cookies.get(SESSION_COOKIE)
        if old_session:
            await request.app.stores.get("sessions").delete(old_session)
        csrf_cookie = start_session(request, user_id)
        return Redirect(_safe_next(data.get("next")), cookies=[csrf_cookie])

    @post("/logout", **guarded(signed_in))
    async def logout(self, request: Request, principal: SignedIn) -> Redirect:
        request.clear_session()
        await services.audit.record(
            "logout", actor_id=principal.user_id, ip_address=client_address(request)
        )
        return Redirect("/")


class SignupController(Controller):
    path = "/signup"
    tags = ["accounts"]
    include_in_schema = False
    opt = {**PUBLIC, BEFORE_VERIFICATION: True}

    @get("/")
    async def signup_page(self) -> Template:
        return form_page("accounts/signup.html.j2", values={})

    @post("/")
    async def signup(self, request: Request, data: Form) -> Template | Redirect:
        with form_errors() as outcome:
            await services.sign_up(
                name=data.get("name", ""),
                email=data.get("email", ""),
                password=data.get("password", ""),
                organization_kind=data.get("organization_kind", ""),
                organization_name=data.get("organization_name", ""),
                state=data.get("state") or None,
                invitation_token=data.get("invitation") or None,
                ip_address=client_address(request),
                settings=request.app.state["settings"],
            )
        if outcome.error:
            template = "accounts/invitation.html.j2" if data.get("invitation") else None
            return form_page(
                template or "accounts/signup.html.j2",
                values=data,
                error=outcome.error,
                extra={"invitation": await _invitation_or_none(data.get("invitation"))},
            )
        # The same answer whether the address was new or already had an account (then nothing
        # was created): no session, sign in next.
        invitation = data.get("invitation")
        follow = f"&next=/invitations/{quote(invitation, safe='')}" if invitation else ""
        return Redirect(f"/login?signed_up=1{follow}")


async def _invitation_or_none(token: str | None) -> dict | None:
    """The invitation if it can still be accepted (the error says why when it cannot)."""
    try:
        return _described(await services.usable_invitation(token)) if token else None
    except TestbedError:
        return None


def _described(invitation: dict) -> dict:
    return {**invitation, "expires_at": services.invitation_expires_at(invitation)}


class AccountController(Controller):
    path = "/account"
    tags = ["accounts"]
    include_in_schema = False
    guards = [signed_in]
    opt = access_rule(signed_in)

    @get("/")
    async def account_page(self, principal: SignedIn) -> Template:
        return await _account_page(principal)

    @post("/tokens")
    async def create_token(self, principal: SignedIn, data: Form) -> Template:
        with form_errors() as outcome:
            _, token = await services.create_access_token(principal, data.get("name", ""))
        if outcome.error:
            return await _account_page(principal, error=outcome.error, values=data)
        return await _account_page(principal, new_token=token)

    @post("/tokens/{token_id:int}/revoke")
    async def revoke_token(
        self, request: Request, principal: SignedIn, token_id: FromPath[int]
    ) -> Redirect:
        await services.revoke_access_token(principal, token_id)
        flash(request, "Token revoked: it no longer works.", category="saved")
        return Redirect("/account#tokens")

    @post("/profile")
    async def update_profile(
        self, request: Request, principal: SignedIn, data: Form
    ) -> Template | Redirect:
        with form_errors() as outcome:
            await services.update_profile(principal, name=data.get("display_name", ""))
        if outcome.error:
            return await _account_page(principal, error=outcome.error, values=data)
        flash(request, "Your profile is saved.", category="saved")
        return Redirect("/account#profile")

    @post("/email", opt={BEFORE_VERIFICATION: True})
    async def change_email(
        self, request: Request, principal: SignedIn, data: Form
    ) -> Template | Redirect:
        with form_errors() as outcome:
            new_email = await addresses.request_email_change(
                principal,
                new_email=data.get("new_email", ""),
                password=data.get("email_password", ""),
                ip_address=client_address(request),
                settings=request.app.state["settings"],
            )
        if outcome.error:
            return await _account_page(principal, error=outcome.error, values=data)
        flash(
            request,
            f"We sent a link to {new_email}. Your address changes when you follow it; "
            "until then it stays as it is.",
            category="saved",
        )
        return Redirect("/account#email")

    @post("/password", opt={BEFORE_VERIFICATION: True})
    async def change_password(
        self, request: Request, principal: SignedIn, data: Form
    ) -> Template | Redirect:
        with form_errors() as outcome:
            await recovery.change_password(
                principal,
                current=data.get("current_password", ""),
                password=data.get("new_password", ""),
                again=data.get("new_password_again", ""),
                session_key=request.cookies.get(SESSION_COOKIE),
                ip_address=client_address(request),
                settings=request.app.state["settings"],
            )
        if outcome.error:
            # The passwords typed are never sent back into the form.
            return await _account_page(principal, error=outcome.error)
        flash(
            request,
            "Password changed. Every other session of your account was signed out.",
            category="saved",
        )
        return Redirect("/account#password")

    @get("/verification")
    async def verification_page(self) -> Template:
        return form_page("accounts/verification.html.j2", values={})

    @post("/verification", opt={BEFORE_VERIFICATION: True})
    async def resend_verification(
        self, request: Request, principal: SignedIn
    ) -> Template | Redirect:
        with form_errors() as outcome:
            await addresses.resend_verification(
                principal,
                ip_address=client_address(request),
                settings=request.app.state["settings"],
            )
        if outcome.error:
            return form_page(
                "accounts/verification.html.j2",
                values={},
                error=outcome.error,
            )
        flash(
            request,
            f"A new link is on its way to {principal.email}; earlier links no longer work.",
            category="saved",
        )
        return Redirect("/account/verification")

    @post("/delete", opt={BEFORE_VERIFICATION: True})
    async def delete_account(self, request: Request, principal: SignedIn, data: Form) -> Template:
        with form_errors() as outcome:
            require_confirmation(data, "delete your account")
            await deletion.delete_account(
                principal,
                password=data.get("delete_password", ""),
                ip_address=client_address(request),
            )
        if outcome.error:
            return await _account_page(principal, error=outcome.error, values=data)
        # Every session of the account ended with it, this one too: an empty session here
        # (the page still reads it for messages) drops this browser's cookie.
        request.set_session({})
        request.scope["user"] = None  # the page around the answer no longer names them
        return Template("accounts/deleted.html.j2")


class VerifyController(Controller):
    """The link mailed to a new address: following it verifies the address."""

    path = "/verify/{verify_token:str}"
    tags = ["accounts"]
    include_in_schema = False
    opt = PUBLIC

    @get("/")
    async def verify(
        self, request: Request, viewer: Viewer, verify_token: FromPath[str]
    ) -> Template:
        try:
            email = await addresses.verify_address(verify_token, ip_address=client_address(request))
        except LinkUsed:
            # A second click, or a mail scanner that opened the link first, used it up: to
            # someone already verified, that is no error.
            if viewer is None or not viewer.verified:
                raise
            email = viewer.email
        return Template("accounts/verified.html.j2", context={"email": email})


class EmailChangeController(Controller):
    """The link mailed to a new address: a page to confirm, then the change."""

    path = "/email/confirm/{change_token:str}"
    tags = ["accounts"]
    include_in_schema = False
    opt = {**PUBLIC, BEFORE_VERIFICATION: True}

    @get("/")
    async def confirm_page(self, change_token: FromPath[str]) -> Template:
        new_email = await addresses.pending_email_change(change_token)
        return Template(
            "accounts/email_confirm.html.j2",
            context={"new_email": new_email, "token": change_token},
        )

    @post("/")
    async def confirm(self, request: Request, change_token: FromPath[str]) -> Redirect:
        new_email = await addresses.confirm_email_change(
            change_token,
            ip_address=client_address(request),
            settings=request.app.state["settings"],
        )
        flash(request, f"Your address is now {new_email}.", category="saved")
        # Signed out, the account page asks to sign in first, where the message shows.
        return Redirect("/account#email")


class PasswordController(Controller):
    """A forgotten password: ask for a link by mail, then choose a new password with it."""

    path = "/password"
    tags = ["accounts"]
    include_in_schema = False
    opt = {**PUBLIC, BEFORE_VERIFICATION: True}

    @get("/forgot")
    async def forgot_page(self) -> Template:
        return form_page("accounts/password_forgot.html.j2", values={})

    @post("/forgot")
    async def forgot(self, request: Request, data: Form) -> Template:
        with form_errors() as outcome:
            await recovery.request_password_reset(
                email=data.get("email", ""),
                ip_address=client_address(request),
                settings=request.app.state["settings"],
            )
        if outcome.error:
            return form_page(
                "accounts/password_forgot.html.j2",
                values=data,
                error=outcome.error,
            )
        # The same page whether or not the address has an account.
        return form_page(
            "accounts/password_forgot.html.j2",
            values={},
            extra={"sent_to": services.normalize_email(data.get("email", ""))},
        )

    @get("/reset/{reset_token:str}")
    async def reset_page(self, reset_token: FromPath[str]) -> Template:
        await recovery.usable_reset(reset_token)
        return form_page("accounts/password_reset.html.j2", values={}, extra={"token": reset_token})

    @post("/reset/{reset_token:str}")
    async def reset(
        self, request: Request, reset_token: FromPath[str], data: Form
    ) -> Template | Redirect:
        with form_errors() as outcome:
            await recovery.reset_password(
                token=reset_token,
                password=data.get("new_password", ""),
                again=data.get("new_password_again", ""),
                ip_address=client_address(request),
                settings=request.app.state["settings"],
            )
        if outcome.error:
            return form_page(
                "accounts/password_reset.html.j2",
                values={},
                error=outcome.error,
                extra={"token": reset_token},
            )
        # Signed out everywhere, this browser included: sign in with the new password.
        request.clear_session()
        return Redirect("/login?password_reset=true")


async def _account_page(
    principal: Principal,
    *,
    new_token: str | None = None,
    error: TestbedError | None = None,
    values: dict | None = None,
) -> Template:
    return form_page(
        "accounts/account.html.j2",
        values={"display_name": principal.name, **(values or {})},
        error=error,
        extra={
            "tokens": await services.list_access_tokens(principal),
            "new_token": new_token,
        },
    )


class OrganizationController(Controller):
    path = "/organizations/{organization_id:int}"
    tags = ["accounts"]
    include_in_schema = False
    guards = [organization_member]
    opt = access_rule(organization_member)

    @get("/members")
    async def members_page(self, principal: SignedIn, organization_id: FromPath[int]) -> Template:
        return await _members_page(principal, organization_id)

    @post("/invitations", **guarded(organization_admin))
    async def invite(
        self,
        request: Request,
        principal: SignedIn,
        organization_id: FromPath[int],
        data: Form,
    ) -> Template:
        with form_errors() as outcome:
            token = await services.create_invitation(
                principal,
                organization_id=organization_id,
                email=data.get("email", ""),
                role=data.get("role", "member"),
                settings=request.app.state["settings"],
            )
        if outcome.error:
            return await _members_page(principal, organization_id, error=outcome.error, values=data)
        return await _members_page(
            principal,
            organization_id,
            invitation_link=services.invitation_link(request.app.state["settings"], token),
        )

    @post(
        "/members/{membership_id:int}/role",
        **guarded(organization_admin),
    )
    async def change_role(
        self,
        principal: SignedIn,
        organization_id: FromPath[int],
        membership_id: FromPath[int],
        data: Form,
    ) -> Redirect:
        await services.change_member_role(
            principal,
            organization_id=organization_id,
            membership_id=membership_id,
            role=data.get("role", ""),
        )
        return Redirect(f"/organizations/{organization_id}/members")


async def _members_page(
    principal: Principal,
    organization_id: int,
    *,
    invitation_link: str | None = None,
    error: TestbedError | None = None,
    values: dict | None = None,
) -> Template:
    members = await services.list_members(principal, organization_id)
    return form_page(
        "accounts/members.html.j2",
        values=values or {},
        error=error,
        extra={
            "organization": await services.get_organization(organization_id),
            "members": members,
            "is_admin": principal.is_network_admin or principal.is_admin_of(organization_id),
            "invitation_link": invitation_link,
        },
    )


class InvitationController(Controller):
    path = "/invitations/{token:str}"
    tags = ["accounts"]
    include_in_schema = False
    opt = PUBLIC

    @get("/")
    async def invitation_page(self, viewer: Viewer, token: FromPath[str]) -> Template | Redirect:
        found = await services.find_invitation(token)
        if found and viewer and viewer.is_member_of(found["organization"]):
            # Already in (for instance just joined through this link): go to the organization.
            return Redirect(f"/organizations/{found['organization']}/members")
        invitation = _described(await services.usable_invitation(token))
        return form_page(
            "accounts/invitation.html.j2",
            values={"email": invitation["email"], "invitation": token},
            extra={"invitation": invitation},
        )

    @post(
        "/accept",
        guards=[invited_address],
        opt={**access_rule(invited_address), BEFORE_VERIFICATION: True},  # it verifies the address
    )
    async def accept(self, principal: SignedIn, token: FromPath[str]) -> Redirect:
        organization_id = await services.accept_invitation(principal, token)
        return Redirect(f"/organizations/{organization_id}/members")


class AdminController(Controller):
    path = "/admin"
    tags = ["admin"]
    include_in_schema = False
    guards = [network_admin]
    opt = access_rule(network_admin)

    @get("/")
    async def admin_page(self, action: FromQuery[str | None] = None) -> Template:
        return Template(
            "accounts/admin.html.j2",
            context={
                "unverified": await services.list_organizations(verified=False),
                "events": await services.audit_events(action=action or None, limit=200),
                "action": action or "",
            },
        )

    @post("/organizations/{organization_id:int}/verify")
    async def verify(self, principal: SignedIn, organization_id: FromPath[int]) -> Redirect:
        await services.verify_organization(principal, organization_id)
        return Redirect("/admin")


class PilotTeamController(Controller):
    path = "/pilots/{pilot_id:int}/team"
    tags = ["pilots"]
    include_in_schema = False
    guards = [pilot_manager]
    opt = access_rule(pilot_manager)

    @get("/")
    async def team_page(self, principal: SignedIn, pilot_id: FromPath[int]) -> Template:
        return await _team_page(principal, pilot_id)

    @post("/")
    async def grant(
        self, principal: SignedIn, pilot_id: FromPath[int], data: Form
    ) -> Template | Redirect:
        (await pilot_access(principal, pilot_id)).require_manage()
        with form_errors() as outcome:
            await services.grant_pilot_role(
                principal, pilot_id, email=data.get("email", ""), role=data.get("role", "")
            )
        if outcome.error:
            return await _team_page(principal, pilot_id, error=outcome.error, values=data)
        return Redirect(f"/pilots/{pilot_id}/team")

    @post("/{role_id:int}/revoke")
    async def revoke(
        self, principal: SignedIn, pilot_id: FromPath[int], role_id: FromPath[int]
    ) -> Redirect:
        (await pilot_access(principal, pilot_id)).require_manage()
        await services.revoke_pilot_role(principal, pilot_id, role_id)
        return Redirect(f"/pilots/{pilot_id}/team")


async def _team_page(
    principal: Principal,
    pilot_id: int,
    *,
    error: TestbedError | None = None,
    values: dict | None = None,
) -> Template:
    access = await pilot_access(principal, pilot_id)
    access.require_manage()
    return form_page(
        "accounts/team.html.j2",
        values=values or {},
        error=error,
        extra={
            "pilot_id": pilot_id,
            "roles": await services.list_pilot_roles(pilot_id),
            "pilot_roles": [(role, role.capitalize()) for role in services.PILOT_ROLES],
        },
    )


ROUTE_HANDLERS = [
    SessionController,
    SignupController,
    AccountController,
    VerifyController,
    EmailChangeController,
    PasswordController,
    OrganizationController,
    InvitationController,
    AdminController,
    PilotTeamController,
]
