"""A district coordinator's journey with the keyboard only: Tab, Shift+Tab, Enter and Space,
no mouse and no page.goto after the first page. From the home page: the skip link, sign in,
the pilot calls, one open call, and the form to volunteer for it.

Every element that takes focus on the way must show it (the :focus-visible outline), and each
page reached is checked like every other journey's (tests/browser/journeys.py); screenshots go
to artifacts/browser-journey/keyboard/1280/.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.browser.journeys import (
    ACTION_TIMEOUT_MS,
    COORDINATOR,
    DESKTOP,
    PASSWORD,
    Journey,
)

# An open demo call Cedar Hollow has not volunteered for (no other browser test touches it).
OPEN_CALL = "ReadQuest Adaptive in grades 3–5"
MOST_TABS = 80

# What has focus: its tag, its name as a person would read it, whether it is in <main> or
# the header, and the outline the browser draws around it.
_FOCUSED_JS = """
() => {
  const element = document.activeElement;
  const style = getComputedStyle(element);
  const label = element.labels && element.labels.length ? element.labels[0].innerText : '';
  const box = element.getBoundingClientRect();
  return {
    tag: element.tagName.toLowerCase(),
    type: element.getAttribute('type') || '',
    text: (element.innerText || element.value || '').trim(),
    label: label.replace('*', '').trim(),
    inMain: Boolean(element.closest('main')),
    outline: style.outlineStyle !== 'none' && parseFloat(style.outlineWidth) >= 2,
    onScreen: box.right > 0 && box.bottom > 0 && box.left < window.innerWidth,
  };
}
"""


class Keyboard:
    """Moves focus with Tab or Shift+Tab until the wanted element has it, checking on the
    way that every focused element shows its focus."""

    def __init__(self, page: Page) -> None:
        self.page = page
        self.unseen_focus: list[str] = []

    def focused(self) -> dict[str, Any]:
        return self.page.evaluate(_FOCUSED_JS)

    def tab_to(self, wanted: Callable[[dict[str, Any]], bool], *, backwards: bool = False):
        for _ in range(MOST_TABS):
            self.page.keyboard.press("Shift+Tab" if backwards else "Tab")
            focus = self.focused()
            if focus["tag"] == "body":
                continue  # between the page and the browser's own controls
            if not (focus["outline"] and focus["onScreen"]):
                self.unseen_focus.append(f"{self.page.url}: {focus}")
            if wanted(focus):
                return focus
        raise AssertionError(f"no focusable element matched within {MOST_TABS} presses")


def link(text: str) -> Callable[[dict[str, Any]], bool]:
    return lambda focus: focus["tag"] == "a" and focus["text"] == text


def field(label: str) -> Callable[[dict[str, Any]], bool]:
    return lambda focus: (
        focus["tag"] in ("input", "textarea", "select") and focus["label"].startswith(label)
    )


def button(text: str) -> Callable[[dict[str, Any]], bool]:
    return lambda focus: focus["tag"] == "button" and focus["text"] == text


@pytest.mark.browser
def test_volunteering_for_a_call_with_the_keyboard_only(page: Page) -> None:
    expect.set_options(timeout=ACTION_TIMEOUT_MS)
    page.set_default_timeout(ACTION_TIMEOUT_MS)
    page.set_viewport_size(DESKTOP)
    journey = Journey()
    keys = Keyboard(page)
    page.goto("/")

    # The first Tab reaches the skip link, shown on screen; Enter skips the navigation, so the
    # next Tab lands in the page's main content.
    first = keys.tab_to(lambda focus: True)
    assert first["text"] == "Skip to content" and first["onScreen"], first
    page.keyboard.press("Enter")
    assert page.url.endswith("#main")
    assert keys.tab_to(lambda focus: True)["inMain"]
    journey.screenshot(page, "keyboard", "home")

    # Back up into the navigation to sign in.
    keys.tab_to(link("Sign in"), backwards=True)
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    keys.tab_to(field("Email"))
    page.keyboard.type(COORDINATOR)
    keys.tab_to(field("Password"))
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()
    journey.screenshot(page, "keyboard", "signed-in")

    keys.tab_to(link("Pilot calls"))
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Pilot calls")).to_be_visible()
    keys.tab_to(link(OPEN_CALL))
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name=OPEN_CALL)).to_be_visible()
    journey.screenshot(page, "keyboard", "call")

    keys.tab_to(link("Volunteer your district to host this pilot"))
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name=f"Volunteer to host “{OPEN_CALL}”")).to_be_visible()
    keys.tab_to(field("Students you can include"))
    page.keyboard.press("Control+A")
    page.keyboard.type("90")
    journey.screenshot(page, "keyboard", "volunteer-form")
    keys.tab_to(button("Volunteer"))
    page.keyboard.press("Space")
    expect(page.locator("p.saved")).to_contain_text("Your offer to host is saved")
    expect(page.get_by_text("Capacity offered: 90 students")).to_be_visible()
    journey.screenshot(page, "keyboard", "volunteered")

    assert keys.unseen_focus == []
    assert journey.problems == [], "\n".join(journey.problems)
