"""Fuzzing every operation of the app's OpenAPI document with schemathesis: no input, valid or
not, makes the server answer 500, whether the caller is anonymous or a network administrator
with an access token (who reaches every guard's far side). And the document tells the truth:
every status the server answers with is documented for the operation, with the content type and
the schema the answer has (the problem document for errors, the operation's model otherwise).

The operations come from the document the app serves at /schema/openapi.json, so routes added
later are fuzzed without changes here. Schemathesis calls the app in-process, in one event loop
of its own where the app's lifespan (and PostgreSQL's connection pool) also runs; the data are
seeded before that lifespan starts and it is shut down when the module's tests end, so the
other tests get the pool back.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.python import asgi
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from testbed.app import create_app
from testbed.settings import Settings
from tests.conftest import _empty_all_tables
from tests.web.conftest import seed_people

# Hypothesis guesses small ids first: the fuzzer's own token gets one it will not revoke.
FUZZ_TOKEN_ID = 987_654
EXAMPLES_PER_OPERATION = 5

app = create_app(Settings.from_env())
schema = schemathesis.openapi.from_dict(app.openapi_schema.to_schema())
schema.app = app


@dataclass(frozen=True)
class Seeded:
    admin_token: str
    known_ids: dict[str, int]


async def _seed() -> Seeded:
    from testbed.accounts.services import create_access_token
    from testbed.auth import load_principal
    from testbed.tables import AccessToken, Membership, PilotRole

    people = await seed_people()
    token_id, token = await create_access_token(await load_principal(people.admin), "fuzz")
    await AccessToken.update({AccessToken.id: FUZZ_TOKEN_ID}).where(AccessToken.id == token_id)
    membership = (
        await Membership.select(Membership.id).where(Membership.user == people.vendor_user).first()
    )
    role = (
        await PilotRole.select(PilotRole.id).where(PilotRole.pilot == people.active_pilot).first()
    )
    # Objects that exist, by path parameter name, so generated bodies reach the services behind
    # the guards (the fuzzer's own token is left out: revoking it would end the run's reach).
    known_ids = {
        "organization_id": people.vendor,
        "membership_id": membership["id"],
        "pilot_id": people.open_pilot,
        "role_id": role["id"],
        "district_id": people.district,
        "need_id": people.need,
        "product_id": people.product,
    }
    return Seeded(admin_token=token, known_ids=known_ids)


@pytest.fixture(scope="module")
def seeded(migrated_database: Settings) -> Iterator[Seeded]:
    asyncio.run(_empty_all_tables())
    yield asyncio.run(_seed())
    asgi.shutdown_lifespans()


CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


def _call_as_generated_and_on_known_objects(case, seeded: Seeded, headers: dict[str, str]):
    case.call_and_validate(headers=headers, checks=CHECKS)
    if case.path_parameters and any(name in seeded.known_ids for name in case.path_parameters):
        case.path_parameters = {
            name: seeded.known_ids.get(name, value) for name, value in case.path_parameters.items()
        }
        case.call_and_validate(headers=headers, checks=CHECKS)


FUZZ_SETTINGS = settings(
    max_examples=EXAMPLES_PER_OPERATION,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
)


@schema.parametrize()
@FUZZ_SETTINGS
def test_anonymous_callers_get_documented_answers(case, seeded):
    _call_as_generated_and_on_known_objects(case, seeded, headers={})


@schema.parametrize()
@FUZZ_SETTINGS
def test_a_network_admin_gets_documented_answers(case, seeded):
    headers = {"Authorization": f"Bearer {seeded.admin_token}"}
    _call_as_generated_and_on_known_objects(case, seeded, headers=headers)
