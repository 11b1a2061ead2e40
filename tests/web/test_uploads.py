"""Outcome data through HTTP: uploading, fixing and re-uploading, every validation rule with a
bad file, privacy, supersession, a killed import, aggregates, attrition, suppression, the
template, the API and who may do what."""

from __future__ import annotations

import csv
import io
import json
import re
import zipfile
from datetime import UTC, datetime
from urllib.parse import urlsplit

import numpy as np
import openpyxl
import pytest

from analysis.wwc import attrition
from testbed.designs.services import registered_design as registered_design_of
from testbed.uploads import services
from tests import factories
from tests.web.conftest import People, other_browser, post_form, sign_in

# The active pilot's registered design: a student RCT with a baseline and two outcomes.
ACTIVE_PILOT_DESIGN = {
    "design_type": "rct",
    "unit_of_assignment": "student",
    "arms": ["treatment", "control"],
    "outcomes": [
        {
            "name": "math_scale_score",
            "label": "Spring math scale score",
            "kind": "continuous",
            "primary": True,
            "direction": "higher_is_better",
            "instrument": "District interim assessment",
            "unit": "scale score points",
            "min": 100,
            "max": 300,
        },
        {
            "name": "met_benchmark",
            "label": "Met the benchmark",
            "kind": "binary",
            "primary": False,
            "direction": "higher_is_better",
            "instrument": "Spring score against the benchmark",
            "unit": "share of students",
            "min": 0,
            "max": 1,
        },
    ],
    "baseline_measure": "fall_math_scale_score",
    "subgroups": ["frl", "el", "swd"],
    "minimum_meaningful_effect": 0.2,
    "icc": 0.2,
    "planned_sites": 2,
    "planned_students_per_site": 100,
    "analysis_plan": {"covariates": ["baseline"], "alpha": 0.05},
}


@pytest.fixture(autouse=True)
def registered_design(call, people: People) -> None:
    """The active pilot's design, registered: uploads need one."""
    call(factories.design, people.active_pilot, ACTIVE_PILOT_DESIGN, sha256="0" * 64)


HEADER = (
    "student_key,arm,cluster,frl,el,swd,gender,race_ethnicity,baseline,dosage,"
    "math_scale_score,met_benchmark"
)


def student_csv(rows: int = 30, *, missing_every: int = 0, prefix: str = "S", extra=None) -> str:
    """A valid file for the seeded design: alternating arms, a few missing outcomes."""
    lines = [HEADER]
    for number in range(rows):
        arm = "treatment" if number % 2 else "control"
        missing = missing_every and number % missing_every == 0
        # Every fourth score is 2 points off the baseline's line, so the outcome is not an
        # exact function of the baseline (such a file is refused).
        score = "" if missing else f"{180 + number % 50 + 2 * (number % 4 == 3)}.5"
        met = "" if missing else str(int(180 + number % 50 >= 200))
        lines.append(
            f"{prefix}{number:05d},{arm},room-{number % 3 + 1},yes,no,no,f,white,"
            f"{170 + number % 40},{number * 10},{score},{met}"
        )
    if extra:
        lines.extend(extra)
    return "\n".join(lines) + "\n"


def upload(client, people: People, content: str | bytes, *, kind="students", filename="a.csv"):
    body = content.encode() if isinstance(content, str) else content
    return post_form(
        client,
        f"/pilots/{people.active_pilot}/sites/{people.district}/upload",
        {"kind": kind},
        files={"file": (filename, body, "text/csv")},
    )


def upload_and_follow(client, people, content, **kwargs):
    response = upload(client, people, content, **kwargs)
    assert response.status_code in (302, 303), response.text
    assert re.fullmatch(r"/uploads/\d+", response.headers["location"])
    return client.get(response.headers["location"])


async def _table_rows():
    from testbed.tables import Dataset, Observation, SummaryRow, UploadJob

    return {
        "datasets": await Dataset.select().order_by(Dataset.id),
        "observations": await Observation.select(),
        "summaries": await SummaryRow.select(),
        "jobs": await UploadJob.select().order_by(UploadJob.id).output(load_json=True),
    }


