"""The shared tag vocabulary: codes stored in the database and the words shown to people.

Tags are stored as arrays of these codes. SQLite searches arrays with LIKE, so no code may be a
substring of another code of the same kind (tests/test_vocabulary.py checks this).
"""

from __future__ import annotations

GRADE_WORDS = {
    "K": "Kindergarten",
    **{f"G{n:02d}": f"Grade {n}" for n in range(1, 13)},
}
GRADE_CODES = tuple(GRADE_WORDS)

GRADE_BANDS: dict[str, tuple[str, ...]] = {
    "k2": ("K", "G01", "G02"),
    "g35": ("G03", "G04", "G05"),
    "g68": ("G06", "G07", "G08"),
    "g912": ("G09", "G10", "G11", "G12"),
}
BAND_WORDS = {"k2": "Grades K–2", "g35": "Grades 3–5", "g68": "Grades 6–8", "g912": "Grades 9–12"}

SUBJECT_WORDS = {
    "math": "Math",
    "ela": "Reading and writing",
    "science": "Science",
    "sel": "Social-emotional learning",
    "cs": "Computer science",
    "attendance": "Attendance",
}
SUBJECTS = tuple(SUBJECT_WORDS)

PLATFORM_WORDS = {
    "chromebook": "Chromebooks",
    "ipad": "iPads",
    "windows": "Windows computers",
    "mac": "Mac computers",
    "google_classroom": "Google Classroom",
    "canvas": "Canvas",
    "schoology": "Schoology",
    "clever": "Clever",
}
PLATFORMS = tuple(PLATFORM_WORDS)

PILLAR_WORDS = {
    1: "Advancing educational equity",
    2: "Transforming teaching and learning",
    3: "Leveraging edtech for impact",
    4: "Promoting leadership and systemic change",
    5: "Collaborative research and development",
}
PILLARS = tuple(PILLAR_WORDS)

LOCALE_WORDS = {"city": "City", "suburb": "Suburb", "town": "Town", "rural": "Rural"}
LOCALES = tuple(LOCALE_WORDS)

# Student descriptors in outcome data (Observation.gender, Observation.race_ethnicity).
GENDER_WORDS = {"f": "Female", "m": "Male", "x": "Another gender or not stated"}
GENDER_CODES = tuple(GENDER_WORDS)
RACE_ETHNICITY_WORDS = {
    "asian": "Asian",
    "black": "Black or African American",
    "hispanic": "Hispanic or Latino",
    "native_american": "American Indian or Alaska Native",
    "pacific_islander": "Native Hawaiian or Other Pacific Islander",
    "white": "White",
    "multiracial": "Two or more races",
}
RACE_ETHNICITY_CODES = tuple(RACE_ETHNICITY_WORDS)

# The 50 states and the District of Columbia (kept as a table: fmt off).
# fmt: off
US_STATES = (
    "AL", "AK", "AZ", "AR", "CA", "CO", "CT", "DE", "DC", "FL", "GA", "HI", "ID", "IL", "IN",
    "IA", "KS", "KY", "LA", "ME", "MD", "MA", "MI", "MN", "MS", "MO", "MT", "NE", "NV", "NH",
    "NJ", "NM", "NY", "NC", "ND", "OH", "OK", "OR", "PA", "RI", "SC", "SD", "TN", "TX", "UT",
    "VT", "VA", "WA", "WV", "WI", "WY",
)
# fmt: on

# A pilot call's stages, in the order of its life, with the words pages show for them.
PILOT_STATUS_WORDS = {
    "draft": "Being written",
    "open": "Open for volunteers",
    "matching": "Choosing sites",
    "active": "Running",
    "analysis": "Being analysed",
    "published": "Results published",
    "closed": "Closed without results",
    "withdrawn": "Withdrawn",
}
PILOT_STATUSES = tuple(PILOT_STATUS_WORDS)
# The network's pilots, wherever a page counts them (home, dashboard, API): every call that was
# opened and not withdrawn. Drafts are private to their vendor; withdrawn calls never ran.
NETWORK_PILOT_STATUSES = ("open", "matching", "active", "analysis", "published", "closed")

ORGANIZATION_KIND_WORDS = {
    "district": "School district",
    "vendor": "Company (vendor)",
    "research": "Research organization",
    "network": "Network office",
}

# Short forms for tables; the design editor's longer ones are in designs/document.py.
DESIGN_TYPE_SHORT_WORDS = {
    "rct": "Randomized (students)",
    "cluster_rct": "Randomized (classrooms or schools)",
    "quasi_experiment": "Matched comparison",
    "pre_post": "Before and after",
}

# Student groups a design can ask results to be disaggregated by (the Observation columns).
SUBGROUP_WORDS = {
    "frl": "Eligible for free or reduced-price lunch",
    "el": "English learners",
    "swd": "Students with disabilities",
    "gender": "Gender",
    "race_ethnicity": "Race and ethnicity",
}
SUBGROUPS = tuple(SUBGROUP_WORDS)
