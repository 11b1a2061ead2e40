"""A finding's page is computed once per audience: its disclosed numbers, sentences and plots are
kept (bounded) and reused, and a viewer never gets what another audience or another finding sees.
Also the SQLite engine's kept-open read connections (testbed.db)."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest

from testbed.findings import plots, services
from tests.web.conftest import PASSWORD, other_browser, post_form, sign_in
from tests.web.findings_data import SECOND_DISTRICT_EMAIL, seed_study


def _run(client, pilot_id: int) -> int:
    response = post_form(client, f"/pilots/{pilot_id}/findings/run")
    assert response.status_code in (302, 303), response.text
    return int(re.fullmatch(r"/findings/(\d+)", response.headers["location"]).group(1))


def _svg(page: str, key: str) -> str:
    """The inline SVG whose accessible title has this id (effects, subgroups, dist-0...)."""
    start = page.index(f'<title id="{key}-title">')
    return page[page.rindex("<svg", 0, start) : page.index("</svg>", start) + len("</svg>")]


@pytest.fixture
def counted_disclosures(monkeypatch):
    """How many times a finding's results were disclosed (what a cache hit skips)."""
    calls = []
    real = services.disclosure.disclose

    def disclose(results, own_sites):
        calls.append(frozenset(own_sites))
        return real(results, own_sites)

    monkeypatch.setattr(services.disclosure, "disclose", disclose)
    services._shown_cache.clear()
    return calls


def test_a_page_is_computed_once_and_each_audience_gets_its_own(
    client, call, people, counted_disclosures
):
    study = call(seed_study, people)
    sign_in(client, "vendor")
    finding_id = _run(client, study.pilot)
    # Running it drew its plots for each audience: outsiders (the vendor's) and the site's.
    audiences = [frozenset(), frozenset({people.district})]
    assert counted_disclosures == audiences
    first = client.get(f"/findings/{finding_id}").text
    again = client.get(f"/findings/{finding_id}").text
    client.get(f"/findings/{finding_id}/print")
    client.get(f"/findings/{finding_id}.csv")
    assert counted_disclosures == audiences  # each audience once: the views reused them
    assert _svg(first, "subgroups") == _svg(again, "subgroups")
    # A small subgroup is hidden from the vendor, so its plot leaves that level out...
    assert "English learners: yes" not in _svg(first, "subgroups")

    with other_browser(client):
        sign_in(client, "district")
        district = client.get(f"/findings/{finding_id}").text
    # ...but the pilot's district sees its own students: another audience, its own plot.
    assert counted_disclosures == [frozenset(), frozenset({people.district})]
    assert "English learners: yes" in _svg(district, "subgroups")
    # And the vendor still gets the suppressed one after the district's was made.
    assert "English learners: yes" not in _svg(
        client.get(f"/findings/{finding_id}").text, "subgroups"
    )
    assert len(counted_disclosures) == 2


def test_a_page_view_reads_the_finding_once_and_a_form_reads_it_afresh(
    client, call, people, monkeypatch
):
    study = call(seed_study, people)
    sign_in(client, "vendor")
    finding_id = _run(client, study.pilot)
    reads = []
    real = services.read_finding

    async def read_finding(principal, number):
        reads.append(number)
        return await real(principal, number)

    monkeypatch.setattr(services, "read_finding", read_finding)
    assert client.get(f"/findings/{finding_id}").status_code == 200
    assert client.get(f"/api/v1/findings/{finding_id}").status_code == 200
    assert reads == [finding_id, finding_id]  # the guard's read, shown by the handler
    reads.clear()
    refused = post_form(client, f"/findings/{finding_id}/approval", {"decision": "maybe"})
    assert refused.status_code == 422
    assert len(reads) >= 2  # a form's answer reads the finding again, after the write's checks


def test_the_results_markup_is_rendered_once_and_follows_what_it_shows(
    client, call, people, monkeypatch
):
    from testbed.findings import pages
    from testbed.tables import Finding, Organization

    study = call(seed_study, people)
    sign_in(client, "vendor")
    finding_id = _run(client, study.pilot)
    client.get(f"/findings/{finding_id}")  # shows (and so clears) the "analysis ran" message
    numbers = []
    real = pages.TEMPLATE_HELPERS["num"]
    monkeypatch.setitem(pages.TEMPLATE_HELPERS, "num", lambda *a: numbers.append(a) or real(*a))
    pages._rendered_results.clear()
    first = client.get(f"/findings/{finding_id}").text
    assert numbers, "the results were rendered"
    numbers.clear()
    assert client.get(f"/findings/{finding_id}").text == first
    assert numbers == []  # the second view of the same audience renders no result again
    assert '<details class="researchers">' in first
    assert '<details class="researchers" open>' in client.get(f"/findings/{finding_id}/print").text

    # What the results part shows beside the finding's numbers is in the key: a site's new
    # name and a retraction appear at once.
    call(
        lambda: Organization.update({Organization.name: "Renamed Unified"}).where(
            Organization.id == people.district
        )
    )
    renamed = client.get(f"/findings/{finding_id}").text
    details = renamed[renamed.index('<details class="researchers">') :]
    assert '<th scope="row">Renamed Unified</th>' in details[: details.index("</details>")]
    assert "Retracted result" not in renamed
    call(
        lambda: Finding.update(
            {Finding.retracted_at: datetime.now(UTC), Finding.retraction_reason: "a data error"}
        ).where(Finding.id == finding_id)
    )
    retracted = client.get(f"/findings/{finding_id}").text
    assert "Retracted result" in retracted
    assert '<div class="retracted">' in retracted


