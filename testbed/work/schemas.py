"""API shapes for "your work" (msgspec Structs)."""

from __future__ import annotations

import msgspec


class WorkItemOut(msgspec.Struct, frozen=True):
    kind: str
    words: str
    link: str
    overdue: bool
