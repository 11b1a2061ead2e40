"""Technical words link to their plain explanation on /glossary, where they appear."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from testbed.info.glossary import GLOSSARY
from testbed.settings import ROOT
from testbed.web import term

SLUGS = {entry.slug for entry in GLOSSARY}


def test_every_term_a_template_links_has_a_glossary_entry():
    used = {
        slug
        for path in Path(ROOT / "templates").rglob("*.j2")
        for slug in re.findall(r'term\("([a-z0-9-]+)"', path.read_text())
    }
    assert {"i2", "tau2", "reml", "knapp-hartung", "q", "lp-bound", "mdes", "icc"} <= used
    assert used <= SLUGS


def test_a_term_is_a_plain_link_and_an_unknown_one_fails_loudly():
    assert str(term("i2", "I²")) == '<a class="term" href="/glossary#i2">I²</a>'
    assert "&lt;b&gt;" in str(term("q", "<b>Q</b>"))  # the text is escaped
    with pytest.raises(KeyError):
        term("no-such-term", "x")
