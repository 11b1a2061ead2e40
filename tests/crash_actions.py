"""What test_crash_safety runs in a child process, against the database its environment names
(TESTBED_DATA_DIR for SQLite, DATABASE_URL for PostgreSQL):

    python -m tests.crash_actions seed          migrate, seed the test people, register the
                                                active pilot's design; print ids and a token
    python -m tests.crash_actions register --seed --hang
                                                seed, write the open pilot's design as a draft
                                                and register it with the service function, but
                                                stop inside the registration's transaction: the
                                                version row already has its time and hash, the
                                                audit event is next. Print a line and sleep
                                                there until killed.
    python -m tests.crash_actions register      register the open pilot's draft

Each prints one JSON line on stdout (a child process costs seconds of imports, so one does
as much as it can). Nothing here runs in the service itself: the pause is made by replacing a
function in this process only.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys

os.environ.setdefault("PICCOLO_CONF", "testbed.piccolo_conf")

INSIDE_REGISTRATION = "inside the registration transaction"


def _say(**values) -> None:
    print(json.dumps(values), flush=True)


async def _principal(email: str):
    from testbed.auth import load_principal
    from testbed.tables import User

    user = await User.select(User.id).where(User.email == email).first()
    return await load_principal(user["id"])


async def seed(quiet: bool = False) -> None:
    from testbed.accounts.services import create_access_token
    from testbed.migrate import apply_migrations
    from tests import factories
    from tests.web.conftest import EMAILS, seed_people
    from tests.web.test_uploads import ACTIVE_PILOT_DESIGN

    await apply_migrations()
    people = await seed_people()
    # The active pilot's design, registered (uploads need one); the open pilot gets none.
    await factories.design(people.active_pilot, ACTIVE_PILOT_DESIGN, sha256="0" * 64)
    if quiet:
        return
    district = await _principal(EMAILS["district"])
    _say(
        active_pilot=people.active_pilot,
        open_pilot=people.open_pilot,
        district=people.district,
        district_token=(await create_access_token(district, "crash test"))[1],
    )


async def register(first_seed: bool, hang: bool) -> None:
    from testbed import audit
    from testbed.designs.services import register_draft, save_draft
    from testbed.tables import DesignVersion, Pilot
    from tests.web.conftest import EMAILS
    from tests.web.test_designs import DOCUMENT

    if first_seed:
        await seed(quiet=True)
    vendor = await _principal(EMAILS["vendor"])
    pilot = await Pilot.select(Pilot.id).where(Pilot.status == "open").first()
    if first_seed:
        draft = await save_draft(vendor, pilot["id"], DOCUMENT)
        assert (draft["version"], draft["status"]) == (1, "draft")
    if hang:
        real_record = audit.record

        async def record_then_hang(action, **kwargs):
            # Inside the transaction: this query sees the version as the transaction left it.
            row = (
                await DesignVersion.select(DesignVersion.registered_at, DesignVersion.sha256)
                .where(DesignVersion.pilot == pilot["id"])
                .first()
            )
            _say(
                step=INSIDE_REGISTRATION,
                pilot=pilot["id"],
                action=action,
                registered=row["registered_at"] is not None,
                sha256=row["sha256"],
            )
            await asyncio.sleep(3600)
            await real_record(action, **kwargs)

        audit.record = record_then_hang
    registered = await register_draft(vendor, pilot["id"])
    _say(version=registered["version"], sha256=registered["sha256"])


def main(argv: list[str]) -> None:
    command = argv[0]
    if command == "seed":
        asyncio.run(seed())
    elif command == "register":
        asyncio.run(register(first_seed="--seed" in argv, hang="--hang" in argv))
    else:
        raise SystemExit(f"unknown command {command!r}")


if __name__ == "__main__":
    main(sys.argv[1:])
