"""What keeps the network pages fast as the network grows, checked for what a reader gets:
the export pages through by cursor and its full download streams the same rows; the dashboard
kept per worker follows every publication and retraction; plots drawn when a finding is
computed or published are stored and served, not redrawn, and never across audiences."""

from __future__ import annotations

import csv
import io
import json
import re
from urllib.parse import parse_qs, urlparse

from testbed.findings import plots
from tests.web.conftest import other_browser, post_form, sign_in
from tests.web.findings_data import seed_study
from tests.web.test_synthesis import published_pilot


def _pilots(call, people, count: int) -> list[int]:
    async def make() -> list[int]:
        return [
            await published_pilot(
                people.product, [people.district], 0.1 * index, 0.1, title=f"Pilot {index}"
            )
            for index in range(count)
        ]

    return call(make)


def _next(response) -> str | None:
    link = response.headers.get("link")
    if link is None:
        return None
    match = re.fullmatch(r'<([^>]+)>; rel="next"', link)
    assert match, link
    return match.group(1)


def test_the_findings_api_pages_by_cursor_to_the_last_page(client, call, people):
    pilots = _pilots(call, people, 5)
    seen, pages = [], 0
    address = "/api/v1/network/findings?limit=2"
    while address:
        response = client.get(address)
        assert response.status_code == 200
        rows = response.json()
        assert len({row["pilot_id"] for row in rows}) <= 2
        seen += rows
        pages += 1
        address = _next(response)
        if address:
            assert parse_qs(urlparse(address).query)["limit"] == ["2"]
    assert pages == 3  # 2 + 2 + 1, and the last page has no next link
    assert [row["pilot_id"] for row in seen] == sorted(pilots)
    # Without a limit a page holds up to 100 findings: all five, with no next page.
    whole = client.get("/api/v1/network/findings")
    assert whole.json() == seen and "link" not in whole.headers


def test_a_cursor_the_service_did_not_give_is_a_clear_400(client, call, people):
    _pilots(call, people, 1)
    for cursor in ("nonsense", "eyJ4IjogMX0=", "eyJhZnRlcl9waWxvdCI6IC0xfQ=="):
        response = client.get(f"/api/v1/network/findings?cursor={cursor}")
        assert response.status_code == 400, cursor
        body = response.json()
        assert "cursor" in json.dumps(body) and "next" in body["detail"]
        page = client.get(f"/network/findings.csv?cursor={cursor}")
        assert page.status_code == 400
    for limit in ("0", "501", "many"):
        assert client.get(f"/api/v1/network/findings?limit={limit}").status_code == 400


def test_the_streamed_download_holds_exactly_the_paged_rows(client, call, people):
    _pilots(call, people, 5)
    paged_csv, address = [], "/network/findings.csv?limit=2"
    while address:
        response = client.get(address)
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/csv")
        paged_csv += list(csv.DictReader(io.StringIO(response.text)))
        address = _next(response)
    streamed = client.get("/network/findings.csv")
    assert streamed.headers["content-disposition"] == (
        'attachment; filename="network-findings.csv"'
    )
    assert "content-length" not in streamed.headers  # streamed, not built whole
    assert list(csv.DictReader(io.StringIO(streamed.text))) == paged_csv
    assert len(paged_csv) == 5
    paged_json, address = [], "/api/v1/network/findings?limit=3"
    while address:
        response = client.get(address)
        paged_json += response.json()
        address = _next(response)
    assert client.get("/network/findings.json").json() == paged_json


def test_the_openapi_document_describes_the_pages(client):
    schema = client.get("/schema/openapi.json").json()
    operation = schema["paths"]["/api/v1/network/findings"]["get"]
    parameters = {parameter["name"]: parameter for parameter in operation["parameters"]}
    assert parameters["limit"]["schema"]["maximum"] == 500
    assert "Link" in parameters["cursor"]["description"]
    assert "Link" in operation["responses"]["200"]["headers"]
    assert "400" in operation["responses"]


def _publish(client, call, people) -> int:
    from testbed.tables import Pilot

    study = call(seed_study, people)
    sign_in(client, "vendor")
    run = post_form(client, f"/pilots/{study.pilot}/findings/run")
    finding_id = int(re.fullmatch(r"/findings/(\d+)", run.headers["location"]).group(1))
    post_form(client, f"/findings/{finding_id}/approval", {"decision": "approve"})
    with other_browser(client):
        sign_in(client, "district")
        post_form(client, f"/findings/{finding_id}/approval", {"decision": "approve"})
    call(lambda: Pilot.update({Pilot.status: "analysis"}).where(Pilot.id == study.pilot))
    published = post_form(client, f"/findings/{finding_id}/publish", {"confirm": "yes"})
    assert published.status_code == 302, published.text
    return int(published.headers["location"].rsplit("/", 1)[1])


