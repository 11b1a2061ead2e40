"""A forgotten password in headless Chromium against a real server without a mail server: the
person asks for a link, the network admin finds the message on /admin/outbox (the .eml outbox),
and the link sets a new password the person then signs in with."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tests.browser.journeys import ADMIN, PASSWORD, sign_in

# A demo account no other browser test signs in with (its password changes here).
PERSON = "founder@quillstone.example"
NEW_PASSWORD = "lantern-harbor-quartz-31"


@pytest.mark.browser
def test_forgot_password_through_the_outbox(page: Page, base_url: str, browser) -> None:
    page.set_default_timeout(30_000)
    page.goto("/login")
    page.get_by_role("link", name="Forgot your password?").click()
    page.get_by_label("Email").fill(PERSON)
    page.get_by_role("button", name="Send the link").click()
    expect(page.get_by_text(f"If an account uses {PERSON}")).to_be_visible()

    admin = sign_in(browser.new_context(base_url=base_url).new_page(), ADMIN)
    link = None
    for _ in range(40):  # the background sender writes the .eml within a few seconds
        admin.goto("/admin/outbox")
        match = re.search(rf"{re.escape(base_url)}/password/reset/[A-Za-z0-9_-]+", admin.content())
        if match:
            link = match.group(0)
            break
        admin.wait_for_timeout(500)
    assert link, "the reset message did not reach the outbox"
    expect(admin.get_by_text(PERSON).first).to_be_visible()

    page.goto(link)
    expect(page.get_by_role("heading", name="Choose a new password")).to_be_visible()
    page.locator("#f-new_password").fill(NEW_PASSWORD)
    page.locator("#f-new_password_again").fill(NEW_PASSWORD)
    page.get_by_role("button", name="Set the new password").click()
    expect(page.get_by_text("Sign in with the new password")).to_be_visible()
    page.get_by_label("Email").fill(PERSON)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_text("The email or password is not right.")).to_be_visible()
    page.get_by_label("Email").fill(PERSON)
    page.get_by_label("Password").fill(NEW_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()
    # The link worked once.
    page.goto(link)
    expect(page.get_by_text("already been used")).to_be_visible()
