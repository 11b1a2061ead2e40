"""How large an upload may be: Litestar's ceiling, and the configured limit checked by the
announced length before the body is read."""

from __future__ import annotations

from litestar import Request
from litestar.connection import ASGIConnection

from testbed.errors import TestbedError
from testbed.settings import Settings

# Litestar refuses larger bodies outright; the configured limit (TESTBED_MAX_UPLOAD_MB,
# 50 MB by default) is checked below it, with a message that names the limit.
UPLOAD_CEILING_BYTES = 1024 * 1024 * 1024
MULTIPART_ALLOWANCE_BYTES = 64 * 1024


def upload_settings(connection: ASGIConnection) -> Settings:
    return connection.app.state["settings"]


def refuse_oversized(request: Request) -> None:
    """Refuse by the announced length, before the body is read."""
    limit = upload_settings(request).max_upload_bytes
    announced = request.headers.get("content-length")
    if announced and announced.isdigit() and int(announced) > limit + MULTIPART_ALLOWANCE_BYTES:
        raise TestbedError(
            f"The file is larger than the limit of {limit / (1024 * 1024):.0f} MB. Split it by "
            "site, or ask the network to raise the limit.",
            status_code=413,
        )
