"""The whole journey of a pilot in headless Chromium, person by person, against a real server.

An entrepreneur lists a product and opens a call; a district volunteers; a matching round
proposes it and both sides accept; the network admin runs a network round; the entrepreneur
writes and registers a design; the district uploads a bad file, then a good one; the admin moves
the pilot to analysis; the finding is run, approved by both sides and published; an anonymous
visitor reads it and the evidence on a product. Each person is a browser context of their own,
signed in through /login. The server runs on SQLite in a temporary data directory (also when
DATABASE_URL is set: the journey does not depend on the database, and it must not touch the
suite's database).

Every page each person passes is checked at 1280 px and again at 390 px (tests/browser/
journeys.py); screenshots go to artifacts/browser-journey/<person>/<width>/ (kept by CI).
"""

from __future__ import annotations

import csv
import io
import random
import re
from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import BrowserContext, Page, expect

from tests.browser.journeys import (
    ACTION_TIMEOUT_MS,
    ADMIN,
    COORDINATOR,
    DESKTOP,
    FOUNDER,
    SCREENSHOTS,
    Journey,
    sign_in,
)

DISTRICT = "Cedar Hollow Unified"
PRODUCT = "StoryLoop Reading Coach"
CALL = "StoryLoop in grades 1–2"
OUTCOME = "reading_score"
STUDENTS_PER_ARM = 60
BAD_ROW = 5  # as a spreadsheet numbers it: the header is row 1
# A demo product with several published pilots: its evidence page pools them.
POOLED_PRODUCT = "MathQuest Adaptive"


def outcome_file(header: list[str], *, bad_row: int | None = None) -> str:
    """A CSV on the pilot's template: STUDENTS_PER_ARM students per arm and a clear effect
    (about 0.8 SD); with bad_row, that row's score is outside the instrument's 0–100."""
    draw = random.Random(2026)
    rows = []
    for number in range(2 * STUDENTS_PER_ARM):
        arm = "treatment" if number % 2 == 0 else "control"
        score = draw.gauss(60 if arm == "treatment" else 52, 10)
        values = {
            "student_key": f"CH-{number + 1:04d}",
            "arm": arm,
            "frl": draw.choice(["yes", "no"]),
            "gender": draw.choice(["f", "m"]),
            "dosage": "" if arm == "control" else str(draw.randint(200, 600)),
            OUTCOME: f"{min(max(score, 0), 100):.1f}",
        }
        rows.append([values.get(column, "") for column in header])
    if bad_row is not None:
        rows[bad_row - 2][header.index(OUTCOME)] = "140"
    text = io.StringIO()
    csv.writer(text, lineterminator="\n").writerows([header, *rows])
    return text.getvalue()


def pilot_id_from(page: Page) -> int:
    match = re.search(r"/pilots/(\d+)", page.url)
    assert match, page.url
    return int(match.group(1))