def stored(call) -> dict:
    return call(_table_rows)


# --- the journey: upload, fix, re-upload ----------------------------------------------------------


def test_coordinator_uploads_a_good_file_and_sees_attrition(client, call, people):
    sign_in(client, "district")
    page = upload_and_follow(client, people, student_csv(40, missing_every=5))
    assert page.status_code == 200
    assert "Stored." in page.text
    assert "Attrition at this site" in page.text
    assert "overall attrition 20.0 %" in page.text

    rows = stored(call)
    assert len(rows["datasets"]) == 1
    dataset = rows["datasets"][0]
    assert (dataset["version"], dataset["row_count"], dataset["is_current"]) == (1, 40, True)
    assert dataset["uploaded_by"] == people.district_user
    assert len(dataset["sha256"]) == 64
    assert len(rows["observations"]) == 40
    first = next(o for o in rows["observations"] if o["baseline"] == 170)
    assert first["arm"] == "control" and first["frl"] is True and first["dosage"] == 0


def test_raw_student_keys_appear_nowhere_in_the_database(client, call, people):
    sign_in(client, "district")
    upload_and_follow(client, people, student_csv(20, prefix="RAWKEY-"))
    rows = stored(call)
    keys = [o["student_key"] for o in rows["observations"]]
    assert all(re.fullmatch(r"[0-9a-f]{64}", key) for key in keys)
    assert len(set(keys)) == 20
    everything = repr(rows)
    assert "RAWKEY-" not in everything


def test_keys_hash_the_same_within_a_pilot_and_differently_across_pilots():
    from testbed.uploads.pseudonymize import pilot_key, pseudonymizer

    one = pseudonymizer(pilot_key("secret", 1))
    two = pseudonymizer(pilot_key("secret", 2))
    assert one(["S1"]) == one(["S1"])
    assert one(["S1"]) != two(["S1"])


def test_fix_and_reupload_supersedes_the_first_version(client, call, people):
    sign_in(client, "district")
    bad = student_csv(10, extra=["S00003,treatment,room-1,yes,no,no,f,white,180,0,999,1"])
    failed = upload_and_follow(client, people, bad)
    assert "Nothing was stored" in failed.text
    assert "the same student key as row 5" in failed.text.lower()
    assert stored(call)["datasets"] == []

    upload_and_follow(client, people, student_csv(10))
    upload_and_follow(client, people, student_csv(12, prefix="T"))
    rows = stored(call)
    versions = [(d["version"], d["is_current"], d["row_count"]) for d in rows["datasets"]]
    assert versions == [(1, False, 10), (2, True, 12)]
    current_id = rows["datasets"][1]["id"]
    assert sum(o["dataset"] == current_id for o in rows["observations"]) == 12

    page = client.get(f"/pilots/{people.active_pilot}/data")
    assert page.status_code == 200
    assert "Superseded uploads" in page.text
    # Counts use the current version only: 12 rows, 6 per arm, never 10 + 12.
    counts = call(
        services.site_arm_counts,
        people.active_pilot,
        call(registered_design_of, people.active_pilot),
        call(services.pilot_datasets, people.active_pilot),
    )
    site = counts[people.district]
    assert (site["treatment"].randomized, site["control"].randomized) == (6, 6)


# --- validation: every rule with a bad file; nothing stored ---------------------------------------


def _problems(page) -> list[tuple[str, str, str]]:
    return re.findall(r"<tr><td>([^<]*)</td><td>([^<]*)</td><td>([^<]*)</td></tr>", page.text)


