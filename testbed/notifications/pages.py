"""The notifications page (the menu's unread count comes with the principal), each person's
choice of notification mail, and one-click unsubscribe from mail. The same in JSON: api.py."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get, post
from litestar.params import FromPath, URLEncodedBody
from litestar.plugins.flash import flash
from litestar.response import Redirect, Template

from testbed.auth import PUBLIC, SignedIn, access_rule, signed_in
from testbed.errors import InvalidInput, NotFound
from testbed.notifications import mailing, services
from testbed.web import form_errors, form_page


def _notification_id(value: object) -> int | None:
    if value in (None, ""):
        return None
    try:
        return int(str(value))
    except ValueError:
        raise InvalidInput("That is not a notification.") from None


class NotificationController(Controller):
    path = "/notifications"
    tags = ["notifications"]
    include_in_schema = False
    guards = [signed_in]
    opt = access_rule(signed_in)

    @get("/")
    async def notifications_page(self, principal: SignedIn) -> Template:
        items = await services.notifications_for(principal)
        return Template("notifications/index.html.j2", context={"notifications": items})

    @post("/read")
    async def mark_read(
        self, principal: SignedIn, data: URLEncodedBody[dict[str, Any]]
    ) -> Redirect:
        await services.mark_read(principal, _notification_id(data.get("notification_id")))
        return Redirect("/notifications")


SETTINGS_PAGE = "notifications/settings.html.j2"


SAVED_WORDS = {
    "immediate": "Saved: you will get a mail for each notification that needs your action.",
    "digest": "Saved: you will get one digest mail a day when something needs your action.",
    "none": "Saved: you will get no notification mail; notifications stay on this site.",
}


class MailChoiceController(Controller):
    path = "/account/notifications"
    tags = ["notifications"]
    include_in_schema = False
    guards = [signed_in]
    opt = access_rule(signed_in)

    @get("/")
    async def settings_page(self, principal: SignedIn) -> Template:
        choice = await mailing.mail_choice(principal.user_id)
        return form_page(SETTINGS_PAGE, values={"mail": choice}, extra=_page_context())

    @post("/")
    async def save_settings(
        self, request: Request, principal: SignedIn, data: URLEncodedBody[dict[str, Any]]
    ) -> Template | Redirect:
        with form_errors() as outcome:
            choice = await mailing.set_mail_choice(principal.user_id, str(data.get("mail", "")))
        if outcome.error:
            return form_page(
                SETTINGS_PAGE,
                values={"mail": ""},
                error=outcome.error,
                extra=_page_context(),
            )
        flash(request, SAVED_WORDS[choice], category="saved")
        return Redirect("/account/notifications")


def _page_context() -> dict[str, Any]:
    return {"choices": mailing.CHOICES, "default_choice": mailing.DEFAULT_CHOICE}


class UnsubscribeController(Controller):
    """One-click unsubscribe (RFC 8058). The token in the address is the authentication: no
    session and no CSRF token (app.py exempts this path from the CSRF check), since the POST
    comes from a mail program. GET only shows a button: mail scanners fetch links."""

    path = "/unsubscribe/{unsubscribe_token:str}"
    include_in_schema = False
    opt = PUBLIC

    @get("/")
    async def unsubscribe_page(
        self, request: Request, unsubscribe_token: FromPath[str]
    ) -> Template:
        user_id = await _unsubscribing(request, unsubscribe_token)
        return Template(
            "notifications/unsubscribe.html.j2",
            context={
                "token": unsubscribe_token,
                "choice_words": mailing.CHOICES[await mailing.mail_choice(user_id)],
                "done": False,
            },
        )

    @post("/", status_code=200)
    async def unsubscribe(self, request: Request, unsubscribe_token: FromPath[str]) -> Template:
        user_id = await _unsubscribing(request, unsubscribe_token)
        await mailing.set_mail_choice(user_id, "none")
        return Template(
            "notifications/unsubscribe.html.j2",
            context={"token": unsubscribe_token, "done": True},
        )


async def _unsubscribing(request: Request, token: str) -> int:
    user_id = await mailing.person_for_unsubscribe_token(token, request.app.state["settings"])
    if user_id is None:
        raise NotFound(
            "This unsubscribe link is not valid: check that the whole address was copied, or "
            "sign in and choose your notification mail on your account page."
        )
    return user_id


ROUTE_HANDLERS = [NotificationController, MailChoiceController, UnsubscribeController]
