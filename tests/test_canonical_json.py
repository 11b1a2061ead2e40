"""The canonical JSON that registration hashes: stable across key order, explicit about numbers
and text, and the same function the demo network uses."""

from __future__ import annotations

import hashlib
import json

import pytest

from testbed import demo
from testbed.designs.canonical import canonical_json, canonical_sha256


def test_key_order_does_not_change_the_text_or_the_hash():
    a = {"b": 1, "a": {"y": [3, {"q": 1, "p": 2}], "x": 0.15}}
    b = {"a": {"x": 0.15, "y": [3, {"p": 2, "q": 1}]}, "b": 1}
    assert canonical_json(a) == canonical_json(b) == '{"a":{"x":0.15,"y":[3,{"p":2,"q":1}]},"b":1}'
    assert canonical_sha256(a) == canonical_sha256(b)


def test_the_hash_is_sha256_of_the_utf8_text():
    document = {"label": "Niños' reading — año 1", "n": 100, "effect": 0.1 + 0.2}
    text = canonical_json(document)
    assert "Niños" in text and "\\u" not in text
    assert canonical_sha256(document) == hashlib.sha256(text.encode("utf-8")).hexdigest()


def test_numbers_keep_their_json_form_through_a_json_round_trip():
    document = {"whole": 100, "fraction": 100.0, "tiny": 1e-7, "third": 1 / 3, "none": None}
    assert json.loads(canonical_json(document)) == document
    assert canonical_json(json.loads(canonical_json(document))) == canonical_json(document)
    assert '"whole":100}' in canonical_json(document)
    assert '"fraction":100.0' in canonical_json(document)


def test_values_without_a_json_form_are_refused():
    with pytest.raises(ValueError):
        canonical_json({"effect": float("nan")})


def test_the_demo_registers_with_the_same_function():
    assert demo.canonical_sha256 is canonical_sha256
