"""Free text that could carry identifiers: cluster labels and uploaded file names.

Cluster labels are stored and shown to the pilot's team, so a label that looks like an email
address, a Social Security number, a date or a person's name is refused with its row and
column, and nothing is stored. An uploaded file is kept under a neutral name (what, where,
when), never the name it arrived with.
"""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime

import pytest

from tests.web.conftest import other_browser, sign_in
from tests.web.test_uploads import (  # noqa: F401 (registered_design is an autouse fixture)
    _problems,
    registered_design,
    stored,
    student_csv,
    upload_and_follow,
)

LOOKS_LIKE = {
    "jane.doe@example.org": "an email address",
    "123-45-6789": "a Social Security number",
    "2015-03-04": "a date",
    "3/4/2015": "a date",
    "March 4": "a date",
    "Jane Doe": "a person's name",
    "Ms. Lopez": "a person's name",
}


@pytest.mark.parametrize("label", list(LOOKS_LIKE))
def test_a_cluster_label_that_identifies_a_person_is_refused(client, call, people, label):
    sign_in(client, "district")
    content = student_csv(30).replace(",room-2,", f",{label},", 1)  # the second data row
    page = upload_and_follow(client, people, content)
    assert "Nothing was stored" in page.text
    found = [(r, c, html.unescape(m).split(";")[0]) for r, c, m in _problems(page)]
    assert ("3", "cluster", f"The cluster looks like {LOOKS_LIKE[label]}") in found, found
    rows = stored(call)
    assert rows["datasets"] == [] and rows["observations"] == []
    assert label not in str(rows["jobs"])


def test_every_refused_label_is_listed_with_its_row(client, call, people):
    # The column-wise reader (used for clean files) must not let one through either.
    sign_in(client, "district")
    lines = student_csv(40).split("\n")  # line 1 is the header, so student n is on n + 2
    for number, label in ((5, "Jane Doe"), (17, "jane@example.org"), (33, "123 45 6789")):
        lines[number + 1] = re.sub(r",room-\d,", f",{label},", lines[number + 1])
    page = upload_and_follow(client, people, "\n".join(lines))
    cluster_rows = sorted(int(row) for row, column, _ in _problems(page) if column == "cluster")
    assert cluster_rows == [7, 19, 35]


@pytest.mark.parametrize("label", ["room-12", "Room 12", "Block B", "North Campus", "4B", "A"])
def test_plain_codes_are_accepted(client, call, people, label):
    sign_in(client, "district")
    content = student_csv(30).replace(",room-2,", f",{label},")
    page = upload_and_follow(client, people, content)
    assert "Nothing was stored" not in page.text, _problems(page)
    assert label in {row["cluster"] for row in stored(call)["observations"]}


def test_an_uploaded_files_name_is_not_kept(client, call, people):
    original = "jane.doe@example.org_SSN_123-45-6789.csv"
    sign_in(client, "district")
    job_page = upload_and_follow(client, people, student_csv(30), filename=original)
    today = datetime.now(UTC).date().isoformat()
    neutral = f"students-site-{people.district}-{today}.csv"
    rows = stored(call)
    assert [d["filename"] for d in rows["datasets"]] == [neutral]
    assert [j["filename"] for j in rows["jobs"]] == [neutral]
    assert "jane.doe" not in job_page.text and "123-45-6789" not in job_page.text
    own = client.get(f"/pilots/{people.active_pilot}/data").text
    assert neutral in own and "jane.doe" not in own
    with other_browser(client):
        sign_in(client, "vendor")
        for path in (
            f"/pilots/{people.active_pilot}/data",
            f"/api/v1/pilots/{people.active_pilot}/datasets",
        ):
            answer = client.get(path).text
            assert "jane.doe" not in answer and "6789" not in answer, path