BAD_FILES = {
    "unknown column": (
        student_csv(3).replace("dosage,", "usage_minutes,", 1),
        ("1", "usage_minutes", "Unknown column"),
    ),
    "missing column": (
        "\n".join(
            ",".join(cells[:-1])
            for cells in (line.split(",") for line in student_csv(3).split("\n"))
        ),
        ("1", "met_benchmark", "Missing column"),
    ),
    "wrong type": (
        student_csv(3).replace(
            "\nS00001,treatment,room-2,yes,no,no,f,white,171,10,181.5",
            "\nS00001,treatment,room-2,yes,no,no,f,white,171,10,high",
        ),
        ("3", "math_scale_score", "Not a number"),
    ),
    "out of range": (
        student_csv(3).replace(",181.5,", ",381.5,"),
        ("3", "math_scale_score", "Above the maximum, 300"),
    ),
    "binary not 0 or 1": (
        student_csv(3).replace(",181.5,0", ",181.5,2"),
        ("3", "met_benchmark", "Above the maximum, 1"),
    ),
    "duplicate key": (
        student_csv(3, extra=["S00001,control,room-1,no,no,no,m,white,170,0,190,0"]),
        ("5", "student_key", "The same student key as row 3."),
    ),
    "bad flag": (
        student_csv(3).replace(",yes,no,no,f", ",maybe,no,no,f", 1),
        ("2", "frl", "Not yes, no, 1, 0 or blank"),
    ),
    "unknown arm": (
        student_csv(3).replace(",treatment,", ",placebo,", 1),
        ("3", "arm", "Not an arm of this design"),
    ),
    "short row": (
        student_csv(3, extra=["S00009,control,room-1"]),
        ("5", "–", "This row has 3 cells; the header has 12."),
    ),
    "outcome copied from the baseline": (
        "\n".join(
            [HEADER]
            + [
                f"B{n:05d},{'treatment' if n % 2 else 'control'},room-{n % 3 + 1},yes,no,no,f,"
                f"white,{170 + n % 40},{n * 10},{170 + n % 40},{int(n % 40 >= 20)}"
                for n in range(30)
            ]
        )
        + "\n",
        ("–", "math_scale_score", "almost exactly a straight-line function of the baseline"),
    ),
    "empty file": ("", ("–", "–", "The file is empty.")),
    # Python's CSV reader stops at 131,072 characters a cell: the job used to fail with a
    # generic message. Refused up front, by row and column, with the limit in words.
    "cell too long": (
        student_csv(3).replace("room-2", "r" * 131_073, 1),
        ("3", "cluster", "longer than 10,000 characters, the most a cell may have"),
    ),
    "too many columns": (
        student_csv(3).replace(HEADER, HEADER + ",extra" * 600, 1),
        ("1", "#501", "The header has 612 columns; a file may have at most 500."),
    ),
    "header only": (HEADER + "\n", ("–", "–", "The file has a header but no rows of data.")),
}


@pytest.mark.parametrize("case", list(BAD_FILES))
def test_each_validation_rule_reports_row_and_column_and_stores_nothing(client, call, people, case):
    content, expected = BAD_FILES[case]
    sign_in(client, "district")
    page = upload_and_follow(client, people, content)
    assert "Nothing was stored" in page.text
    found = _problems(page)
    assert any(
        row == expected[0] and column == expected[1] and expected[2] in message
        for row, column, message in found
    ), found
    rows = stored(call)
    assert rows["datasets"] == [] and rows["observations"] == []
    assert rows["jobs"][-1]["status"] == "failed"


def test_wrong_encoding_names_the_byte_and_row(client, call, people):
    sign_in(client, "district")
    content = student_csv(3).encode("utf-8").replace(b"white", "whité".encode("latin-1"), 1)
    page = upload_and_follow(client, people, content)
    assert "not UTF-8 text" in page.text
    assert "(row 2)" in page.text and "0xE9" in page.text
    assert stored(call)["datasets"] == []


def test_a_utf8_byte_order_mark_is_accepted(client, call, people):
    sign_in(client, "district")
    page = upload_and_follow(client, people, b"\xef\xbb\xbf" + student_csv(4).encode())
    assert "Stored." in page.text


def test_a_file_over_the_size_limit_is_refused(client, call, people, app):
    app.state["settings"] = _with_limit(app.state["settings"], 2_000)
    sign_in(client, "district")
    page = upload_and_follow(client, people, student_csv(100))
    assert "the limit is 0.0 MB" in page.text or "the limit is" in page.text
    assert stored(call)["datasets"] == []


