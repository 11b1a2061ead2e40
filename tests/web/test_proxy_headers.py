"""X-Forwarded-For is believed only from the proxies in TESTBED_TRUSTED_PROXIES (none by
default): a forged header neither escapes the per-address sign-in limit nor writes a made-up
address into the audit log."""

from __future__ import annotations

import asyncio
from dataclasses import replace

import httpx
import pytest

from testbed.settings import Settings
from tests.web.conftest import EMAILS, PASSWORD, post_form


async def _failed_login_addresses() -> list[str]:
    from testbed.tables import AuditEvent

    rows = await AuditEvent.select(AuditEvent.ip_address).where(AuditEvent.action == "login_failed")
    return [row["ip_address"] for row in rows]


def test_a_forged_forwarded_for_does_not_change_the_address_by_default(client, call, people):
    """20 failed sign-ins, each claiming another X-Forwarded-For: all are counted against the
    real connection, so the 21st (right password, another forged address) is refused, and the
    audit log records the real address, not the forged ones."""
    for number in range(20):
        post_form(
            client,
            "/login",
            {"email": f"guess{number}@x.example", "password": "wrong-wrong-wrong"},
            headers={"X-Forwarded-For": f"203.0.113.{number}"},
        )
    response = post_form(
        client,
        "/login",
        {"email": EMAILS["district"], "password": PASSWORD},
        headers={"X-Forwarded-For": "198.51.100.77"},
    )
    assert response.status_code == 429
    assert "from your network address" in response.text
    assert set(call(_failed_login_addresses)) == {"testclient"}


async def _failed_login_through(settings: Settings, client_address: str, forwarded: str) -> str:
    """Sign in wrongly once from `client_address` (the TCP peer) claiming `forwarded`; return
    the address the audit log recorded."""
    from testbed.app import create_app
    from testbed.tables import AuditEvent

    transport = httpx.ASGITransport(app=create_app(settings), client=(client_address, 4321))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as browser:
        await browser.get("/login")
        response = await browser.post(
            "/login",
            data={
                "email": "nobody@x.example",
                "password": "wrong-wrong-wrong",
                "_csrf_token": browser.cookies["csrftoken"],
            },
            headers={"X-Forwarded-For": forwarded},
        )
        assert response.status_code == 400
    row = (
        await AuditEvent.select(AuditEvent.ip_address)
        .where(AuditEvent.action == "login_failed")
        .order_by(AuditEvent.id, ascending=False)
        .first()
    )
    return row["ip_address"]


def test_a_configured_proxy_is_believed_and_nobody_else(settings):
    """Behind a proxy in TESTBED_TRUSTED_PROXIES the client's address is the one the proxy
    forwards (the last address not itself a trusted proxy); a connection from anywhere else
    keeps its own address whatever it claims."""
    behind_proxy = replace(settings, trusted_proxies=("10.0.0.0/8",))
    forwarded = "198.51.100.1, 203.0.113.9"  # the client forged the first; the proxy added the last
    assert asyncio.run(_failed_login_through(behind_proxy, "10.1.2.3", forwarded)) == "203.0.113.9"
    assert asyncio.run(_failed_login_through(behind_proxy, "192.0.2.50", forwarded)) == "192.0.2.50"
    assert asyncio.run(_failed_login_through(settings, "10.1.2.3", forwarded)) == "10.1.2.3"


def test_trusted_proxies_are_read_from_the_environment_and_checked(tmp_path):
    environ = {"TESTBED_SECRET_KEY": "x", "TESTBED_DATA_DIR": str(tmp_path)}
    assert Settings.from_env(environ).trusted_proxies == ()
    configured = Settings.from_env({**environ, "TESTBED_TRUSTED_PROXIES": "10.0.0.0/8, ::1"})
    assert configured.trusted_proxies == ("10.0.0.0/8", "::1/128")
    with pytest.raises(ValueError, match="'proxy.internal' is neither"):
        Settings.from_env({**environ, "TESTBED_TRUSTED_PROXIES": "10.0.0.1,proxy.internal"})
