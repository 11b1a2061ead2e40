"""Concurrency through HTTP: many uploads to one site at once, and amendments and registrations
of one design racing each other. (50 acceptances of a call with 3 places are in test_matching.)

Every request is sent from its own thread into the one app and event loop (as the concurrent
acceptances do), so they interleave in the services' transactions and locks on SQLite and on
PostgreSQL alike. The invariants are checked in the database afterwards, not only in the
responses.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest

from testbed.designs.canonical import canonical_json
from tests import factories
from tests.web.conftest import People, other_browser, post_form, sign_in
from tests.web.test_designs import DOCUMENT, bearer, design_form, token_for, write_and_register
from tests.web.test_uploads import ACTIVE_PILOT_DESIGN, student_csv

UPLOADS = 20
AMENDERS = 12
REGISTRARS = 4
STORM_SECONDS = 60


def _fire(client, requests: list[dict]) -> list:
    """Send every request at once, each from its own thread: client.request(method, **request)
    with POST unless the request names its "method"."""
    start = threading.Barrier(len(requests))

    def send(request: dict):
        start.wait()
        return client.request(request.pop("method", "POST"), **request)

    with ThreadPoolExecutor(max_workers=len(requests)) as pool:
        return list(pool.map(send, requests))


# --- uploads -------------------------------------------------------------------------------------


async def _register_active_design(pilot_id: int) -> None:
    await factories.design(pilot_id, ACTIVE_PILOT_DESIGN, sha256="0" * 64)


async def _site_data(pilot_id: int, site_id: int) -> dict:
    from testbed.tables import AuditEvent, Dataset, Observation, UploadJob

    datasets = await Dataset.select().where((Dataset.pilot == pilot_id) & (Dataset.site == site_id))
    per_dataset = await Observation.raw(
        "SELECT dataset, COUNT(*) AS n FROM observation GROUP BY dataset"
    )
    return {
        "datasets": datasets,
        "observations": {row["dataset"]: row["n"] for row in per_dataset},
        "jobs": await UploadJob.select().where(UploadJob.site == site_id),
        "audit": await AuditEvent.select()
        .where(AuditEvent.action == "data_upload")
        .output(load_json=True),
    }


def test_twenty_simultaneous_uploads_to_one_site_leave_exactly_one_current_version(
    client, call, people: People
):
    """20 valid files uploaded to one site at the same moment: every upload is stored (201,
    never a 500) as its own version, the versions are 1..20 with none repeated, exactly one
    Dataset of the site is current (the last version) and the other 19 are superseded, every
    Dataset holds exactly its file's rows (nothing mixed between uploads, no orphan rows), and
    each version's hash and row count are its own file's."""
    call(_register_active_design, people.active_pilot)
    headers = {
        "Authorization": f"Bearer {token_for(call, people.district_user)}",
        "Content-Type": "text/csv",
    }
    path = f"/api/v1/pilots/{people.active_pilot}/sites/{people.district}/datasets"
    files = [
        student_csv(4 + number, prefix=f"U{number:02d}-").encode() for number in range(UPLOADS)
    ]
    responses = _fire(
        client,
        [
            {"url": f"{path}?filename=upload-{number}.csv", "content": body, "headers": headers}
            for number, body in enumerate(files)
        ],
    )
    assert [r.status_code for r in responses] == [201] * UPLOADS, [r.text for r in responses]
    jobs = [r.json() for r in responses]
    assert all(job["status"] == "done" for job in jobs)

    stored = call(_site_data, people.active_pilot, people.district)
    datasets = {d["id"]: d for d in stored["datasets"]}
    assert sorted(d["version"] for d in datasets.values()) == list(range(1, UPLOADS + 1))
    current = [d for d in datasets.values() if d["is_current"]]
    assert len(current) == 1
    assert current[0]["version"] == UPLOADS
    # Each response's dataset is its own file: hash and rows; every upload has one (kept under a
    # neutral name, never the one it arrived with).
    assert sorted(job["dataset_id"] for job in jobs) == sorted(datasets)
    for number, (job, body) in enumerate(zip(jobs, files, strict=True)):
        dataset = datasets[job["dataset_id"]]
        assert dataset["sha256"] == hashlib.sha256(body).hexdigest()
        assert dataset["filename"].startswith(f"students-site-{people.district}-")
        assert dataset["row_count"] == 4 + number
    # Every observation belongs to one of these datasets, each holds exactly its row count.
    assert set(stored["observations"]) == set(datasets)
    for dataset_id, dataset in datasets.items():
        assert stored["observations"][dataset_id] == dataset["row_count"]
    assert sorted(job["status"] for job in stored["jobs"]) == ["done"] * UPLOADS
    assert sorted(event["detail"]["version"] for event in stored["audit"]) == list(
        range(1, UPLOADS + 1)
    )

    listed = client.get(
        f"/api/v1/pilots/{people.active_pilot}/datasets",
        headers={"Authorization": headers["Authorization"]},
    ).json()
    assert [d["version"] for d in listed if d["is_current"]] == [UPLOADS]


async def _insert_dataset(pilot_id: int, site_id: int, version: int, is_current: bool) -> None:
    await factories.dataset(
        pilot_id, site_id, 0, version=version, sha256="0" * 64, is_current=is_current
    )


def test_the_database_itself_refuses_a_second_current_version_or_a_repeated_number(
    call, people: People
):
    """Behind the site lock, unique indexes: one version number per site of a pilot, and at most
    one current upload per site of a pilot (superseded ones share it)."""
    pilot, site = people.active_pilot, people.district
    call(_insert_dataset, pilot, site, 1, False)
    call(_insert_dataset, pilot, site, 2, True)
    with pytest.raises(Exception, match="(?i)unique"):
        call(_insert_dataset, pilot, site, 3, True)  # a second current upload
    with pytest.raises(Exception, match="(?i)unique"):
        call(_insert_dataset, pilot, site, 2, False)  # version 2 again
    call(_insert_dataset, pilot, site, 3, False)
    call(_insert_dataset, people.open_pilot, site, 1, True)  # another pilot: its own


# --- designs: registration and amendment ---------------------------------------------------------


async def _design_state(pilot_id: int) -> dict:
    from testbed.tables import AuditEvent, DesignVersion

    versions = (
        await DesignVersion.select()
        .where(DesignVersion.pilot == pilot_id)
        .order_by(DesignVersion.version)
        .output(load_json=True)
    )
    events = (
        await AuditEvent.select(AuditEvent.action, AuditEvent.detail)
        .where(AuditEvent.action.like("design_%"))
        .order_by(AuditEvent.id)
        .output(load_json=True)
    )
    return {"versions": versions, "events": events}


def _amended(number: int) -> dict:
    """The design with one change of its own: the planned students per site."""
    return {**DOCUMENT, "planned_students_per_site": 100 + number}


def _hash_of(document: dict) -> str:
    return hashlib.sha256(canonical_json(document).encode("utf-8")).hexdigest()


def test_simultaneous_registrations_and_amendments_of_one_design_are_serialized(
    client, call, people: People
):
    """A draft registered by 10 requests at once is registered exactly once (one 201, nine 409
    refusals, no 500) with the hash of its document; then 15 amendments started at once open
    exactly one new version (the others are refused with 409 because an amendment is already
    in progress, never overwriting it), and registering that version 10 times at once again
    succeeds once. Versions stay 1, 2; each audit event is written once."""
    pilot = people.active_pilot
    auth = bearer(token_for(call, people.vendor_user))
    saved = client.put(f"/api/v1/pilots/{pilot}/design", json={"document": DOCUMENT}, headers=auth)
    assert saved.status_code == 200, saved.text
    register = {"url": f"/api/v1/pilots/{pilot}/design/register", "headers": auth}

    first = _fire(client, [{**register, "json": {}}] * 10)
    assert sorted(r.status_code for r in first) == [201] + [409] * 9
    assert all("frozen" in r.json()["detail"] for r in first if r.status_code == 409)

    amendments = [
        {
            "url": f"/api/v1/pilots/{pilot}/design/amend",
            "headers": auth,
            "json": {"reason": f"Change number {n}", "document": _amended(n)},
        }
        for n in range(15)
    ]
    started = _fire(client, amendments)
    assert sorted(r.status_code for r in started) == [201] + [409] * 14
    assert all("still a draft" in r.json()["detail"] for r in started if r.status_code == 409)
    winner = next(r.json() for r in started if r.status_code == 201)
    assert winner["version"] == 2

    second = _fire(client, [{**register, "json": {"version": 2}}] * 10)
    assert sorted(r.status_code for r in second) == [201] + [409] * 9

    state = call(_design_state, pilot)
    versions = state["versions"]
    assert [v["version"] for v in versions] == [1, 2]
    assert all(v["registered_at"] is not None for v in versions)
    assert versions[0]["document"] == DOCUMENT
    # The winning amendment is stored as its response said: its reason and its change.
    number = int(versions[1]["amendment_reason"].rsplit(" ", 1)[1])
    assert winner["amendment_reason"] == f"Change number {number}"
    assert versions[1]["document"] == _amended(number)
    assert [v["sha256"] for v in versions] == [_hash_of(v["document"]) for v in versions]
    actions = Counter(event["action"] for event in state["events"])
    assert actions == {
        "design_created": 1,
        "design_registered": 1,
        "design_amendment_started": 1,
        "design_amended": 1,
    }


def test_racing_amenders_and_registrars_lose_no_amendment(client, call, people: People):
    """12 people each amend a registered design with their own change and reason and register
    it, retrying while someone else's amendment is in progress, while 4 others keep registering
    whatever draft there is. Every request ends in success or a clean 409 (never a 500), and
    every amendment that was accepted is in the database as accepted: its own version number
    (all distinct, contiguous 1..13), its own reason and document, registered, with the hash of
    that document. Nothing is lost or overwritten."""
    pilot = people.active_pilot
    write_and_register(client, call, people, pilot)
    auth = bearer(token_for(call, people.vendor_user))
    amend_url = f"/api/v1/pilots/{pilot}/design/amend"
    register_url = f"/api/v1/pilots/{pilot}/design/register"
    codes: Counter[int] = Counter()
    accepted: dict[int, dict] = {}  # amender → the version its successful response named
    lock = threading.Lock()
    done = threading.Event()
    start = threading.Barrier(AMENDERS + REGISTRARS)
    deadline = time.monotonic() + STORM_SECONDS

    def note(response) -> None:
        with lock:
            codes[response.status_code] += 1

    def amender(number: int) -> None:
        start.wait()
        body = {"reason": f"Reason of amender {number}", "document": _amended(number)}
        while time.monotonic() < deadline:
            response = client.post(amend_url, json=body, headers=auth)
            note(response)
            if response.status_code == 201:
                break
            assert response.status_code == 409, response.text
            time.sleep(0.02)
        else:
            pytest.fail(f"amender {number} never got its amendment in")
        version = response.json()
        with lock:
            accepted[number] = version
        registered = client.post(register_url, json={"version": version["version"]}, headers=auth)
        note(registered)
        # 409 only when a registrar registered this very version first.
        assert registered.status_code in (201, 409), registered.text

    def registrar() -> None:
        start.wait()
        while not done.is_set() and time.monotonic() < deadline:
            note(client.post(register_url, json={}, headers=auth))
            time.sleep(0.01)

    with ThreadPoolExecutor(max_workers=AMENDERS + REGISTRARS) as pool:
        registrars = [pool.submit(registrar) for _ in range(REGISTRARS)]
        amenders = [pool.submit(amender, number) for number in range(AMENDERS)]
        try:
            for future in amenders:
                future.result()
        finally:
            done.set()
        for future in registrars:
            future.result()

    assert set(codes) <= {201, 409}, codes
    state = call(_design_state, pilot)
    versions = state["versions"]
    assert [v["version"] for v in versions] == list(range(1, AMENDERS + 2))
    assert all(v["registered_at"] is not None for v in versions)
    assert [v["sha256"] for v in versions] == [_hash_of(v["document"]) for v in versions]
    by_number = {v["version"]: v for v in versions}
    assert len({answer["version"] for answer in accepted.values()}) == AMENDERS
    for number, answer in accepted.items():
        stored = by_number[answer["version"]]
        assert stored["amendment_reason"] == f"Reason of amender {number}"
        assert stored["document"] == _amended(number)
    amended = [e["detail"]["version"] for e in state["events"] if e["action"] == "design_amended"]
    assert sorted(amended) == list(range(2, AMENDERS + 2))
    # The API's own verification agrees: every version's stored hash matches its document.
    for version in versions:
        checked = client.get(
            f"/api/v1/pilots/{pilot}/design/versions/{version['version']}", headers=auth
        )
        assert checked.json()["matches"] is True


def test_simultaneous_amendments_written_as_drafts_do_not_overwrite_each_other(
    client, call, people: People
):
    """10 people each write their own amendment of registered version 1 as the draft (PUT, with
    the registered version they started from) at the same moment: one starts version 2 and the
    other nine are refused with 409, instead of each silently overwriting the draft the
    previous one had just started (which answered 200 "version 2" to all ten and kept only the
    last one's change). The survivor's response, reason and document are what is stored."""
    pilot = people.active_pilot
    write_and_register(client, call, people, pilot)
    auth = bearer(token_for(call, people.vendor_user))
    responses = _fire(
        client,
        [
            {
                "method": "PUT",
                "url": f"/api/v1/pilots/{pilot}/design",
                "headers": auth,
                "json": {
                    "document": _amended(n),
                    "amendment_reason": f"Draft amendment {n}",
                    "base_version": 1,
                },
            }
            for n in range(10)
        ],
    )
    assert sorted(r.status_code for r in responses) == [200] + [409] * 9
    refused = [r.json()["detail"] for r in responses if r.status_code == 409]
    assert all("Someone has started version 2" in detail for detail in refused)
    winner = next(r.json() for r in responses if r.status_code == 200)
    versions = call(_design_state, pilot)["versions"]
    assert [v["version"] for v in versions] == [1, 2]
    assert winner["version"] == 2
    assert versions[1]["amendment_reason"] == winner["amendment_reason"]
    number = int(winner["amendment_reason"].rsplit(" ", 1)[1])
    assert versions[1]["document"] == winner["document"] == _amended(number)


def test_two_editors_amending_in_the_browser_the_second_is_told_not_overwritten(
    client, call, people: People
):
    """The vendor and the researcher both open the editor of a registered design, which offers
    to start version 2. The first to save starts it; the second save is refused (409) with
    words saying someone else started version 2, and the first one's amendment is kept."""
    pilot = people.active_pilot
    write_and_register(client, call, people, pilot)
    sign_in(client, "researcher")
    editor = client.get(f"/pilots/{pilot}/design/edit")
    assert 'name="base_version" value="1"' in editor.text
    with other_browser(client):
        sign_in(client, "vendor")
        assert 'name="base_version" value="1"' in client.get(f"/pilots/{pilot}/design/edit").text
        first = post_form(
            client,
            f"/pilots/{pilot}/design/edit",
            design_form(base_version="1", amendment_reason="Vendor: fewer students"),
        )
        assert first.status_code in (302, 303), first.text
    second = post_form(
        client,
        f"/pilots/{pilot}/design/edit",
        design_form(base_version="1", amendment_reason="Researcher: another outcome"),
    )
    assert second.status_code == 409
    assert "Someone has started version 2 of this design" in second.text
    versions = call(_design_state, pilot)["versions"]
    assert [(v["version"], v["amendment_reason"]) for v in versions] == [
        (1, ""),
        (2, "Vendor: fewer students"),
    ]
    # Reloaded, the editor edits that draft (version 2), as any later save should.
    reloaded = client.get(f"/pilots/{pilot}/design/edit").text
    assert 'name="version" value="2"' in reloaded and 'name="base_version" value=""' in reloaded