def _with_limit(settings, max_bytes: int):
    from dataclasses import replace

    return replace(settings, max_upload_bytes=max_bytes)


def test_identifier_columns_are_refused_by_name(client, call, people):
    sign_in(client, "district")
    lines = student_csv(3).strip().split("\n")
    content = "\n".join(
        ["Student Name,E-mail,DOB," + lines[0]]
        + [f"Ann Example,ann@example.org,2014-03-02,{line}" for line in lines[1:]]
    )
    page = upload_and_follow(client, people, content)
    found = {column for _, column, message in _problems(page) if "direct identifier" in message}
    assert found == {"Student Name", "E-mail", "DOB"}
    assert "student_key" not in found
    assert "Ann Example" not in page.text and "ann@example.org" not in page.text
    assert stored(call)["datasets"] == []


def test_problems_are_listed_up_to_100_with_the_count(client, call, people):
    sign_in(client, "district")
    content = student_csv(150).replace(",yes,no,no,", ",oui,no,no,")
    page = upload_and_follow(client, people, content)
    assert "The file has 150 problems (the first 100 are listed)" in page.text
    assert len(_problems(page)) == 100
    assert "… and 50 more." in page.text


def test_arms_must_agree_with_the_stored_randomization(client, call, people):
    from testbed.tables import Assignment

    async def randomize():
        arms = {f"S{n:05d}": ("treatment" if n % 2 else "control") for n in range(6)}
        arms["S00004"] = "treatment"  # the file below says control
        await factories.insert(
            Assignment(
                pilot=people.active_pilot, site=people.district, seed=1, algorithm="test", arms=arms
            )
        )

    call(randomize)
    sign_in(client, "district")
    page = upload_and_follow(client, people, student_csv(6))
    assert ("6", "arm", "The randomization assigned this student to treatment.") in _problems(page)
    assert stored(call)["datasets"] == []

    # With the randomization stored, the arm column may be left out entirely.
    without_arm = "\n".join(
        ",".join(c for i, c in enumerate(line.split(",")) if i != 1)
        for line in student_csv(6).strip().split("\n")
    )
    page = upload_and_follow(client, people, without_arm)
    assert "Stored." in page.text
    observations = stored(call)["observations"]
    assert sorted(o["arm"] for o in observations) == ["control", "control"] + ["treatment"] * 4


# --- all or nothing -------------------------------------------------------------------------------


def test_a_killed_import_leaves_no_trace_and_the_previous_version_current(
    client, call, people, monkeypatch
):
    sign_in(client, "district")
    upload_and_follow(client, people, student_csv(10))
    before = stored(call)

    real_bulk_insert = services.imports.bulk_insert

    async def dies_half_way(table, rows, columns=None):
        rows = list(rows)
        await real_bulk_insert(table, rows[:5], columns=columns)  # written, then the crash
        raise RuntimeError("the worker was killed")

    monkeypatch.setattr(services.imports, "bulk_insert", dies_half_way)
    page = upload_and_follow(client, people, student_csv(30, prefix="K"))
    assert "nothing was stored" in page.text

    after = stored(call)
    assert after["datasets"] == before["datasets"]
    assert len(after["observations"]) == 10
    assert after["datasets"][0]["is_current"] is True


# --- aggregates -----------------------------------------------------------------------------------

AGGREGATES = (
    "arm,outcome,randomized,n,mean,sd,successes\n"
    "treatment,math_scale_score,120,100,212.4,20.9,\n"
    "control,math_scale_score,118,110,207.9,21.3,\n"
    "treatment,met_benchmark,120,100,,,68\n"
    "control,met_benchmark,118,110,,,59\n"
)


def test_aggregates_upload_and_its_attrition_match_wwc(client, call, people):
    sign_in(client, "district")
    page = upload_and_follow(client, people, AGGREGATES, kind="aggregates")
    assert "Stored." in page.text
    rows = stored(call)
    assert rows["datasets"][0]["kind"] == "aggregates"
    assert len(rows["summaries"]) == 4
    expected = attrition(120, 100, 118, 110)
    assert f"overall attrition {100 * expected.overall:.1f} %" in page.text
    assert f"differential {100 * expected.differential:.1f} percentage points" in page.text


