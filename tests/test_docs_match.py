"""The developer and operator docs say what the code does: the route map of
docs/architecture.md is the one the app's route table gives, every environment variable the
settings read is in the README, and every link in the docs leads to a file in the repository."""

from __future__ import annotations

import re

from testbed.app import create_app
from testbed.settings import ROOT, Settings
from tests.route_map import DOC, documented_map, route_map

DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def test_the_documented_route_map_is_the_apps() -> None:
    documented = documented_map(DOC.read_text())
    assert documented == route_map(create_app(Settings.from_env())), (
        "docs/architecture.md's route map is out of date: run `.venv/bin/python -m tests.route_map`"
    )


def test_every_setting_is_in_the_readme() -> None:
    read = set(re.findall(r'env\.get\("([A-Z_]+)"\)', (ROOT / "testbed/settings.py").read_text()))
    documented = set(re.findall(r"^\| `([A-Z_]+)` \|", (ROOT / "README.md").read_text(), re.M))
    assert read, "no variable found in settings.py: has the way it reads them changed?"
    assert read <= documented, f"not in the README's configuration table: {read - documented}"


def test_every_link_in_the_docs_stays_in_the_repository() -> None:
    broken = []
    for doc in DOCS:
        for target in re.findall(r"\]\(([^)#\s]+)", doc.read_text()):
            if re.match(r"[a-z]+:", target):
                continue  # a web address
            path = (doc.parent / target).resolve()
            if not path.is_relative_to(ROOT) or not path.exists():
                broken.append(f"{doc.name}: {target}")
    assert not broken
