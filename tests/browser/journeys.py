"""What every browser journey checks on every page it passes, and where its screenshots go.

Each page a person reaches is checked as it is shown: axe-core (WCAG 2.0 and 2.1, levels A and
AA) finds no violation and no "needs review" item that is not reviewed below, and the page is
no wider than the window (document.documentElement.scrollWidth <= innerWidth). Every page is
then opened again by the same person in a phone's window (390 px) and checked the same way.
Screenshots: artifacts/browser-journey/<role>/<width>/NN-step.png.
"""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Page, expect

PASSWORD = "testbed-demo-2026"
FOUNDER = "founder@brightpath.example"
COORDINATOR = "coordinator@cedar-hollow.example"
RESEARCHER = "researcher@northfield-research.example"
ADMIN = "admin@testbed.example"

SCREENSHOTS = Path(__file__).resolve().parents[2] / "artifacts" / "browser-journey"
ACTION_TIMEOUT_MS = 30_000
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
# WCAG 2.1 AA for text of normal size (1.4.3).
MIN_CONTRAST = 4.5
AXE = Axe()

# axe's "needs review" (incomplete) results the suite accepts: only colour contrast axe cannot
# compute, and each is measured here instead (`_measured_contrast`); anything else fails.
REVIEWED = {
    "svg text": (
        "text inside an SVG plot: axe does not compute colours inside SVG (it reports an image "
        "node or an overlapping shape); its fill is measured against the plot's background"
    ),
    "scrolled cell": (
        "a cell of a table that scrolls inside its own box: axe sees the part scrolled out of "
        "view as obscured; its colour is measured against the background behind the table"
    ),
}

# For the element an axe result names: what it is (SVG text, a cell of a table that scrolls
# sideways) and its foreground and background colours as the browser computed them.
_COLOURS_JS = """
(selector) => {
  const element = document.querySelector(selector);
  if (!element) return null;
  const svg = element.closest('svg');
  const table = element.closest('table');
  const style = getComputedStyle(element);
  let holder = svg || element;
  let background = 'rgb(255, 255, 255)';
  while (holder) {
    const colour = getComputedStyle(holder).backgroundColor;
    if (colour && colour !== 'transparent' && !/rgba\\(.*,\\s*0\\)$/.test(colour)) {
      background = colour;
      break;
    }
    holder = holder.parentElement;
  }
  return {
    svg: Boolean(svg),
    scrolled: Boolean(table) && table.scrollWidth > table.clientWidth,
    foreground: svg ? style.fill : style.color,
    background: background,
  };
}
"""


def _luminance(colour: str) -> float:
    red, green, blue = (int(part) for part in re.findall(r"\d+", colour)[:3])

    def channel(value: int) -> float:
        value /= 255
        return value / 12.92 if value <= 0.04045 else ((value + 0.055) / 1.055) ** 2.4

    return 0.2126 * channel(red) + 0.7152 * channel(green) + 0.0722 * channel(blue)


def contrast(foreground: str, background: str) -> float:
    """WCAG contrast ratio of two CSS rgb() colours."""
    lighter, darker = sorted((_luminance(foreground), _luminance(background)), reverse=True)
    return (lighter + 0.05) / (darker + 0.05)


@dataclass
class Journey:
    """Numbered full-page screenshots per person, one per step, each page checked as shown."""

    root: Path = SCREENSHOTS
    problems: list[str] = field(default_factory=list)
    seen: list[tuple[Page, str, str, str]] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)

    def _path(self, role: str, width: int, step: str, number: int) -> Path:
        folder = self.root / role / str(width)
        folder.mkdir(parents=True, exist_ok=True)
        return folder / f"{number:02d}-{step}.png"

    def screenshot(self, page: Page, role: str, step: str) -> None:
        if role not in self.counts:
            shutil.rmtree(self.root / role, ignore_errors=True)
        self.counts[role] = number = self.counts.get(role, 0) + 1
        width = page.viewport_size["width"] if page.viewport_size else DESKTOP["width"]
        page.screenshot(path=self._path(role, width, step, number), full_page=True)
        self.check(page, f"{role} {number:02d}-{step} at {width} px")
        self.seen.append((page, role, page.url, f"{number:02d}-{step}"))

    def check(self, page: Page, where: str) -> None:
        widths = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
        if widths[0] > widths[1]:
            self.problems.append(f"{where}: {widths[0]} px wide in a {widths[1]} px window")
        # Passing results are not listed: on a long page listing them took seconds.
        options = {"runOnly": WCAG_TAGS, "resultTypes": ["violations", "incomplete"]}
        results = AXE.run(page, options=options).response
        for violation in results["violations"]:
            targets = [node["target"] for node in violation["nodes"]][:3]
            rule = f"{violation['id']} ({violation['help']})"
            self.problems.append(f"{where}: axe {rule} at {targets}")
        for item in results["incomplete"]:
            for node in item["nodes"]:
                problem = self._unreviewed(page, item["id"], node)
                if problem:
                    self.problems.append(f"{where}: axe needs review: {item['id']} {problem}")

    def _unreviewed(self, page: Page, rule: str, node: dict) -> str | None:
        """None when the item is one REVIEWED lists and its contrast measures at least 4.5:1;
        otherwise what is wrong with it."""
        target = node["target"][0]
        messages = [check.get("message", "") for check in node.get("any", []) + node["all"]]
        if rule != "color-contrast" or not isinstance(target, str):
            return f"at {target}: {messages}"
        found = page.evaluate(_COLOURS_JS, target)
        if found is None or not (found["svg"] or found["scrolled"]):
            return f"at {target}: {messages}"
        ratio = contrast(found["foreground"], found["background"])
        if ratio < MIN_CONTRAST:
            kind = "svg text" if found["svg"] else "scrolled cell"
            return f"at {target} ({kind}): contrast {ratio:.2f}:1 is below {MIN_CONTRAST}:1"
        return None

    def at_phone_width(self) -> None:
        """Every page seen so far, again, by the same person in a phone's window."""
        for page, role, url, step in self.seen:
            phone = page.context.new_page()
            phone.set_default_timeout(ACTION_TIMEOUT_MS)
            phone.set_viewport_size(PHONE)
            phone.goto(url)
            number = int(step[:2])
            path = self._path(role, PHONE["width"], step[3:], number)
            phone.screenshot(path=path, full_page=True)
            self.check(phone, f"{role} {step} at {PHONE['width']} px")
            phone.close()


def sign_in(page: Page, email: str) -> Page:
    page.set_default_timeout(ACTION_TIMEOUT_MS)
    page.set_viewport_size(DESKTOP)
    page.goto("/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()
    return page
