"""The pages every real service has: about, help, privacy, terms, contact, glossary, robots.txt
and the favicon; reachable from every page's footer, without signing in."""

from __future__ import annotations

import re

import pytest
from litestar.testing import TestClient

from testbed.app import create_app
from testbed.info.pages import ROBOTS_TXT
from testbed.settings import Settings

PAGES = {
    "/about": "About Testbed",
    "/help": "how a pilot works here",
    "/privacy": "how student data are protected",
    "/terms": "Terms of use",
    "/contact": "Contact",
    "/glossary": "Glossary",
}


@pytest.mark.parametrize("path", PAGES)
def test_each_page_answers_html_to_an_anonymous_visitor_and_is_linked_from_the_footer(client, path):
    response = client.get(path)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert PAGES[path] in response.text
    footer = client.get("/").text.split('<footer class="site">', 1)[1]
    assert f'href="{path}"' in footer


def test_the_glossary_explains_every_technical_term_the_findings_use(client):
    page = client.get("/glossary").text
    for term in (
        "I²",
        "τ²",
        "REML",
        "Knapp–Hartung",
        "Q (Cochran",
        "Welch",
        "Rank-sum",
        "LP bound",
        "ICC",
        "MDES",
        "CR2",
        "ESSA",
    ):
        assert term in page, term
    # Every term is an anchor other pages can link to.
    anchors = re.findall(r'<dt id="([a-z0-9-]+)">', page)
    assert {
        "i2",
        "tau2",
        "reml",
        "knapp-hartung",
        "q",
        "welch",
        "rank-sum",
        "lp-bound",
        "icc",
        "mdes",
    } <= set(anchors)
    assert len(anchors) == len(set(anchors))


def test_help_has_a_section_for_each_role(client):
    page = client.get("/help").text
    for anchor in ("districts", "vendors", "researchers", "readers"):
        assert f'id="{anchor}"' in page


def test_the_contact_address_comes_from_the_settings(settings):
    configured = Settings(**{**settings.__dict__, "contact_email": "coordinators@district.example"})
    with TestClient(app=create_app(configured)) as client:
        page = client.get("/contact").text
    assert 'href="mailto:coordinators@district.example"' in page


def test_the_contact_address_defaults_to_a_reserved_example_domain(tmp_path):
    settings = Settings.from_env({"TESTBED_DATA_DIR": str(tmp_path), "TESTBED_SECRET_KEY": "k"})
    assert settings.contact_email == "help@testbed.example"
    custom = Settings.from_env(
        {
            "TESTBED_DATA_DIR": str(tmp_path),
            "TESTBED_SECRET_KEY": "k",
            "TESTBED_CONTACT_EMAIL": " staff@network.example ",
        }
    )
    assert custom.contact_email == "staff@network.example"


def test_robots_txt_keeps_crawlers_out_of_the_api_and_personal_pages(client):
    response = client.get("/robots.txt")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    assert response.text == ROBOTS_TXT
    for path in ("/api/", "/account", "/admin", "/login"):
        assert f"Disallow: {path}\n" in response.text
    assert "Disallow: /\n" not in response.text  # public calls, products and findings stay indexed


def test_the_favicon_is_an_svg_and_old_browsers_asking_for_favicon_ico_are_sent_to_it(client):
    assert 'rel="icon" href="/static/favicon.svg"' in client.get("/about").text
    moved = client.get("/favicon.ico", follow_redirects=False)
    assert moved.status_code == 301
    assert moved.headers["location"] == "/static/favicon.svg"
    icon = client.get("/static/favicon.svg")
    assert icon.status_code == 200
    assert icon.headers["content-type"].startswith("image/svg+xml")
    assert icon.text.startswith("<svg")
