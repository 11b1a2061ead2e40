"""Word lists and code vocabularies of the demo network.

Every name the demo shows is built from these lists, so no invented result is ever attached
to a real district, vendor or product. Tag codes are stored in arrays that SQLite searches with
LIKE, so within each vocabulary no code is a substring of another (the tests check it).
"""

from __future__ import annotations

import datetime

# The student descriptor codes are the service's own; the demo draws from them.
from testbed.vocabulary import GENDER_CODES as GENDER_CODES
from testbed.vocabulary import RACE_ETHNICITY_CODES as RACE_ETHNICITY_CODES

# The demo's "today": dates are placed relative to it, never to the real clock.
REFERENCE_DATE = datetime.date(2026, 9, 1)

BAND_WORDS = {"k2": "K–2", "g35": "3–5", "g68": "6–8", "g912": "9–12"}
ACADEMIC_SUBJECTS = ("math", "ela", "science", "sel", "cs")
# Lower-case words for sentences ("math scores", "reading scores").
SUBJECT_WORDS = {
    "math": "math",
    "ela": "reading",
    "science": "science",
    "sel": "social-emotional learning",
    "cs": "computer science",
    "attendance": "attendance",
}
DEVICE_PLATFORMS = ("chromebook", "ipad", "windows", "mac")
SYSTEM_PLATFORMS = ("google_classroom", "canvas", "schoology", "clever")
LOCALE_SHARES = (0.25, 0.35, 0.15, 0.25)
# log10 enrollment ranges: cities are big, rural districts small; all within 800–200,000.
LOCALE_LOG_ENROLLMENT = {
    "city": (4.1, 5.3),
    "suburb": (3.6, 4.8),
    "town": (3.2, 4.2),
    "rural": (2.9, 3.8),
}
# Beta(a, b) parameters for the FRL share, rescaled to 0.1–0.9.
LOCALE_FRL_BETA = {
    "city": (3.0, 2.0),
    "suburb": (2.0, 3.2),
    "town": (2.6, 2.4),
    "rural": (2.8, 2.3),
}
LOCALE_EL_BETA = {"city": (2.0, 5.0), "suburb": (1.4, 6.0), "town": (1.1, 7.0), "rural": (1.0, 9.0)}

# Two-letter code, FIPS code, sampling weight (bigger states host more districts).
STATES: tuple[tuple[str, str, int], ...] = (
    ("AL", "01", 2),
    ("AZ", "04", 2),
    ("AR", "05", 1),
    ("CA", "06", 3),
    ("CO", "08", 2),
    ("CT", "09", 1),
    ("DE", "10", 1),
    ("FL", "12", 3),
    ("GA", "13", 3),
    ("ID", "16", 1),
    ("IL", "17", 3),
    ("IN", "18", 2),
    ("IA", "19", 1),
    ("KS", "20", 1),
    ("KY", "21", 2),
    ("LA", "22", 1),
    ("ME", "23", 1),
    ("MD", "24", 2),
    ("MA", "25", 2),
    ("MI", "26", 3),
    ("MN", "27", 2),
    ("MS", "28", 1),
    ("MO", "29", 2),
    ("NE", "31", 1),
    ("NV", "32", 1),
    ("NH", "33", 1),
    ("NJ", "34", 2),
    ("NM", "35", 1),
    ("NY", "36", 3),
    ("NC", "37", 3),
    ("OH", "39", 3),
    ("OK", "40", 1),
    ("OR", "41", 2),
    ("PA", "42", 3),
    ("SC", "45", 2),
    ("TN", "47", 2),
    ("TX", "48", 3),
    ("UT", "49", 1),
    ("VA", "51", 2),
    ("WA", "53", 2),
    ("WI", "55", 2),
)
# Real LEA ids are the state's FIPS code and five digits; the demo takes the last five from
# 98000–99999 so its ids stay clear of the ranges real agencies use.
FICTIONAL_LEA_FIRST = 98000
FICTIONAL_LEA_COUNT = 2000

PLACE_FIRST = (
    "Cedar",
    "Aspen",
    "Birch",
    "Juniper",
    "Larch",
    "Tamarack",
    "Willow",
    "Alder",
    "Hazel",
    "Rowan",
    "Sable",
    "Heron",
    "Kestrel",
    "Osprey",
    "Wren",
    "Lark",
    "Finch",
    "Granite",
    "Slate",
    "Flint",
    "Copper",
    "Amber",
    "Indigo",
    "Saffron",
    "Thistle",
    "Yarrow",
    "Clover",
    "Fern",
    "Sorrel",
    "Bramble",
    "Marigold",
    "Lantern",
    "Beacon",
    "Quarry",
    "Meadowlark",
    "Foxglove",
    "Ironwood",
    "Bluestem",
    "Tanager",
    "Silverbell",
)
PLACE_SECOND = (
    "Hollow",
    "Basin",
    "Ridge",
    "Glen",
    "Reach",
    "Crossing",
    "Bend",
    "Fork",
    "Mesa",
    "Bluff",
    "Vale",
    "Run",
    "Landing",
    "Point",
    "Knoll",
    "Terrace",
    "Gap",
    "Shoals",
    "Flats",
    "Heights",
    "Grove",
    "Haven",
    "Ford",
    "Chase",
    "Wold",
    "Mere",
    "Combe",
    "Holt",
    "Fen",
    "Dell",
    "Brae",
    "Lea",
    "Tor",
    "Cove",
    "Rise",
    "Spur",
    "Narrows",
    "Prairie",
    "Harbor",
    "Meadows",
)
PLACE_PREFIXES = ("", "North ", "South ", "East ", "West ", "Upper ", "Lower ")
DISTRICT_KINDS = (
    "Unified",
    "School District",
    "Public Schools",
    "County Schools",
    "Independent School District",
    "Consolidated Schools",
    "Community Schools",
)