def test_bad_aggregates_are_refused_with_their_rows(client, call, people):
    sign_in(client, "district")
    content = AGGREGATES.replace(
        "control,math_scale_score,118,110,207.9,21.3,", "control,math_scale_score,118,130,207.9,-1,"
    )
    page = upload_and_follow(client, people, content, kind="aggregates")
    found = _problems(page)
    assert ("3", "n", "n (130) is more than the students randomized (118).") in found
    assert ("3", "sd", "The standard deviation must be more than 0.") in found
    assert stored(call)["datasets"] == []


# --- attrition and suppression on the data page ---------------------------------------------------


def test_attrition_on_the_data_page_equals_wwc_attrition(client, call, people):
    sign_in(client, "district")
    upload_and_follow(client, people, student_csv(60, missing_every=4))
    counts = call(
        services.site_arm_counts,
        people.active_pilot,
        call(registered_design_of, people.active_pilot),
        call(services.pilot_datasets, people.active_pilot),
    )[people.district]
    expected = attrition(
        counts["treatment"].randomized,
        counts["treatment"].analyzed,
        counts["control"].randomized,
        counts["control"].analyzed,
    )
    summary = services.attrition_summary(counts)
    assert (summary.overall, summary.differential, summary.rating) == (
        expected.overall,
        expected.differential,
        expected.rating,
    )
    page = client.get(f"/pilots/{people.active_pilot}/data")
    assert summary.words in page.text.replace("&#39;", "'")


def test_small_cells_are_suppressed_for_a_vendor_but_not_for_the_district(client, call, people):
    sign_in(client, "district")
    upload_and_follow(client, people, student_csv(14))  # 7 per arm
    own = client.get(f"/pilots/{people.active_pilot}/data")
    assert "fewer than 10 students</span>" not in own.text
    with other_browser(client):
        sign_in(client, "vendor")
        page = client.get(f"/pilots/{people.active_pilot}/data")
        assert page.status_code == 200
        assert "fewer than 10 students</span>" in page.text
        assert "<td>7</td>" not in page.text
        assert "student_key" not in page.text.split("Missing values")[-1]


# --- template, format page, API -------------------------------------------------------------------


def test_template_csv_has_the_designs_exact_header(client, people):
    sign_in(client, "district")
    response = client.get(f"/pilots/{people.active_pilot}/data/template.csv")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    # Students are assigned one by one: no classroom column to fill in (a file may still have one).
    assert next(csv.reader(io.StringIO(response.text))) == HEADER.replace(",cluster", "").split(",")


def test_a_cluster_designs_template_asks_for_the_classroom(client, call, people):
    from testbed.tables import DesignVersion

    cluster_design = {
        **ACTIVE_PILOT_DESIGN,
        "design_type": "cluster_rct",
        "unit_of_assignment": "classroom",
    }
    call(
        lambda: DesignVersion.update({DesignVersion.document: cluster_design}).where(
            DesignVersion.pilot == people.active_pilot
        )
    )
    sign_in(client, "district")
    response = client.get(f"/pilots/{people.active_pilot}/data/template.csv")
    assert next(csv.reader(io.StringIO(response.text))) == HEADER.split(",")


def test_format_page_is_public_and_shows_the_doc(client):
    page = client.get("/data-format")
    assert page.status_code == 200
    assert "Outcome data: the upload format" in page.text
    assert '<table tabindex="0">' in page.text  # scrollable by keyboard on a phone
    # A data clerk's steps come first; the reference for IT follows.
    text = page.text
    assert text.index("For the person preparing the file") < text.index("Technical reference")


def _token(call, user_id: int) -> str:
    from testbed.accounts.services import create_access_token
    from testbed.auth import load_principal

    async def make():
        return (await create_access_token(await load_principal(user_id), "script"))[1]

    return call(make)


