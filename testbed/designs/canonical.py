"""The canonical JSON of a design document and its SHA-256, as registration freezes them.

The canonical text is `json.dumps(document, sort_keys=True, separators=(",", ":"),
ensure_ascii=False)` encoded as UTF-8. Numbers are written as Python writes them (the shortest
text that reads back as the same float), so a document that went through SQLite's or
PostgreSQL's JSON column and back hashes the same; whole numbers stay whole (100) and
fractions stay fractions (100.0), because both databases keep the JSON text as it was written.
NaN and infinities have no JSON form and are refused.

Anyone can check a registration with standard tools: download the canonical JSON and run
`sha256sum` on it.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any


def canonical_json(document: dict[str, Any]) -> str:
    return json.dumps(
        document, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    )


def sha256_of_text(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def canonical_sha256(document: dict[str, Any]) -> str:
    """SHA-256 (hex) of a design document's canonical JSON."""
    return sha256_of_text(canonical_json(document))
