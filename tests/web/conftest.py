"""People of every role, a pilot they share, and helpers to sign them in through the pages."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache

import httpx
import pytest
from litestar.testing import TestClient

PASSWORD = "orchard-lantern-velvet-42"
# People made directly in the database have verified their address, unless a test is about that.
VERIFIED_AT = datetime(2026, 1, 5, tzinfo=UTC)


@cache
def password_hash() -> str:
    from testbed.accounts.passwords import hash_password

    return hash_password(PASSWORD)


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
    from testbed.tables import (
        DistrictProfile,
        Enrollment,
        Membership,
        Need,
        Organization,
        Pilot,
        PilotRole,
        Product,
        User,
    )

    async def organization(kind, name, slug, verified=True, state="OR"):
        rows = await Organization.insert(
            Organization(kind=kind, name=name, slug=slug, verified=verified, state=state)
        )
        return rows[0]["id"]

    async def user(email, name, org, role="admin", admin=False):
        rows = await User.insert(
            User(
                email_verified_at=VERIFIED_AT,
                email=email,
                name=name,
                password_hash=password_hash(),
                is_network_admin=admin,
            )
        )
        await Membership.insert(Membership(user=rows[0]["id"], organization=org, role=role))
        return rows[0]["id"]

    network = await organization("network", "Network office", "network", state=None)
    district = await organization("district", "Cedar Hollow Unified", "cedar-hollow")
    vendor = await organization("vendor", "Brightpath Learning", "brightpath")
    research_org = await organization("research", "Northfield Research", "northfield")
    unverified_vendor = await organization("vendor", "Fresh Vendor", "fresh", verified=False)
    other_vendor = await organization("vendor", "Other Co", "otherco")
    people = {
        "admin": await user(EMAILS["admin"], "Ada Admin", network, admin=True),
        "district_user": await user(EMAILS["district"], "Dana District", district),
        "vendor_user": await user(EMAILS["vendor"], "Vic Vendor", vendor),
        "researcher": await user(EMAILS["researcher"], "Rae Researcher", research_org),
        "unverified_user": await user(EMAILS["unverified"], "Una New", unverified_vendor),
        "other_vendor_user": await user(EMAILS["other_vendor"], "Otto Other", other_vendor),
    }
    product = (
        await Product.insert(
            Product(
                vendor=vendor,
                name="MathQuest",
                description="Adaptive practice",
                grade_bands=["g35"],
                subjects=["math"],
                pillars=[2],
                platforms=["chromebook"],
            )
        )
    )[0]["id"]

    async def pilot(status):
        rows = await Pilot.insert(
            Pilot(
                product=product,
                title=f"MathQuest {status} pilot",
                research_question="Does it help?",
                grades=["G04"],
                subjects=["math"],
                pillars=[2],
                sites_wanted=2,
                students_per_site=100,
                weeks=10,
                status=status,
            )
        )
        return rows[0]["id"]

    active, open_, published = await pilot("active"), await pilot("open"), await pilot("published")
    await Enrollment.insert(
        Enrollment(
            pilot=active, district=district, status="site", capacity_students=100, grades=["G04"]
        )
    )
    await PilotRole.insert(PilotRole(pilot=active, user=people["researcher"], role="researcher"))
    await DistrictProfile.insert(
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
    need = await Need.insert(
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
        need=need[0]["id"],
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
