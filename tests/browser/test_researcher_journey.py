"""A researcher's work in headless Chromium against the demo network: from "Your work" to the
design they were asked to write (edited, saved, registered), then a pilot in analysis whose
finding they run, the pooled evidence on its product and the network dashboard.

Every page is checked at 1280 px and at 390 px (tests/browser/journeys.py); screenshots go to
artifacts/browser-journey/researcher/<width>/.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tests.browser.journeys import ACTION_TIMEOUT_MS, RESEARCHER, Journey, sign_in

# Demo pilots the researcher has a role on (testbed/demo/generate.py: the first pilot of each
# status from matching on): one waits for its design, one is in analysis.
DESIGN_PILOT = "HeartLaunch Builder in grades 9–12"
ANALYSIS_PILOT = "MathQuest Adaptive in grades 9–10"


@pytest.mark.browser
def test_a_researcher_registers_a_design_and_runs_a_finding(page: Page) -> None:
    expect.set_options(timeout=ACTION_TIMEOUT_MS)
    journey = Journey()
    researcher = sign_in(page, RESEARCHER)
    journey.screenshot(researcher, "researcher", "work")

    asked = re.compile(f"register the design of “{DESIGN_PILOT}”")
    researcher.get_by_role("link", name=asked).click()
    expect(researcher.get_by_role("heading", name="Study design", level=1)).to_be_visible()
    journey.screenshot(researcher, "researcher", "design")
    researcher.get_by_role("link", name="Edit the draft").click()
    researcher.get_by_label("Planned students per site").fill("400")
    journey.screenshot(researcher, "researcher", "design-form")
    researcher.get_by_role("button", name="Save the draft").click()
    expect(researcher.locator("p.saved")).to_contain_text("The draft design is saved.")
    journey.screenshot(researcher, "researcher", "design-draft")
    register = researcher.get_by_role("button", name=re.compile(r"^Register version \d+$"))
    researcher.get_by_label("will be frozen", exact=False).check()
    register.click()
    version = researcher.get_by_role("heading", name=re.compile(r"^Design version \d+$"))
    expect(version).to_be_visible()
    journey.screenshot(researcher, "researcher", "design-registered")

    # A pilot in analysis: its data quality, then its finding, run again on the current data.
    researcher.get_by_role("link", name="Pilot calls").click()
    researcher.get_by_label("Search titles, research questions and products").fill(ANALYSIS_PILOT)
    researcher.get_by_role("button", name="Filter").click()
    researcher.get_by_role("link", name=ANALYSIS_PILOT, exact=True).click()
    journey.screenshot(researcher, "researcher", "pilot")
    pilot_url = researcher.url
    researcher.goto(f"{pilot_url}/data")
    journey.screenshot(researcher, "researcher", "data-quality")
    researcher.goto(f"{pilot_url}/findings")
    researcher.get_by_role("button", name="Run the analysis").click()
    expect(researcher.get_by_role("region", name="The result").locator(".headline")).to_be_visible()
    journey.screenshot(researcher, "researcher", "finding")

    researcher.get_by_role("link", name="Products").click()
    researcher.get_by_label("Search names and descriptions").fill("MathQuest Adaptive")
    researcher.get_by_role("button", name="Filter").click()
    researcher.get_by_role("link", name="MathQuest Adaptive", exact=True).click()
    researcher.get_by_role("link", name=re.compile("the network's published pilots found")).click()
    journey.screenshot(researcher, "researcher", "evidence")
    researcher.get_by_role("link", name="Network dashboard").click()
    journey.screenshot(researcher, "researcher", "dashboard")

    journey.at_phone_width()
    assert journey.problems == [], "\n".join(journey.problems)