def test_cached_plots_equal_freshly_drawn_ones(client, call, people):
    study = call(seed_study, people)
    sign_in(client, "vendor")
    finding_id = _run(client, study.pilot)
    client.get(f"/findings/{finding_id}")  # warm the caches
    page = client.get(f"/findings/{finding_id}").text
    results = client.get(f"/api/v1/findings/{finding_id}").json()["results"]
    # `__wrapped__` is the drawing without the memo on its numbers.
    fresh_effects = plots.effects.__wrapped__(
        results["outcomes"], results["design"]["minimum_meaningful_effect"]
    )
    assert fresh_effects in page
    direction = next(o for o in results["outcomes"] if o["primary"])["direction"]
    assert plots.subgroups.__wrapped__(results["subgroups"], direction) in page
    assert plots.distribution.__wrapped__(results["outcomes"][0], "dist-0") in page


def test_the_public_variant_and_a_renamed_product_get_their_own_page(client, call, people):
    from testbed.tables import Pilot, Product

    study = call(seed_study, people, second_site=True)
    sign_in(client, "vendor")
    finding_id = _run(client, study.pilot)
    full = client.get(f"/findings/{finding_id}").text
    assert "Students who used MathQuest" in full
    # The headline names the product: a new name is a new page, not the cached one.
    call(lambda: Product.update({Product.name: "NumberNest"}).where(Product.id == people.product))
    renamed = client.get(f"/findings/{finding_id}").text
    assert "Students who used NumberNest" in renamed
    assert "Students who used MathQuest" not in renamed

    # Publish without the second site: the public variant has other numbers, and other plots.
    post_form(client, f"/findings/{finding_id}/approval", {"decision": "approve"})
    with other_browser(client):
        sign_in(client, "district")
        post_form(client, f"/findings/{finding_id}/approval", {"decision": "approve"})
    call(lambda: Pilot.update({Pilot.status: "analysis"}).where(Pilot.id == study.pilot))
    with other_browser(client):
        post_form(client, "/login", {"email": SECOND_DISTRICT_EMAIL, "password": PASSWORD})
        withheld = post_form(
            client,
            f"/findings/{finding_id}/approval",
            {"decision": "withhold", "site": str(study.sites[1])},
        )
        assert withheld.status_code in (302, 303), withheld.text
    published = post_form(client, f"/findings/{finding_id}/publish", {"confirm": "yes"})
    assert published.status_code in (302, 303), published.text
    public_id = int(published.headers["location"].rsplit("/", 1)[1])
    with other_browser(client):  # nobody signed in
        public = client.get(f"/findings/{public_id}").text
    assert _svg(public, "effects") != _svg(full, "effects")
    public_numbers = client.get(f"/api/v1/findings/{public_id}").json()["results"]
    assert [row["site_id"] for row in public_numbers["site_counts"]] == [study.sites[0]]


def test_the_cache_is_keyed_by_the_results_and_bounded(client, call, people, monkeypatch):
    from testbed.tables import Finding

    study = call(seed_study, people)
    sign_in(client, "vendor")
    finding_id = _run(client, study.pilot)
    row = call(lambda: Finding.select().where(Finding.id == finding_id).first())
    services._shown_cache.clear()
    shown = services.shown_to(row, frozenset(), "MathQuest")
    assert services.shown_to(dict(row), frozenset(), "MathQuest") is shown
    # The same id with another document (an id used again after a reset) is another entry.
    changed = {**row, "results": row["results"].replace('"design"', '"design" ', 1)}
    assert services.shown_to(changed, frozenset(), "MathQuest") is not shown
    monkeypatch.setattr(services, "SHOWN_CACHE_SIZE", 3)
    for fake_id in range(10_000, 10_010):
        services.shown_to({**row, "id": fake_id}, frozenset(), "MathQuest")
    assert len(services._shown_cache) == 3


def test_sqlite_reads_on_kept_connections_see_every_commit(client, call, people):
    from testbed.db import ReadPoolSQLiteEngine
    from testbed.tables import Organization

    engine = Organization._meta.db
    if not isinstance(engine, ReadPoolSQLiteEngine):
        pytest.skip("PostgreSQL: asyncpg's pool")
    assert engine._idle is not None  # started with the app's lifespan

    async def name() -> str:
        row = await Organization.select(Organization.name).where(Organization.id == people.district)
        return row[0]["name"]

    before = call(name)
    for new_name in ("Renamed once", "Renamed twice"):
        call(
            lambda n=new_name: Organization.update({Organization.name: n}).where(
                Organization.id == people.district
            )
        )
        assert call(name) == new_name  # a kept connection holds no old snapshot
    assert before != "Renamed twice"
    kept = len(engine._idle)
    assert 1 <= kept <= engine.READ_CONNECTIONS
    with pytest.raises(Exception, match="no such table"):
        call(lambda: Organization.raw("SELECT * FROM no_such_table"))
    assert len(engine._idle) == kept - 1  # the failed connection was closed, not reused
    assert call(name) == "Renamed twice"


def test_sqlite_read_connections_close_with_the_app(app):
    from litestar.testing import TestClient

    from testbed.db import ReadPoolSQLiteEngine
    from testbed.tables import Organization

    engine = Organization._meta.db
    if not isinstance(engine, ReadPoolSQLiteEngine):
        pytest.skip("PostgreSQL: asyncpg's pool")
    with TestClient(app) as client:
        assert client.get("/").status_code == 200  # its counts read outside a transaction
        assert engine._idle
    assert engine._idle is None