def test_api_upload_with_a_bearer_token(client, call, people):
    token = _token(call, people.district_user)
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "text/csv"}
    base = f"/api/v1/pilots/{people.active_pilot}/sites/{people.district}"
    created = client.post(
        f"{base}/datasets?filename=spring.csv", content=student_csv(20), headers=headers
    )
    assert created.status_code == 201, created.text
    body = created.json()
    # Kept under a neutral name, not the one it was sent with (tests/web/test_free_text.py).
    today = datetime.now(UTC).date().isoformat()
    assert body["status"] == "done"
    assert body["filename"] == f"students-site-{people.district}-{today}.csv"
    assert body["attrition"]["randomized"] == {"control": 10, "treatment": 10}

    refused = client.post(f"{base}/datasets", content=student_csv(3) + "x,y\n", headers=headers)
    assert refused.status_code == 422
    assert refused.json()["errors"][0] == {
        "row": 5,
        "column": None,
        "message": "This row has 2 cells; the header has 12.",
    }

    listed = client.get(
        f"/api/v1/pilots/{people.active_pilot}/datasets",
        headers={"Authorization": f"Bearer {token}"},
    )
    assert [d["version"] for d in listed.json()] == [1]
    job = client.get(urlsplit(body["url"]).path, headers={"Authorization": f"Bearer {token}"})
    assert job.json()["dataset_id"] == listed.json()[0]["id"]