VENDOR_FIRST = (
    "Bright",
    "Lumen",
    "Quill",
    "Cobalt",
    "Sprout",
    "Tandem",
    "Keel",
    "Marble",
    "Ember",
    "Fathom",
    "Glimmer",
    "Inkwell",
    "Jasper",
    "Kite",
    "Lattice",
    "Nimbus",
    "Orchard",
    "Pebble",
    "Ripple",
    "Umber",
    "Vista",
    "Yonder",
    "Zephyr",
    "Cinder",
    "Thimble",
    "Wander",
    "Hollis",
    "Plume",
    "Quiver",
    "Rook",
)
VENDOR_SECOND = (
    "path",
    "stone",
    "leaf",
    "wise",
    "field",
    "works",
    "bridge",
    "spring",
    "light",
    "way",
    "grove",
    "mark",
    "loop",
    "nest",
    "wing",
    "craft",
    "beam",
    "shore",
    "peak",
    "ling",
)
VENDOR_KINDS = ("Learning", "Labs", "Education", "Studios", "EdTech", "Learning Co.")

PRODUCT_STEMS = {
    "math": ("Math", "Number", "Fraction", "Algebra"),
    "ela": ("Read", "Word", "Story", "Literacy"),
    "science": ("Science", "Inquiry", "Lab"),
    "sel": ("Kindred", "Mindful", "Heart"),
    "cs": ("Code", "Logic", "Byte"),
}
PRODUCT_NOUNS = (
    "Quest",
    "Pathways",
    "Studio",
    "Sprint",
    "Garden",
    "Forge",
    "Trail",
    "Loop",
    "Launch",
    "Compass",
    "Workshop",
    "Harbor",
)
PRODUCT_MODIFIERS = ("Adaptive", "Tutor", "Live", "Plus", "Coach", "Circle", "Daily", "Builder")
PRODUCT_PITCH = {
    "math": "adaptive practice that finds each student's gaps in number sense and fractions "
    "and closes them with short, scaffolded problem sets",
    "ela": "a reading program that matches students to texts at the right level and coaches "
    "fluency and comprehension with immediate feedback",
    "science": "virtual labs and phenomenon-based units aligned to three-dimensional science "
    "standards",
    "sel": "short daily lessons and check-ins that build self-management and relationship "
    "skills, with a dashboard for counselors",
    "cs": "block-to-text coding projects that introduce algorithms, data and debugging",
}

RESEARCH_FORMS = (
    "Education Lab",
    "Evaluation Collaborative",
    "Research Partnership",
    "Learning Sciences Center",
    "Policy Institute",
)

FIRST_NAMES = (
    "Avery",
    "Jordan",
    "Dana",
    "Riley",
    "Morgan",
    "Casey",
    "Jamie",
    "Robin",
    "Alex",
    "Sam",
    "Taylor",
    "Quinn",
    "Reese",
    "Skyler",
    "Emerson",
    "Rowan",
)
LAST_NAMES = (
    "Whitfield",
    "Okafor",
    "Natarajan",
    "Lindqvist",
    "Castellanos",
    "Marsh",
    "Abernathy",
    "Ferreira",
    "Nakamura",
    "Oduya",
    "Penhallow",
    "Quintero",
    "Ravel",
    "Sorensen",
    "Tremaine",
    "Vasquez",
)

NEED_TEMPLATES: dict[str, tuple[tuple[str, str], ...]] = {
    "math": (
        (
            "Fraction understanding in the middle grades",
            "Fewer than half of our students reach proficiency on fractions and ratios; "
            "teachers want practice that adapts to each student.",
        ),
        (
            "Math intervention without pull-out time",
            "Intervention blocks are full; we need support students can use during core "
            "instruction.",
        ),
    ),
    "ela": (
        (
            "Early reading fluency",
            "Too many second graders are not reading fluently; we want structured practice "
            "with feedback at home and in school.",
        ),
        (
            "Reading comprehension for English learners",
            "Our English learners grow more slowly in comprehension; we need texts and "
            "supports in students' home languages.",
        ),
    ),
    "science": (
        (
            "Hands-on science without lab space",
            "Several schools have no lab rooms; we need investigations that work on "
            "student devices.",
        ),
    ),
    "sel": (
        (
            "Student belonging and self-management",
            "Survey results show falling belonging after the transition to middle school.",
        ),
    ),
    "cs": (
        (
            "Computer science for every high school",
            "Only two of our high schools offer computer science; we need a course teachers "
            "new to CS can lead.",
        ),
    ),
    "attendance": (
        (
            "Chronic absenteeism",
            "One student in four misses more than 10 % of school days; we want early alerts "
            "and family outreach that works.",
        ),
    ),
}

GENDER_SHARES = (0.49, 0.49, 0.02)  # in the order of testbed.vocabulary.GENDER_CODES
RACE_ETHNICITY_SHARES = (0.05, 0.15, 0.28, 0.01, 0.01, 0.45, 0.05)
SUBGROUPS = ("frl", "el", "swd", "gender", "race_ethnicity")