def test_the_kept_dashboard_follows_publication_and_retraction(client, call, people):
    before = client.get("/api/v1/network/dashboard").json()
    assert before["published_findings"] == 0
    assert client.get("/api/v1/network/dashboard").json() == before  # kept, unchanged
    finding_id = _publish(client, call, people)
    published = client.get("/api/v1/network/dashboard").json()
    assert published["published_findings"] == 1
    assert published["by_status"]["published"] == before["by_status"]["published"] + 1
    retracted = post_form(
        client, f"/findings/{finding_id}/retract", {"confirm": "yes", "reason": "scoring error"}
    )
    assert retracted.status_code == 302
    assert client.get("/api/v1/network/dashboard").json()["published_findings"] == 0
    # The export follows too: the finding's rows are flagged retracted.
    rows = client.get("/api/v1/network/findings").json()
    assert rows and {row["finding_id"] for row in rows} == {finding_id}
    assert all(row["retracted"] for row in rows)


def test_plots_are_stored_when_published_and_served_after_a_restart(
    client, call, people, monkeypatch
):
    from testbed import drawings
    from testbed.tables import Drawing

    finding_id = _publish(client, call, people)
    subjects = {row["subject"] for row in call(lambda: Drawing.select(Drawing.subject))}
    version = f"@{drawings.VERSION}"
    assert {f"finding:{finding_id}{version}", f"product:{people.product}{version}"} == subjects
    with other_browser(client):
        before = client.get(f"/findings/{finding_id}").text
        evidence_before = client.get(f"/products/{people.product}/evidence").text

        # A restarted worker: nothing in memory, and drawing is not allowed.
        plots._drawn.clear()
        from testbed.findings import services

        services._shown_cache.clear()

        def refuse(*arguments):
            raise AssertionError("drawn again instead of read from the database")

        for drawing in (plots.distribution, plots.effects, plots.subgroups):
            monkeypatch.setattr(drawing, "draw", refuse)
        from testbed.synthesis import plots as synthesis_plots

        monkeypatch.setattr(synthesis_plots.forest, "draw", refuse)
        after = client.get(f"/findings/{finding_id}").text
        assert client.get(f"/products/{people.product}/evidence").text == evidence_before
    assert after == before and after.count("<svg") >= 3


def test_a_stored_plot_is_never_shown_to_another_audience(client, call, people):
    """The public and the site district see different subgroup plots (the district sees its
    own small cells); both are stored, and each audience is served its own after a restart."""
    from testbed.findings import services

    finding_id = _publish(client, call, people)

    def subgroup_plot(page: str) -> str:
        start = page.index('<title id="subgroups-title">')
        return page[page.rindex("<svg", 0, start) : page.index("</svg>", start)]

    with other_browser(client):
        public = subgroup_plot(client.get(f"/findings/{finding_id}").text)
        sign_in(client, "district")
        own = subgroup_plot(client.get(f"/findings/{finding_id}").text)
    plots._drawn.clear()
    services._shown_cache.clear()
    with other_browser(client):
        sign_in(client, "district")
        assert subgroup_plot(client.get(f"/findings/{finding_id}").text) == own
    with other_browser(client):
        assert subgroup_plot(client.get(f"/findings/{finding_id}").text) == public
    assert "English learners: yes" not in public


def test_the_warm_up_draws_what_nobody_drew(client, call, people):
    from testbed import drawings
    from testbed.tables import Drawing

    finding_id = _publish(client, call, people)
    call(lambda: Drawing.delete(force=True))  # as for findings from before stored drawings
    assert call(drawings.warm_up) == 1  # the finding, and with it its product's evidence
    assert call(drawings.warm_up) == 0  # nothing left
    subjects = {row["subject"] for row in call(lambda: Drawing.select(Drawing.subject))}
    version = f"@{drawings.VERSION}"
    assert subjects == {f"finding:{finding_id}{version}", f"product:{people.product}{version}"}


def test_products_with_the_same_empty_plot_are_each_drawn_once(client, call, people):
    """Two products with nothing to pool (before/after pilots only) show the same empty forest
    plot, stored once; each is still recorded as drawn, so no start draws them again."""
    from testbed import drawings
    from tests import factories

    async def products() -> list[int]:
        second = await factories.product(people.vendor, name="ReadQuest")
        for product in (people.product, second):
            await published_pilot(product, [people.district], 0.2, 0.1, design_type="pre_post")
        return [people.product, second]

    from testbed.tables import Drawing, Finding

    def not_drawn() -> list[int]:
        query = drawings.EVIDENCE_NOT_DRAWN_SQL
        rows = call(lambda: Finding.raw(query, f"@{drawings.VERSION}"))
        return sorted(row["product"] for row in rows)

    both = call(products)
    assert not_drawn() == sorted(both)
    for product in both:
        call(drawings.draw_evidence, product)
    assert not_drawn() == []
    empty = call(lambda: Drawing.select(Drawing.key).where(Drawing.subject.like("product:%")))
    assert len(empty) == 3  # the one empty plot, and a record of each product drawn
