"""People of every role, a pilot they share, and helpers to sign them in through the pages."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import httpx
import pytest
from litestar.testing import TestClient

from tests import factories
from tests.factories import (  # noqa: F401 (the web tests import them here)
    PASSWORD,
    VERIFIED_AT,
    password_hash,
)


@dataclass(frozen=True)
class People:
    admin: int
    district_user: int
    vendor_user: int
    researcher: int
    unverified_user: int
    other_vendor_user: int
    district: int
    vendor: int
    research_org: int
    unverified_vendor: int
    other_vendor: int
    network: int
    product: int
    active_pilot: int
    open_pilot: int
    published_pilot: int
    need: int


EMAILS = {
    "admin": "admin@network.example",
    "district": "coordinator@cedar.example",
    "vendor": "founder@brightpath.example",
    "researcher": "analyst@northfield.example",
    "unverified": "new@fresh-vendor.example",
    "other_vendor": "rival@otherco.example",
}


async def seed_people() -> People:
    from testbed.tables import DistrictProfile, Need

    organization = factories.organization

    async def user(email, name, org, admin=False):
        return await factories.user(email, name, organization=org, is_network_admin=admin)

    network = await organization("network", "Network office", "network", state=None)
    district = await organization("district", "Cedar Hollow Unified", "cedar-hollow", state="OR")
    vendor = await organization("vendor", "Brightpath Learning", "brightpath", state="OR")
    research_org = await organization("research", "Northfield Research", "northfield", state="OR")
    unverified_vendor = await organization(
        "vendor", "Fresh Vendor", "fresh", verified=False, state="OR"
    )
    other_vendor = await organization("vendor", "Other Co", "otherco", state="OR")
    people = {
        "admin": await user(EMAILS["admin"], "Ada Admin", network, admin=True),
        "district_user": await user(EMAILS["district"], "Dana District", district),
        "vendor_user": await user(EMAILS["vendor"], "Vic Vendor", vendor),
        "researcher": await user(EMAILS["researcher"], "Rae Researcher", research_org),
        "unverified_user": await user(EMAILS["unverified"], "Una New", unverified_vendor),
        "other_vendor_user": await user(EMAILS["other_vendor"], "Otto Other", other_vendor),
    }
    product = await factories.product(vendor, "MathQuest")

    async def pilot(status):
        return await factories.pilot(product, status, title=f"MathQuest {status} pilot")

    active, open_, published = await pilot("active"), await pilot("open"), await pilot("published")
    await factories.enrollment(active, district)
    await factories.pilot_role(active, people["researcher"])
    await factories.insert(
        DistrictProfile(
            organization=district,
            nces_lea_id="4199901",
            locale="rural",
            enrollment=1800,
            frl_share=0.52,
            el_share=0.08,
            swd_share=0.14,
            grades_served=["K", "G01", "G02", "G03", "G04", "G05"],
            device_ratio=1.0,
            platforms=["chromebook", "google_classroom"],
            signed_ndpa=True,
        )
    )
    need = await factories.insert(
        Need(
            district=district,
            title="Grade 4 fractions",
            statement="Too many fourth graders end the year unable to compare fractions.",
            pillars=[2],
            grade_band="g35",
            subject="math",
        )
    )
    return People(
        **people,
        district=district,
        vendor=vendor,
        research_org=research_org,
        unverified_vendor=unverified_vendor,
        other_vendor=other_vendor,
        network=network,
        product=product,
        active_pilot=active,
        open_pilot=open_,
        published_pilot=published,
        need=need,
    )


@pytest.fixture
def people(call) -> People:
    return call(seed_people)


def csrf_token(client: TestClient) -> str:
    if "csrftoken" not in client.cookies:
        client.get("/login")
    return client.cookies["csrftoken"]


def post_form(client: TestClient, path: str, data: dict | None = None, **kwargs):
    return client.post(
        path,
        data={**(data or {}), "_csrf_token": csrf_token(client)},
        follow_redirects=False,
        **kwargs,
    )


def sign_in(client: TestClient, role: str) -> None:
    response = post_form(client, "/login", {"email": EMAILS[role], "password": PASSWORD})
    assert response.status_code in (302, 303), response.text


@contextmanager
def other_browser(client: TestClient) -> Iterator[TestClient]:
    """The same app and event loop with an empty cookie jar: a second person's browser.

    (A second TestClient would run in another event loop, which PostgreSQL's pool refuses.)
    """
    saved = httpx.Cookies(client.cookies)
    client.cookies.clear()
    try:
        yield client
    finally:
        client.cookies.clear()
        client.cookies.update(saved)
