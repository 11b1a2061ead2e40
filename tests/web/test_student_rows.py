"""Student-level rows reach only the site's own district, the pilot's researchers and network
administrators (testbed.access.may_see_student_rows), and a pilot role never widens that.

The attack of issue 20: a vendor gives itself a role on its own pilot (or a district member of
another site gets one), then reads a site's key-by-arm list. Each actor walks "grant yourself a
role, then read" over every route that serves a site's student rows: the grant is refused, and a
role row that exists anyway (granted before the rule, or since the holder's memberships changed)
counts for nothing when the rows are read.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from tests import factories
from tests.web.conftest import EMAILS, PASSWORD, People, post_form, sign_in
from tests.web.test_designs import bearer, token_for

OTHER_SITE_EMAIL = "coordinator@pine-ridge.example"
DRIFTED_KEY = "cedar-key-007"  # the key whose stored arm no longer matches the seed's draw


@dataclass(frozen=True)
class Study:
    pilot: int
    site: int  # Cedar Hollow, the site whose rows are at stake
    other_site: int  # Pine Ridge, a second site of the same pilot
    other_site_user: int
    job: int  # an upload of Cedar Hollow's


async def _study(people: People) -> Study:
    """The active pilot with a registered randomized design and two randomized sites; Cedar
    Hollow's stored assignment has one key whose arm differs from the seed's draw (so the
    re-draw page names a key), and one upload in progress."""
    from analysis.randomization import assign
    from testbed.tables import UploadJob

    pilot = people.active_pilot
    document = {
        "design_type": "rct",
        "unit_of_assignment": "student",
        "arms": ["treatment", "control"],
        "research_questions": ["Does it help?"],
        "outcomes": [
            {"name": "math", "label": "Math", "kind": "continuous", "primary": True,
             "direction": "higher_is_better", "instrument": "Interim", "unit": "points",
             "min": None, "max": None}
        ],
        "baseline_measure": None,
        "subgroups": [],
        "minimum_meaningful_effect": 0.2,
        "icc": 0.2,
        "planned_sites": 2,
        "planned_students_per_site": 100,
        "analysis_plan": {"covariates": [], "missing_data": "complete cases", "alpha": 0.05},
    }  # fmt: skip
    await factories.design(pilot, document)
    other_site = await factories.organization("district", "Pine Ridge", "pine-ridge")
    other_site_user = await factories.user(OTHER_SITE_EMAIL, "Pat Pine", organization=other_site)
    await factories.enrollment(pilot, other_site, capacity_students=50)
    for site, prefix in ((people.district, "cedar"), (other_site, "pine")):
        drawn = assign([f"{prefix}-key-{n:03d}" for n in range(12)], document["arms"], 11)
        arms = dict(drawn.mapping)
        if prefix == "cedar":
            arms[DRIFTED_KEY] = "control" if arms[DRIFTED_KEY] == "treatment" else "treatment"
        await factories.assignment(pilot, site, drawn, arms=arms)
    job = await factories.insert(
        UploadJob(
            pilot=pilot,
            site=people.district,
            filename="cedar-spring-scores.csv",
            status="done",
            created_by=people.district_user,
        )
    )
    return Study(pilot, people.district, other_site, other_site_user, job)


# Every route that serves a site's student rows (or an upload of them), and what on it is a
# student row: a key of the site's assignment.
def _reads(study: Study) -> list[tuple[str, str]]:
    site, pilot = study.site, study.pilot
    return [
        ("assignment list", f"/pilots/{pilot}/randomization/{site}/assignment.csv"),
        ("keys a re-draw disagrees on", f"/pilots/{pilot}/randomization/{site}/verify"),
        ("upload page", f"/uploads/{study.job}"),
        ("upload API", f"/api/v1/uploads/{study.job}"),
    ]


def _leaks(response) -> bool:
    """The response carries Cedar Hollow's student rows (or its upload)."""
    if response.status_code != 200:
        return False
    return DRIFTED_KEY in response.text or "cedar-spring-scores" in response.text


def _leaked_reads(client, study: Study, headers: dict[str, str]) -> list[str]:
    leaked = []
    for name, path in _reads(study):
        response = client.get(path, headers=headers if path.startswith("/api/") else None)
        assert response.status_code < 500, (path, response.status_code)
        if _leaks(response):
            leaked.append(name)
    return leaked


