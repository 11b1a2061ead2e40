"""The audit log: who did what to which object, when."""

from __future__ import annotations

from typing import Any

from testbed.tables import AuditEvent


async def record(
    action: str,
    *,
    actor_id: int | None = None,
    object_type: str = "",
    object_id: int | str = "",
    detail: dict[str, Any] | None = None,
    ip_address: str = "",
) -> None:
    await AuditEvent.insert(
        AuditEvent(
            actor=actor_id,
            action=action,
            object_type=object_type,
            object_id=str(object_id),
            detail=detail or {},
            ip_address=ip_address,
        )
    )