@pytest.mark.browser
def test_a_pilot_from_listing_to_published_finding(
    page: Page,
    new_context: Callable[..., BrowserContext],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    expect.set_options(timeout=ACTION_TIMEOUT_MS)
    journey = Journey()
    founder = sign_in(page, FOUNDER)
    coordinator = sign_in(new_context().new_page(), COORDINATOR)
    admin = sign_in(new_context().new_page(), ADMIN)
    journey.screenshot(founder, "vendor", "work")
    journey.screenshot(coordinator, "district", "work")
    journey.screenshot(admin, "admin", "work")

    # 1. The entrepreneur lists a product and opens a call for it, fitting Cedar Hollow's
    # open need (early reading, grades K–2, iPads).
    founder.goto("/products/new")
    founder.get_by_label("Product name").fill(PRODUCT)
    founder.get_by_label("Description").fill("Daily read-aloud practice with feedback on fluency.")
    founder.get_by_role("group", name="Grade bands").get_by_label("Grades K–2").check()
    founder.get_by_role("group", name="Subjects").get_by_label("Reading and writing").check()
    founder.get_by_role("group", name="Pillars").get_by_label(
        "Transforming teaching and learning"
    ).check()
    founder.get_by_role("group", name="Platforms it runs on").get_by_label("iPads").check()
    founder.get_by_label("Student data the product collects").fill("usage logs, voice recordings")
    founder.get_by_label("Privacy policy link").fill("https://storyloop.example/privacy")
    journey.screenshot(founder, "vendor", "product-form")
    founder.get_by_role("button", name="List the product").click()
    expect(founder.get_by_role("heading", name=PRODUCT, level=1)).to_be_visible()
    expect(founder.get_by_role("status")).to_have_text("The product is saved.")
    journey.screenshot(founder, "vendor", "product-listed")

    founder.get_by_role("link", name="Open a pilot call for it").click()
    founder.get_by_label("Title").fill(CALL)
    founder.get_by_label("Research question").fill(
        "Does ten minutes of coached reading a day raise grade 1–2 reading scores?"
    )
    grades = founder.get_by_role("group", name="Grades", exact=True)
    grades.get_by_label("Grade 1", exact=True).check()
    grades.get_by_label("Grade 2", exact=True).check()
    founder.get_by_role("group", name="Subjects").get_by_label("Reading and writing").check()
    founder.get_by_role("group", name="Pillars").get_by_label(
        "Transforming teaching and learning"
    ).check()
    founder.get_by_label("Sites wanted").fill("1")
    founder.get_by_label("Students per site").fill("120")
    founder.get_by_label("Length in weeks").fill("10")
    founder.get_by_label("Devices required").fill("one iPad per student")
    founder.get_by_label("Training hours for teachers").fill("2")
    journey.screenshot(founder, "vendor", "call-form")
    founder.get_by_role("button", name="Save as a draft").click()
    expect(founder.get_by_role("heading", name=CALL)).to_be_visible()
    pilot_id = pilot_id_from(founder)
    founder.get_by_role("button", name="Open the call to districts").click()
    expect(founder.get_by_text("status: Open for volunteers")).to_be_visible()
    journey.screenshot(founder, "vendor", "call-opened")

    # 2. The district coordinator volunteers.
    coordinator.goto(f"/pilots/{pilot_id}/volunteer")
    expect(coordinator.get_by_role("heading", name=f"Volunteer to host “{CALL}”")).to_be_visible()
    coordinator.get_by_label("Students you can include").fill("120")
    coordinator.get_by_label("A note for the vendor").fill("Our grade 1–2 teachers are keen.")
    journey.screenshot(coordinator, "district", "volunteer-form")
    coordinator.get_by_role("button", name="Volunteer", exact=True).click()
    expect(coordinator.locator("p.saved")).to_contain_text("Your offer to host is saved")
    expect(coordinator.get_by_text("Capacity offered: 120 students")).to_be_visible()
    journey.screenshot(coordinator, "district", "volunteered")

    # 3. The match: the entrepreneur closes the call and runs a round; both sides accept.
    founder.goto(f"/pilots/{pilot_id}")
    founder.get_by_role("button", name="Close the call and start matching").click()
    expect(founder.get_by_text("status: Choosing sites")).to_be_visible()
    founder.get_by_role("link", name="Volunteers, fit and matching").click()
    journey.screenshot(founder, "vendor", "volunteers")
    founder.get_by_label("the districts proposed will be notified", exact=False).check()
    founder.get_by_role("button", name="Run a matching round for this call").click()
    expect(founder.get_by_text(DISTRICT).first).to_be_visible()
    journey.screenshot(founder, "vendor", "matching-round")

    coordinator.goto("/matching")
    journey.screenshot(coordinator, "district", "proposals")
    coordinator.get_by_role("button", name=f"Accept “{CALL}”").click()
    expect(coordinator.locator("p.saved")).to_contain_text("Accepted.")
    journey.screenshot(coordinator, "district", "accepted")

    founder.goto(f"/pilots/{pilot_id}/volunteers")
    founder.get_by_role("button", name=f"Accept {DISTRICT}").click()
    expect(founder.get_by_text("1 of 1 site(s) confirmed")).to_be_visible()
    journey.screenshot(founder, "vendor", "site-accepted")

    founder.goto(f"/pilots/{pilot_id}")
    founder.get_by_role("button", name="Start the pilot").click()
    expect(founder.get_by_text("status: Running")).to_be_visible()
    journey.screenshot(founder, "vendor", "pilot-started")

    # 4. The network admin runs a network-wide round for the calls still choosing sites.
    admin.get_by_role("link", name="Matching", exact=True).click()
    journey.screenshot(admin, "admin", "matching")
    admin.get_by_label("every district and vendor proposed will be notified", exact=False).check()
    admin.get_by_role("button", name="Run a network matching round").click()
    expect(admin.locator("p.saved")).to_contain_text("The matching round ran")
    journey.screenshot(admin, "admin", "network-round")

    # 5. The entrepreneur writes and registers the design.
    founder.goto(f"/pilots/{pilot_id}/design")
    founder.get_by_role("link", name="Write the design").click()
    founder.get_by_label("Research questions").fill(
        "Does coached reading raise end-of-term reading scores in grades 1–2?"
    )
    founder.get_by_label("Design type").select_option("rct")
    founder.get_by_label("Unit of assignment").select_option("student")
    founder.get_by_label("Arms").fill("treatment, control")
    outcome = founder.get_by_role("group", name="Outcome 1", exact=True)
    outcome.get_by_label("Name", exact=True).fill(OUTCOME)
    outcome.get_by_label("What is measured").fill("End-of-term reading score")
    outcome.get_by_label("Primary outcome").check()
    outcome.get_by_label("Kind").select_option("continuous")
    outcome.get_by_label("Direction").select_option("higher_is_better")
    outcome.get_by_label("Instrument").fill("District reading benchmark")
    outcome.get_by_label("Unit").fill("points")
    outcome.get_by_label("Lowest possible value").fill("0")
    outcome.get_by_label("Highest possible value").fill("100")
    founder.get_by_label("Minimum meaningful effect").fill("0.2")
    founder.get_by_label("Planned sites").fill("1")
    founder.get_by_label("Planned students per site").fill("120")
    journey.screenshot(founder, "vendor", "design-form")
    founder.get_by_role("button", name="Save the draft").click()
    expect(founder.locator("p.saved")).to_contain_text("The draft design is saved.")
    journey.screenshot(founder, "vendor", "design-draft")
    founder.get_by_label("version 1 will be frozen", exact=False).check()
    founder.get_by_role("button", name="Register version 1").click()
    expect(founder.get_by_role("heading", name="Design version 1")).to_be_visible()
    expect(founder.get_by_role("region", name="Verify this registration")).to_contain_text(
        "They match: this is exactly the design that was registered."
    )
    journey.screenshot(founder, "vendor", "design-registered")

    # 6. The district uploads a bad file (a score out of range), then a good one.
    template = coordinator.request.get(f"/pilots/{pilot_id}/data/template.csv")
    assert template.ok, template.status
    header = next(csv.reader(io.StringIO(template.text())))
    assert OUTCOME in header, header
    bad_file = tmp_path / "outcomes-bad.csv"
    bad_file.write_text(outcome_file(header, bad_row=BAD_ROW))
    good_file = tmp_path / "outcomes.csv"
    good_file.write_text(outcome_file(header))

    coordinator.goto(f"/pilots/{pilot_id}/data")
    coordinator.get_by_role("link", name=f"Upload data for {DISTRICT}").click()
    journey.screenshot(coordinator, "district", "upload-form")
    coordinator.get_by_label("CSV file").set_input_files(bad_file)
    coordinator.get_by_role("button", name="Check and upload").click()
    problems = coordinator.get_by_role("table", name=re.compile("Problems"))
    expect(problems.get_by_role("row", name=re.compile(rf"^{BAD_ROW} {OUTCOME} "))).to_be_visible()
    journey.screenshot(coordinator, "district", "bad-upload-refused")

    coordinator.get_by_role("link", name="Upload another file").click()
    coordinator.get_by_label("CSV file").set_input_files(good_file)
    coordinator.get_by_role("button", name="Check and upload").click()
    # The job page refreshes itself until the upload is done.
    expect(coordinator.get_by_role("status").last).to_contain_text(
        f"Stored. {2 * STUDENTS_PER_ARM} rows are now this site's current data"
    )
    journey.screenshot(coordinator, "district", "data-stored")
    coordinator.goto(f"/pilots/{pilot_id}/data")
    journey.screenshot(coordinator, "district", "data-quality")

    # 7. The admin moves the pilot to analysis; the entrepreneur runs the finding; both sides
    # approve; the entrepreneur publishes (no embargo).
    admin.goto(f"/pilots/{pilot_id}")
    admin.get_by_role("button", name="Move to analysis").click()
    expect(admin.get_by_text("status: Being analysed")).to_be_visible()
    journey.screenshot(admin, "admin", "moved-to-analysis")

    founder.goto(f"/pilots/{pilot_id}/findings")
    journey.screenshot(founder, "vendor", "findings")
    founder.get_by_role("button", name="Run the analysis").click()
    expect(founder.get_by_text("not published: only the pilot's participants")).to_be_visible()
    headline = founder.get_by_role("region", name="The result").locator(".headline")
    expect(headline).to_contain_text("standard deviations higher")
    headline_text = headline.inner_text()
    journey.screenshot(founder, "vendor", "finding-computed")
    finding_url = founder.url
    founder.get_by_label("Approve publication").check()
    founder.get_by_role("button", name="Record the vendor's decision").click()
    expect(founder.get_by_role("row", name="The vendor (whole finding)")).to_contain_text("approve")

    coordinator.goto(finding_url)
    coordinator.get_by_label("Approve: include our site").check()
    coordinator.get_by_role("button", name="Record our decision").click()
    expect(coordinator.get_by_role("row", name=DISTRICT)).to_contain_text("approve")
    journey.screenshot(coordinator, "district", "finding-approved")

    founder.goto(finding_url)
    founder.get_by_label("the finding will be public for good", exact=False).check()
    founder.get_by_role("button", name="Publish this finding").click()
    expect(founder.get_by_text("published on")).to_be_visible()
    journey.screenshot(founder, "vendor", "finding-published")

    # 8. An anonymous visitor finds it in the list, reads the headline, then the pooled evidence
    # on a product the network has piloted several times.
    visitor = new_context(viewport=DESKTOP).new_page()
    visitor.set_default_timeout(ACTION_TIMEOUT_MS)
    visitor.goto("/findings")
    expect(visitor.get_by_role("link", name="Sign in")).to_be_visible()
    journey.screenshot(visitor, "visitor", "findings")
    visitor.get_by_role("link", name=CALL).first.click()
    expect(visitor.locator(".headline")).to_have_text(headline_text)
    journey.screenshot(visitor, "visitor", "finding")
    visitor.get_by_role("link", name="Products").click()
    visitor.get_by_label("Search names and descriptions").fill(POOLED_PRODUCT)
    visitor.get_by_role("button", name="Filter").click()
    visitor.get_by_role("link", name=POOLED_PRODUCT, exact=True).click()
    visitor.get_by_role("link", name=re.compile("the network's published pilots found")).click()
    expect(visitor.get_by_role("heading", name=re.compile(POOLED_PRODUCT))).to_be_visible()
    journey.screenshot(visitor, "visitor", "evidence")

    # 9. Every page of the journey again, as the same person, in a phone's window.
    journey.at_phone_width()
    assert journey.problems == [], "\n".join(journey.problems)
    with capsys.disabled():
        print(f"\nScreenshots of the journey: {SCREENSHOTS}")