async def _role_row(pilot: int, user: int, role: str = "researcher") -> None:
    """A role row as one granted before the rule existed (no check on the way in)."""
    await factories.pilot_role(pilot, user, role)


async def _join(user: int, organization: int) -> None:
    await factories.membership(user, organization, "member")


async def _roles(pilot: int) -> list[int]:
    from testbed.tables import PilotRole

    return [
        row["user"]
        for row in await PilotRole.select(PilotRole.user).where(PilotRole.pilot == pilot)
    ]


@pytest.fixture
def study(call, people) -> Study:
    return call(_study, people)


def _sign_in_other_site(client) -> None:
    response = post_form(client, "/login", {"email": OTHER_SITE_EMAIL, "password": PASSWORD})
    assert response.status_code in (302, 303), response.text


# --- the rule's positive side: who does see the rows ------------------------------------------


def test_the_sites_district_the_pilots_researcher_and_an_admin_read_the_rows(
    client, call, people, study
):
    every_read = [name for name, _ in _reads(study)]
    for role, user in (("district", people.district_user), ("researcher", people.researcher),
                       ("admin", people.admin)):  # fmt: skip
        sign_in(client, role)
        assert _leaked_reads(client, study, bearer(token_for(call, user))) == every_read, role
        client.cookies.clear()


# --- "grant yourself a role, then read" --------------------------------------------------------


@pytest.mark.parametrize("also_in_research_org", [False, True], ids=["vendor", "vendor+research"])
def test_a_vendor_that_grants_itself_a_role_still_reads_no_student_rows(
    client, call, people, study, also_in_research_org
):
    """The vendor's member (also a member of a verified research organization, in the second
    case: the role would otherwise count) tries the API and the team page, then holds a role row
    anyway: not one of the site's student rows reaches it."""
    if also_in_research_org:
        call(_join, people.vendor_user, people.research_org)
    token = token_for(call, people.vendor_user)
    sign_in(client, "vendor")
    for role in ("researcher", "observer"):
        api = client.post(
            f"/api/v1/pilots/{study.pilot}/roles",
            json={"email": EMAILS["vendor"], "role": role},
            headers=bearer(token),
        )
        assert api.status_code == 422, api.text
        assert api.headers["content-type"] == "application/problem+json"
        assert "member of the pilot's vendor" in api.json()["detail"]
        page = post_form(
            client, f"/pilots/{study.pilot}/team", {"email": EMAILS["vendor"], "role": role}
        )
        assert page.status_code == 422 and "member of the pilot&#39;s vendor" in page.text
    assert people.vendor_user not in call(_roles, study.pilot)
    assert _leaked_reads(client, study, bearer(token)) == []

    call(_role_row, study.pilot, people.vendor_user)
    assert _leaked_reads(client, study, bearer(token)) == []
    # Nor does the role make the vendor a researcher anywhere else: the team list marks it, and
    # the registration export does not name the vendor among the pilot's researchers.
    team = client.get(f"/api/v1/pilots/{study.pilot}/roles", headers=bearer(token)).json()
    mine = next(r for r in team if r["email"] == EMAILS["vendor"])
    assert mine["in_effect"] is False
    team_page = client.get(f"/pilots/{study.pilot}/team")
    assert team_page.status_code == 200 and team_page.text.count("counts for nothing") == 1
    rees = client.get(f"/api/v1/pilots/{study.pilot}/design/rees")
    assert rees.status_code == 200 and "Rae Researcher" in rees.text
    assert "Vic Vendor" not in rees.text


