"""Who sees what of a pilot's uploads (issue 20, item 2): each site's district sees its own
uploads in full; the pilot's researchers and network admins see every site's; anyone else (the
vendor, other sites' districts, a vendor's member holding a role) sees each upload's site,
version, kind, status and date, but not its file name, checksum, row count or uploader.

Checked on the API (`/api/v1/pilots/{id}/datasets`) and the data page (`/pilots/{id}/data`),
which list the same uploads through the same service.
"""

from __future__ import annotations

import pytest

from tests import factories
from tests.web.conftest import People, sign_in
from tests.web.test_student_rows import (
    OTHER_SITE_EMAIL,
    Study,
    _join,
    _role_row,
    _sign_in_other_site,
    _study,
)

DETAILS = ("filename", "sha256", "row_count", "uploaded_by")
PUBLIC_FIELDS = ("id", "site_id", "site_name", "version", "kind", "uploaded_at", "is_current")
# site -> (file names of its uploads, its uploader's name)
CEDAR_FILES = ("cedar-fall-scores.csv", "cedar-spring-scores.csv")
PINE_FILES = ("pine-ridge-grade4-final.csv",)


async def _uploads(people: People, study: Study) -> None:
    """Cedar Hollow: a superseded and a current upload (37 rows) by Dana District; Pine Ridge:
    one current upload of 4 rows by Pat Pine."""

    uploads = [
        (study.site, 1, CEDAR_FILES[0], 35, people.district_user, False),
        (study.site, 2, CEDAR_FILES[1], 37, people.district_user, True),
        (study.other_site, 1, PINE_FILES[0], 4, study.other_site_user, True),
    ]
    for site, version, filename, rows, user, current in uploads:
        await factories.dataset(
            study.pilot,
            site,
            rows,
            version=version,
            kind="aggregates",
            filename=filename,
            sha256=f"{version:064d}",
            uploaded_by=user,
            is_current=current,
        )


@pytest.fixture
def study(call, people) -> Study:
    made = call(_study, people)
    call(_uploads, people, made)
    return made


def _sign_in(client, call, people, viewer: str) -> None:
    if viewer == "pine":
        _sign_in_other_site(client)
    elif viewer == "vendor_with_role":
        # The vendor's member joined a verified research organization and holds a role row.
        call(_join, people.vendor_user, people.research_org)
        call(_role_row, people.active_pilot, people.vendor_user)
        sign_in(client, "vendor")
    elif viewer != "anonymous":
        sign_in(client, viewer)


# Whose sites' uploads each viewer sees in full ("cedar", "pine").
FULL_VIEW = {
    "district": {"cedar"},
    "pine": {"pine"},
    "researcher": {"cedar", "pine"},
    "admin": {"cedar", "pine"},
    "vendor": set(),
    "vendor_with_role": set(),
}


@pytest.mark.parametrize("viewer", sorted(FULL_VIEW))
def test_each_viewer_sees_in_full_only_the_uploads_of_sites_whose_rows_it_may_see(
    client, call, people, study, viewer
):
    _sign_in(client, call, people, viewer)
    response = client.get(f"/api/v1/pilots/{study.pilot}/datasets")
    assert response.status_code == 200, response.text
    listed = response.json()
    site_of = {study.site: "cedar", study.other_site: "pine"}
    assert sorted((site_of[d["site_id"]], d["version"]) for d in listed) == [
        ("cedar", 1),
        ("cedar", 2),
        ("pine", 1),
    ]
    for dataset in listed:
        assert all(dataset[field] is not None for field in PUBLIC_FIELDS), dataset
        full = site_of[dataset["site_id"]] in FULL_VIEW[viewer]
        assert dataset["details_shown"] is full, (viewer, dataset)
        if full:
            assert dataset["filename"] in CEDAR_FILES + PINE_FILES
            assert dataset["row_count"] in (35, 37, 4)
            assert dataset["uploaded_by"] in ("Dana District", "Pat Pine")
            assert dataset["sha256"]
        else:
            assert [dataset[field] for field in DETAILS] == [None] * len(DETAILS), (viewer, dataset)

    page = client.get(f"/pilots/{study.pilot}/data")
    assert page.status_code == 200
    for site, files, uploader in (
        ("cedar", CEDAR_FILES, "Dana District"),
        ("pine", PINE_FILES, "Pat Pine"),
    ):
        shown = site in FULL_VIEW[viewer]
        assert all((name in page.text) is shown for name in files), (viewer, site)
        if viewer not in ("district", "pine"):  # a district's own member's name is in the menu
            assert (f"by {uploader}" in page.text) is shown, (viewer, site)
    assert ("Shown to the site" in page.text) is (FULL_VIEW[viewer] != {"cedar", "pine"})


@pytest.mark.parametrize("viewer", ["anonymous", "other_vendor"])
def test_outsiders_of_an_active_pilot_see_no_uploads_at_all(client, call, people, study, viewer):
    _sign_in(client, call, people, viewer)
    assert client.get(f"/api/v1/pilots/{study.pilot}/datasets").status_code in (401, 404)
    assert client.get(f"/pilots/{study.pilot}/data", follow_redirects=False).status_code in (
        302,
        303,
        404,
    )


def test_the_sites_district_signed_in_by_token_sees_the_same_as_by_session(
    client, call, people, study
):
    from tests.web.test_designs import bearer, token_for

    listed = client.get(
        f"/api/v1/pilots/{study.pilot}/datasets",
        headers=bearer(token_for(call, study.other_site_user)),
    ).json()
    assert {d["filename"] for d in listed} == {None, PINE_FILES[0]}
    assert OTHER_SITE_EMAIL not in str(listed)
