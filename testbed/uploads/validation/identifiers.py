"""Direct identifiers refused: column names that look like a name, email or birth date, and
cluster labels that could identify a person (docs/data-format.md)."""

from __future__ import annotations

import re

# Direct identifiers are refused by name (normalized: lower case, words joined by "_").
IDENTIFIER_NAMES = frozenset(
    {
        "name", "first_name", "firstname", "last_name", "lastname", "middle_name",
        "full_name", "fullname", "given_name", "family_name", "surname", "legal_name",
        "preferred_name", "student_name", "parent_name", "guardian_name", "email",
        "e_mail", "email_address", "birth_date", "birthdate", "date_of_birth", "dob",
        "birthday", "address", "street", "street_address", "home_address", "zip", "zip_code",
        "postal_code", "phone", "telephone", "phone_number", "mobile", "cell_phone", "ssn",
        "social_security", "social_security_number", "state_student_id", "state_id", "ssid",
        "sasid", "lasid", "sis_id", "student_id", "local_student_id", "student_number",
    }
)  # fmt: skip
# ... and by the words in them ("Guardian E-mail", "Student Birth Date", "home_phone").
IDENTIFIER_WORDS = frozenset(
    {"email", "mail", "phone", "telephone", "birth", "birthdate", "dob", "ssn", "address",
     "street", "surname", "firstname", "lastname"}
)  # fmt: skip
IDENTIFIER_PAIRS = (
    ("first", "name"),
    ("last", "name"),
    ("student", "name"),
    ("social", "security"),
)


def identifier_like(name: str) -> bool:
    """Whether a column name looks like a direct identifier (a name, email, birth date, ...)."""
    normalized = re.sub(r"[^a-z0-9]+", "_", name.strip().lower()).strip("_")
    if normalized in IDENTIFIER_NAMES:
        return True
    words = set(normalized.split("_"))
    if words & IDENTIFIER_WORDS:
        return True
    return any(first in words and second in words for first, second in IDENTIFIER_PAIRS)


# A cluster label is stored as given and shown to the pilot's team: it must be a code for a
# classroom or school, never something that identifies a person (docs/data-format.md).
_MONTHS = (
    "jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec|january|february|march|april|june|"
    "july|august|september|october|november|december"
)
_IDENTIFIERS = (
    ("an email address", re.compile(r"\S@\S")),
    ("a Social Security number", re.compile(r"(?<!\d)\d{3}[- .]\d{2}[- .]\d{4}(?!\d)")),
    (
        "a date",
        re.compile(
            r"(?<!\d)(\d{4}[-/.]\d{1,2}[-/.]\d{1,2}|\d{1,2}[-/.]\d{1,2}[-/.]\d{2,4})(?!\d)"
            rf"|(?i:\b(?:{_MONTHS})\.?\s+\d{{1,2}}\b|\b\d{{1,2}}\s+(?:{_MONTHS})\b)"
        ),
    ),
    # Two or more capitalized words and nothing else ("Jane Doe", "Mary-Ann O'Neil"), or a
    # title and a name ("Ms. Lopez").
    (
        "a person's name",
        re.compile(
            r"^(?:[A-Z][a-z]*(?:['’-][A-Z]?[a-z]+)*\s+)+[A-Z][a-z]*(?:['’-][A-Z]?[a-z]+)*$"
            r"|^(?:Mr|Mrs|Ms|Miss|Mx|Dr)\.?\s+[A-Z]"
        ),
    ),
)
_TITLE = re.compile(r"(?:Mr|Mrs|Ms|Miss|Mx|Dr)\.?\s")
# Words of places and groups, not of people: "North Campus" or "Science Lab" is a code.
_PLACE_WORDS = frozenset(
    [
        "room",
        "class",
        "classroom",
        "campus",
        "school",
        "grade",
        "block",
        "hall",
        "wing",
        "north",
        "south",
        "east",
        "west",
        "central",
        "elementary",
        "middle",
        "high",
        "academy",
        "building",
        "team",
        "group",
        "section",
        "period",
        "homeroom",
        "lab",
        "library",
        "annex",
        "unit",
        "cohort",
        "pod",
        "house",
        "track",
        "morning",
        "afternoon",
        "science",
        "math",
        "reading",
        "art",
        "music",
    ]
)


def identifier_in(label: str) -> str | None:
    """What a cluster label looks like if it could identify a person (None: a plain code)."""
    for words, pattern in _IDENTIFIERS:
        if not pattern.search(label):
            continue
        if words == "a person's name" and not _TITLE.match(label):
            parts = {part.strip(".").lower() for part in label.split()}
            if parts & _PLACE_WORDS or any(len(part) == 1 for part in parts):
                continue
        return words
    return None
