"""Fuzzing every operation of the app's OpenAPI document with schemathesis and all its default
checks: no input, valid or not, makes the server answer 500, whether the caller is anonymous or
a network administrator with an access token (who reaches every guard's far side). And the
document tells the truth: every status the server answers with is documented for the operation,
with the content type and the schema the answer has (the problem document for errors, the
operation's model otherwise); a method the path does not have is a 405 with `Allow` (RFC 9110),
and OPTIONS lists every method; input the schema forbids is refused.

Input the schema allows is accepted, with one stated exception: a write may be refused with 422
for what no schema can say (an address with no account, a district that is not verified, an
empty title). Reads have no such excuse: a list operation answers every schema-valid filter,
page and page size (`reads_accept_what_their_schema_allows`).

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
from schemathesis.config import PositiveDataAcceptanceConfig
from schemathesis.core.failures import Failure
from schemathesis.python import asgi

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
# NUL is refused in every text with a 400, as the document's 400 says (testbed/edge.py).
schema.config.generation.allow_x00 = False
schema.config.checks.positive_data_acceptance = PositiveDataAcceptanceConfig(
    expected_statuses=["2xx", "3xx", "401", "403", "404", "409", "422", "429"]
)


def reads_accept_what_their_schema_allows(ctx, response, case) -> bool | None:
    positive = case.meta is not None and case.meta.generation.mode.is_positive
    if positive and case.method == "GET" and response.status_code in (400, 422):
        raise Failure(
            operation=case.operation.label,
            title="Schema-valid read refused",
            message=f"GET answered {response.status_code} to input its schema allows: "
            f"{response.text[:300]}",
        )
    return None


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


CHECKS = [reads_accept_what_their_schema_allows]  # on top of schemathesis' defaults


def _call_as_generated_and_on_known_objects(case, seeded: Seeded, headers: dict[str, str]):
    case.call_and_validate(headers=headers, additional_checks=CHECKS)
    if case.path_parameters and any(name in seeded.known_ids for name in case.path_parameters):
        case.path_parameters = {
            name: seeded.known_ids.get(name, value) for name, value in case.path_parameters.items()
        }
        case.call_and_validate(headers=headers, additional_checks=CHECKS)


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
