"""Test data, one row a call: each function fills in what a test does not care about, so the
test states only what it is about. Each writes through Piccolo and returns the new row's id;
call them inside the app's event loop (`call` fixture) or `asyncio.run` before any client.

Keyword arguments override any column of the row, e.g. `await pilot(product, status="open",
weeks=4)`.
"""

from __future__ import annotations

import itertools
import secrets
from datetime import UTC, datetime
from functools import cache
from typing import Any

from piccolo.table import Table

PASSWORD = "orchard-lantern-velvet-42"
# People made here have verified their address, unless a test is about that (then it passes
# email_verified_at=None).
VERIFIED_AT = datetime(2026, 1, 5, tzinfo=UTC)
_numbers = itertools.count(1)


@cache
def password_hash() -> str:
    from testbed.accounts.passwords import hash_password

    return hash_password(PASSWORD)


async def insert(row: Table) -> int:
    """Store one row as it is; its id."""
    return (await type(row).insert(row))[0]["id"]


async def organization(
    kind: str = "district", name: str | None = None, slug: str | None = None, **fields: Any
) -> int:
    """A verified organization of this kind (slug and name made up when not given)."""
    from testbed.tables import Organization

    number = next(_numbers)
    fields.setdefault("verified", True)
    return await insert(
        Organization(
            kind=kind,
            name=name or f"Test {kind} {number}",
            slug=slug or f"test-{kind}-{number}",
            **fields,
        )
    )


async def membership(user: int, organization: int, role: str = "admin") -> int:
    from testbed.tables import Membership

    return await insert(Membership(user=user, organization=organization, role=role))


async def user(
    email: str | None = None,
    name: str = "Test Person",
    organization: int | None = None,
    role: str = "admin",
    **fields: Any,
) -> int:
    """A person who signs in with PASSWORD; a member (`role`) of `organization` when given."""
    from testbed.tables import User

    fields.setdefault("password_hash", password_hash())
    fields.setdefault("email_verified_at", VERIFIED_AT)
    user_id = await insert(
        User(email=email or f"person-{secrets.token_hex(6)}@test.example", name=name, **fields)
    )
    if organization is not None:
        await membership(user_id, organization, role)
    return user_id


async def product(vendor: int, name: str = "MathQuest", **fields: Any) -> int:
    from testbed.tables import Product

    defaults = {
        "description": "Adaptive practice",
        "grade_bands": ["g35"],
        "subjects": ["math"],
        "pillars": [2],
        "platforms": ["chromebook"],
    }
    return await insert(Product(vendor=vendor, name=name, **{**defaults, **fields}))


async def pilot(product: int, status: str = "draft", **fields: Any) -> int:
    """A grade 4 math pilot of `product` wanting 2 sites of 100 students for 10 weeks."""
    from testbed.tables import Pilot

    defaults = {
        "title": f"Test {status} pilot {next(_numbers)}",
        "research_question": "Does it help?",
        "grades": ["G04"],
        "subjects": ["math"],
        "pillars": [2],
        "sites_wanted": 2,
        "students_per_site": 100,
        "weeks": 10,
    }
    return await insert(Pilot(product=product, status=status, **{**defaults, **fields}))


async def enrollment(pilot: int, district: int, status: str = "site", **fields: Any) -> int:
    """`district` on `pilot`: by default a site, for 100 grade 4 students."""
    from testbed.tables import Enrollment

    defaults = {"capacity_students": 100, "grades": ["G04"]}
    return await insert(
        Enrollment(pilot=pilot, district=district, status=status, **{**defaults, **fields})
    )


async def pilot_role(pilot: int, user: int, role: str = "researcher") -> int:
    """Written directly, as a role granted before roles were checked would be."""
    from testbed.tables import PilotRole

    return await insert(PilotRole(pilot=pilot, user=user, role=role))


async def design(
    pilot: int, document: dict[str, Any], version: int = 1, registered: bool = True, **fields: Any
) -> int:
    """A design version: registered now, with its document's SHA-256, or a draft."""
    from testbed.designs.canonical import canonical_sha256
    from testbed.tables import DesignVersion

    if registered:
        fields.setdefault("registered_at", datetime.now(UTC))
        fields.setdefault("sha256", canonical_sha256(document))
    return await insert(DesignVersion(pilot=pilot, version=version, document=document, **fields))


async def assignment(pilot: int, site: int, drawn: Any, **fields: Any) -> int:
    """The randomization `drawn` (analysis.randomization.assign) stored for one site; `arms=`
    stores other arms under its seed and algorithm."""
    from testbed.tables import Assignment

    fields.setdefault("arms", drawn.mapping)
    return await insert(
        Assignment(pilot=pilot, site=site, seed=drawn.seed, algorithm=drawn.algorithm, **fields)
    )


async def dataset(pilot: int, site: int, row_count: int, **fields: Any) -> int:
    """The site's current student-level dataset, version 1, with a random checksum."""
    from testbed.tables import Dataset

    fields.setdefault("version", 1)
    fields.setdefault("sha256", secrets.token_hex(32))
    return await insert(Dataset(pilot=pilot, site=site, row_count=row_count, **fields))


async def invitation(organization: int, email: str, invited_by: int, **fields: Any) -> int:
    """An open invitation to `organization` (a made-up token hash: nobody follows its link)."""
    from testbed.tables import Invitation

    fields.setdefault("token_hash", secrets.token_hex(32))
    return await insert(
        Invitation(organization=organization, email=email, invited_by=invited_by, **fields)
    )


async def notification(user: int, message: str = "Something happened", **fields: Any) -> int:
    """An unread notification for `user` linking to the home page."""
    from testbed.tables import Notification

    fields.setdefault("kind", "match")
    fields.setdefault("link", "/")
    return await insert(Notification(user=user, message=message, **fields))
