"""API shapes for notifications."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

import msgspec

from testbed.tables import RowId


class NotificationOut(msgspec.Struct):
    id: int
    kind: str
    message: str
    link: str
    created_at: datetime
    read_at: datetime | None


class ReadIn(msgspec.Struct):
    notification_id: RowId | None = None  # all of them when left out


class ReadOut(msgspec.Struct):
    marked_read: int
    unread: int


class MailChoiceOut(msgspec.Struct):
    mail: Literal["immediate", "digest", "none"]
    choices: dict[str, str]


class MailChoiceIn(msgspec.Struct, forbid_unknown_fields=True):
    mail: Literal["immediate", "digest", "none"]