def test_api_aggregates_as_multipart(client, call, people):
    token = _token(call, people.district_user)
    response = client.post(
        f"/api/v1/pilots/{people.active_pilot}/sites/{people.district}/aggregates",
        files={"file": ("agg.csv", AGGREGATES.encode(), "text/csv")},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert response.status_code == 201, response.text
    assert response.json()["kind"] == "aggregates"


def test_large_files_are_imported_in_the_background_with_a_progress_page(
    client, call, people, monkeypatch
):
    monkeypatch.setattr(services.imports, "SYNCHRONOUS_LIMIT_BYTES", 100)
    sign_in(client, "district")
    response = upload(client, people, student_csv(500))
    job_path = response.headers["location"]
    for _ in range(200):
        page = client.get(job_path)
        if "Stored." in page.text:
            break
        assert 'http-equiv="refresh"' in page.text
        client.blocking_portal.call(_sleep)
    assert "Stored." in page.text
    assert 'http-equiv="refresh"' not in page.text
    assert len(stored(call)["observations"]) == 500


async def _sleep():
    import asyncio

    await asyncio.sleep(0.05)


# --- who may do what ------------------------------------------------------------------------------


def test_upload_before_registration_is_a_conflict(client, call, people):
    from testbed.tables import DesignVersion

    call(lambda: DesignVersion.delete().where(DesignVersion.pilot == people.active_pilot))
    sign_in(client, "district")
    response = upload(client, people, student_csv(3))
    assert response.status_code == 409
    assert "register the design before uploading data" in response.text


def test_upload_while_the_pilot_is_not_active_is_a_conflict(client, call, people):
    from testbed.tables import Pilot

    call(lambda: Pilot.update({Pilot.status: "published"}).where(Pilot.id == people.active_pilot))
    sign_in(client, "district")
    assert upload(client, people, student_csv(3)).status_code == 409


@pytest.mark.parametrize("role", ["vendor", "researcher", "other_vendor"])
def test_others_cannot_upload(client, call, people, role):
    sign_in(client, role)
    response = upload(client, people, student_csv(3))
    assert response.status_code in (403, 404)
    assert stored(call)["jobs"] == []


def test_another_district_cannot_upload_for_this_site(client, call, people):
    async def second_site():
        org_id = await factories.organization("district", "Pine Ridge", "pine-ridge")
        await factories.user("data@pine.example", "Pat Pine", organization=org_id, role="member")
        await factories.enrollment(people.active_pilot, org_id, capacity_students=50)
        return org_id

    pine = call(second_site)
    response = post_form(
        client, "/login", {"email": "data@pine.example", "password": "orchard-lantern-velvet-42"}
    )
    assert response.status_code in (302, 303)
    assert upload(client, people, student_csv(3)).status_code == 403
    own = post_form(
        client,
        f"/pilots/{people.active_pilot}/sites/{pine}/upload",
        {"kind": "students"},
        files={"file": ("p.csv", student_csv(3).encode(), "text/csv")},
    )
    assert own.status_code in (302, 303)
    with other_browser(client):
        sign_in(client, "district")
        assert client.get(own.headers["location"]).status_code == 404


# --- Excel workbooks ------------------------------------------------------------------------------


def _workbook(text: str) -> bytes:
    """The CSV text as an .xlsx workbook, numbers stored as Excel numbers (floats)."""
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    for line in text.splitlines():
        sheet.append([_as_number(cell) for cell in line.split(",")])
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def _as_number(cell: str):
    try:
        return float(cell)
    except ValueError:
        return cell


def test_an_excel_workbook_is_stored_like_the_same_rows_as_csv(client, call, people):
    sign_in(client, "district")
    page = upload_and_follow(client, people, _workbook(student_csv(20)), filename="scores.xlsx")
    assert "Stored." in page.text
    from_workbook = stored(call)["observations"]
    upload_and_follow(client, people, student_csv(20))
    rows = stored(call)
    today = datetime.now(UTC).date().isoformat()
    assert [d["filename"] for d in rows["datasets"]] == [
        f"students-site-{people.district}-{today}.xlsx",
        f"students-site-{people.district}-{today}.csv",
    ]
    from_csv = [o for o in rows["observations"] if o["dataset"] == rows["datasets"][1]["id"]]

    def comparable(observations):
        return sorted(
            tuple(v for k, v in o.items() if k not in ("id", "dataset")) for o in observations
        )

    assert comparable(from_workbook) == comparable(from_csv)


def test_a_bad_cell_in_a_workbook_is_named_by_its_excel_row_and_column(client, call, people):
    sign_in(client, "district")
    bad = student_csv(5, extra=["", "S00009,treatment,room-1,yes,no,no,f,white,180,0,999,1"])
    page = upload_and_follow(client, people, _workbook(bad), filename="scores.xlsx")
    assert "Nothing was stored" in page.text
    # Header row 1, five students, an empty row 7: the bad score is on Excel's row 8.
    assert ("8", "math_scale_score", "Above the maximum, 300.") in _problems(page)
    assert stored(call)["datasets"] == []


def test_a_zip_archive_that_is_not_a_workbook_is_refused(client, call, people):
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("scores.csv", student_csv(5))
    sign_in(client, "district")
    page = upload_and_follow(client, people, archive.getvalue(), filename="scores.zip")
    assert "not an Excel workbook" in page.text
    assert stored(call)["datasets"] == []


def test_outcome_json_is_written_as_json_dumps_writes_each_value():
    scores = [210.5, -0.0, 0.0, float("nan"), 1e300, 5e-324, 210.5, 0.1 + 0.2]
    expected = [json.dumps(None if v != v else v) for v in scores]
    assert services.imports._json_texts(np.array(scores), whole=False) == expected
    counts = [3.0, float("nan"), 0.0, -0.0, 12.0, 3.0]
    expected = [json.dumps(None if v != v else int(v)) for v in counts]
    assert services.imports._json_texts(np.array(counts), whole=True) == expected


def test_an_upload_and_a_saved_implementation_log_are_confirmed_on_the_next_page(client, people):
    sign_in(client, "district")
    page = upload_and_follow(client, people, student_csv(20))
    assert "The file is received. It is being checked" in page.text
    assert "The file is received" not in client.get(urlsplit(str(page.url)).path).text
    saved = post_form(
        client,
        f"/pilots/{people.active_pilot}/sites/{people.district}/implementation",
        {"training_held": "yes", "started_on": "2026-02-01", "problems": "Two snow days."},
    )
    assert saved.status_code in (302, 303)
    assert "The implementation log is saved." in client.get(saved.headers["location"]).text
    refused = post_form(
        client,
        f"/pilots/{people.active_pilot}/sites/{people.district}/implementation",
        {"started_on": "February"},
    )
    assert refused.status_code == 422 and "is saved" not in refused.text
