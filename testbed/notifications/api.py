"""The notifications API and each person's choice of notification mail, in JSON."""

from __future__ import annotations

from litestar import Controller, get, post, put
from litestar.params import JSONBody

from testbed.auth import SignedIn, access_rule, signed_in
from testbed.errors import InvalidInput, NotFound
from testbed.notifications import mailing, services
from testbed.notifications.schemas import (
    MailChoiceIn,
    MailChoiceOut,
    NotificationOut,
    ReadIn,
    ReadOut,
)


class NotificationApiController(Controller):
    path = "/api/v1/notifications"
    tags = ["notifications"]
    guards = [signed_in]
    opt = access_rule(signed_in)

    @get("/", summary="My notifications, newest first")
    async def list_notifications(self, principal: SignedIn) -> list[NotificationOut]:
        rows = await services.notifications_for(principal)
        return [NotificationOut(**row) for row in rows]

    @post(
        "/read", summary="Mark one notification (or all) read", status_code=200, raises=[NotFound]
    )
    async def mark_read(self, principal: SignedIn, data: JSONBody[ReadIn]) -> ReadOut:
        marked = await services.mark_read(principal, data.notification_id)
        return ReadOut(marked_read=marked, unread=await services.unread_count(principal.user_id))


class MailChoiceApiController(Controller):
    path = "/api/v1/me/notification-mail"
    tags = ["notifications"]
    guards = [signed_in]
    opt = access_rule(signed_in)

    @get("/", summary="How my action-needed notifications are mailed")
    async def get_choice(self, principal: SignedIn) -> MailChoiceOut:
        choice = await mailing.mail_choice(principal.user_id)
        return MailChoiceOut(mail=choice, choices=mailing.CHOICES)  # type: ignore[arg-type]

    @put(
        "/",
        summary="Choose immediate mail, a daily digest or no mail",
        raises=[InvalidInput],
    )
    async def set_choice(self, principal: SignedIn, data: JSONBody[MailChoiceIn]) -> MailChoiceOut:
        choice = await mailing.set_mail_choice(principal.user_id, data.mail)
        return MailChoiceOut(mail=choice, choices=mailing.CHOICES)  # type: ignore[arg-type]


ROUTE_HANDLERS = [NotificationApiController, MailChoiceApiController]