def test_a_district_of_another_site_that_gets_a_role_still_reads_no_rows_of_this_site(
    client, call, people, study
):
    """Pine Ridge is a site of the same pilot: it reads its own rows, never Cedar Hollow's,
    whether it asks for a role itself, the vendor grants it one, or a role row exists."""
    pine_token = token_for(call, study.other_site_user)
    _sign_in_other_site(client)
    own = client.get(f"/pilots/{study.pilot}/randomization/{study.other_site}/assignment.csv")
    assert own.status_code == 200 and "pine-key-000" in own.text
    assert _leaked_reads(client, study, bearer(pine_token)) == []

    itself = client.post(
        f"/api/v1/pilots/{study.pilot}/roles",
        json={"email": OTHER_SITE_EMAIL, "role": "researcher"},
        headers=bearer(pine_token),
    )
    assert itself.status_code == 403
    by_vendor = client.post(
        f"/api/v1/pilots/{study.pilot}/roles",
        json={"email": OTHER_SITE_EMAIL, "role": "researcher"},
        headers=bearer(token_for(call, people.vendor_user)),
    )
    assert by_vendor.status_code == 422, by_vendor.text
    assert "Roles on a pilot are for researchers" in by_vendor.json()["detail"]
    assert study.other_site_user not in call(_roles, study.pilot)

    call(_role_row, study.pilot, study.other_site_user)
    assert _leaked_reads(client, study, bearer(pine_token)) == []
    assert client.get(f"/pilots/{study.pilot}/design/edit").status_code == 403


def test_a_role_counts_only_while_its_holder_is_in_a_verified_research_organization(
    client, call, people, study
):
    """The check is made when the rows are read: the researcher's role stops counting once
    their organization is unverified, and counts again once it is verified."""
    from testbed.tables import Organization

    def set_verified(value: bool) -> None:
        call(
            lambda: Organization.update({Organization.verified: value}).where(
                Organization.id == people.research_org
            )
        )

    sign_in(client, "researcher")
    path = f"/pilots/{study.pilot}/randomization/{study.site}/assignment.csv"
    assert client.get(path).status_code == 200
    set_verified(False)
    assert client.get(path).status_code in (403, 404)
    assert client.get(f"/pilots/{study.pilot}/design/edit").status_code in (403, 404)
    set_verified(True)
    assert client.get(path).status_code == 200


def test_an_observer_sees_the_pilot_but_not_its_student_rows(client, call, people, study):
    from testbed.tables import PilotRole

    call(
        lambda: PilotRole.update({PilotRole.role: "observer"}).where(
            PilotRole.user == people.researcher
        )
    )
    token = token_for(call, people.researcher)
    sign_in(client, "researcher")
    assert client.get(f"/pilots/{study.pilot}/design").status_code == 200
    assert _leaked_reads(client, study, bearer(token)) == []
    assert client.get(f"/pilots/{study.pilot}/design/edit").status_code == 403


def test_roles_are_granted_to_verified_research_organizations_members_only(
    client, call, people, study
):
    """The pilot's vendor gives the researcher a role; a member of an unverified research
    organization and a network admin without one are refused with the reason."""
    from testbed.tables import PilotRole

    async def unverified_researcher() -> None:
        org = await factories.organization("research", "New Lab", "new-lab", verified=False)
        user = await factories.user("new@new-lab.example", "Nia New")
        await _join(user, org)

    call(unverified_researcher)
    call(lambda: PilotRole.delete().where(PilotRole.user == people.researcher))
    token = token_for(call, people.vendor_user)
    roles = f"/api/v1/pilots/{study.pilot}/roles"
    for email in ("new@new-lab.example", EMAILS["admin"]):
        refused = client.post(
            roles, json={"email": email, "role": "researcher"}, headers=bearer(token)
        )
        assert refused.status_code == 422, (email, refused.text)
        assert refused.json()["errors"][0]["field"] == "email"
    granted = client.post(
        roles, json={"email": EMAILS["researcher"], "role": "researcher"}, headers=bearer(token)
    )
    assert granted.status_code == 201, granted.text
    assert [(r["email"], r["in_effect"]) for r in granted.json()] == [(EMAILS["researcher"], True)]


def test_a_role_that_counts_for_nothing_does_not_show_the_pilot_either(client, call, people, study):
    """A competing vendor's member with a role row on the active pilot: the pilot is neither
    listed for it nor found, exactly as without the row; the researcher's role shows it."""
    call(_role_row, study.pilot, people.other_vendor_user)
    for role, sees in (("other_vendor", False), ("researcher", True)):
        sign_in(client, role)
        listed = client.get("/api/v1/pilots", params={"per_page": 100}).json()
        assert (study.pilot in {p["id"] for p in listed["items"]}) is sees, role
        assert client.get(f"/api/v1/pilots/{study.pilot}").status_code == (200 if sees else 404)
        client.cookies.clear()
