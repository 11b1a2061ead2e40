"""Upload jobs hold a lease renewed by a heartbeat; a job whose worker died (its lease passed)
is failed with words at start-up and by the periodic sweep, and its page says so.

Expiry is tested deterministically: the lease is set in the past and the sweep is run (the
SIGKILL itself is in tests/test_crash_safety.py)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from litestar.testing import TestClient

from testbed.app import create_app
from testbed.uploads import leases
from tests import factories
from tests.web.conftest import People, seed_people, sign_in
from tests.web.test_uploads import ACTIVE_PILOT_DESIGN, stored, student_csv, upload_and_follow

PAST = datetime(2026, 1, 1, tzinfo=UTC)


async def _job(people: People, status: str, lease_until: datetime | None) -> int:
    from testbed.tables import UploadJob

    rows = await UploadJob.insert(
        UploadJob(
            pilot=people.active_pilot,
            site=people.district,
            filename="large.csv",
            status=status,
            rows_total=200_000,
            rows_done=50_000,
            created_by=people.district_user,
            lease_until=lease_until,
        )
    )
    return rows[0]["id"]


async def _state(job_id: int) -> dict:
    from testbed.tables import UploadJob

    return (
        await UploadJob.select(UploadJob.status, UploadJob.message, UploadJob.lease_until)
        .where(UploadJob.id == job_id)
        .first()
    )


@pytest.mark.parametrize("status", leases.RUNNING_STATUSES)
def test_a_job_whose_lease_passed_is_failed_with_words_and_its_page_says_so(
    client, call, people, status
):
    job = call(_job, people, status, PAST)
    assert call(leases.fail_interrupted_jobs) == 1
    state = call(_state, job)
    assert (state["status"], state["message"], state["lease_until"]) == (
        "failed",
        leases.INTERRUPTED,
        None,
    )
    sign_in(client, "district")
    page = client.get(f"/uploads/{job}")
    assert "The import was interrupted" in page.text and "upload the file again" in page.text
    assert 'http-equiv="refresh"' not in page.text  # it no longer waits for progress
    assert client.get(f"/api/v1/uploads/{job}").json()["status"] == "failed"


def test_a_job_with_a_live_lease_and_finished_jobs_are_left_alone(client, call, people):
    running = call(_job, people, "importing", datetime.now(UTC) + timedelta(seconds=30))
    done = call(_job, people, "done", PAST)
    failed = call(_job, people, "failed", PAST)
    assert call(leases.fail_interrupted_jobs) == 0
    assert call(_state, running)["status"] == "importing"
    assert call(_state, done)["status"] == "done"
    assert call(_state, failed)["message"] == ""
    # The same job, once its lease has passed.
    later = datetime.now(UTC) + leases.LEASE + timedelta(seconds=1)
    assert call(leases.fail_interrupted_jobs, later) == 1
    assert call(_state, running)["status"] == "failed"


def test_a_job_from_before_leases_is_failed(client, call, people):
    job = call(_job, people, "importing", None)
    assert call(leases.fail_interrupted_jobs) == 1
    assert call(_state, job)["status"] == "failed"


def test_the_service_fails_interrupted_jobs_as_it_starts(settings):
    async def seed() -> int:
        return await _job(await seed_people(), "importing", PAST)

    job = asyncio.run(seed())  # before the service starts, as a killed one left it
    with TestClient(create_app(settings)) as restarted:
        sign_in(restarted, "district")
        assert "The import was interrupted" in restarted.get(f"/uploads/{job}").text


def test_the_heartbeat_renews_the_lease_of_a_running_job_only(client, call, people):
    running = call(_job, people, "importing", PAST)
    done = call(_job, people, "done", None)
    call(leases.renew_lease, running)
    call(leases.renew_lease, done)
    assert call(_state, running)["lease_until"] > datetime.now(UTC) + leases.LEASE / 2
    assert call(_state, done)["lease_until"] is None
    assert call(leases.fail_interrupted_jobs) == 0


async def _register_design(people: People) -> None:
    await factories.design(people.active_pilot, ACTIVE_PILOT_DESIGN, sha256="0" * 64)


def test_an_upload_holds_a_lease_while_it_runs_and_none_once_done(client, call, people):
    call(_register_design, people)
    sign_in(client, "district")
    page = upload_and_follow(client, people, student_csv(20))
    assert "Stored." in page.text
    job = stored(call)["jobs"][-1]
    assert (job["status"], job["lease_until"], job["message"]) == ("done", None, "")
    assert leases.HEARTBEAT < leases.LEASE and leases.SWEEP < leases.LEASE
