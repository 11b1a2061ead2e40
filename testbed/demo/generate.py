"""Generating the demo network from a seed: pure (no database, no clock), deterministic.

`generate_network(scale, seed)` draws everything from one numpy Generator(PCG64(seed)) in a
fixed order, so the same arguments always give the same network, down to every student row.
"""

from __future__ import annotations

import copy
import datetime
import hashlib
import math
from typing import Any, NamedTuple

import numpy as np

from testbed.accounts.services import NETWORK_SLUG, slugify
from testbed.demo.model import (
    AssignmentSpec,
    DatasetSpec,
    DemoNetwork,
    DesignSpec,
    DistrictSpec,
    EnrollmentSpec,
    NeedSpec,
    OrganizationSpec,
    PilotSpec,
    ProductSpec,
    UserSpec,
)
from testbed.demo.outcomes import (
    CLASSROOM_SIZE,
    TRUE_EFFECTS,
    OutcomeSpec,
    StudentRows,
    site_rows,
    summary_csv_text,
    summary_rows,
)
from testbed.demo.vocabulary import (
    ACADEMIC_SUBJECTS,
    BAND_WORDS,
    DEVICE_PLATFORMS,
    DISTRICT_KINDS,
    FICTIONAL_LEA_COUNT,
    FICTIONAL_LEA_FIRST,
    FIRST_NAMES,
    LAST_NAMES,
    LOCALE_EL_BETA,
    LOCALE_FRL_BETA,
    LOCALE_LOG_ENROLLMENT,
    LOCALE_SHARES,
    NEED_TEMPLATES,
    PLACE_FIRST,
    PLACE_PREFIXES,
    PLACE_SECOND,
    PRODUCT_MODIFIERS,
    PRODUCT_NOUNS,
    PRODUCT_PITCH,
    PRODUCT_STEMS,
    REFERENCE_DATE,
    RESEARCH_FORMS,
    STATES,
    SUBJECT_WORDS,
    SYSTEM_PLATFORMS,
    VENDOR_FIRST,
    VENDOR_KINDS,
    VENDOR_SECOND,
)
from testbed.designs.canonical import canonical_sha256
from testbed.vocabulary import GRADE_BANDS, GRADE_CODES, LOCALES, PILLARS, PLATFORMS, SUBJECTS

# Published in docs/demo.md on purpose: every demo account signs in with it.
DEMO_PASSWORD = "testbed-demo-2026"  # noqa: S105
NETWORK_ADMIN_EMAIL = "admin@testbed.example"
COORDINATOR_EMAIL = "coordinator@cedar-hollow.example"
FOUNDER_EMAIL = "founder@brightpath.example"
RESEARCHER_EMAIL = "researcher@northfield-research.example"
UNVERIFIED_FOUNDER_EMAIL = "founder@quillstone.example"

# Fixed members of the network, the ones the demo sign-ins belong to, as word-list parts.
CEDAR_HOLLOW = ("Cedar", "Hollow", "", "Unified")
BRIGHTPATH = ("Bright", "path", "Learning")
QUILLSTONE = ("Quill", "stone", "Labs")
NORTHFIELD_RESEARCH = "Northfield Research Group"
CEDAR_HOLLOW_SLUG = slugify("Cedar Hollow Unified")
BRIGHTPATH_SLUG = slugify("Brightpath Learning")
QUILLSTONE_SLUG = slugify("Quillstone Labs")

DISTRICTS_PER_SCALE = 150
VENDORS_PER_SCALE = 30
PRODUCTS_PER_SCALE = 45
RESEARCH_PER_SCALE = 5
UNVERIFIED_DISTRICTS_PER_SCALE = 2
STATUS_COUNTS = (
    ("draft", 2),
    ("open", 5),
    ("matching", 3),
    ("active", 5),
    ("analysis", 3),
    ("published", 5),
    ("closed", 1),
    ("withdrawn", 1),
)
DATA_STATUSES = ("active", "analysis", "published", "closed")
DESIGN_STATUSES = ("matching", *DATA_STATUSES, "withdrawn")


class PooledPilot(NamedTuple):
    brightpath_product: int  # index among Brightpath's products
    site_locale: str | None  # where its sites are, when it matters
    true_effect: float


# The finished pilots that give products pooled evidence, by (status, rank within the status):
# MathQuest Adaptive published in city, suburban, town and rural districts, with true effects
# that differ modestly so the evidence page shows heterogeneity, and Brightpath's second
# product in two (one of them closed).
POOLED_PILOTS = {
    ("published", 0): PooledPilot(0, "city", 0.30),
    ("published", 1): PooledPilot(0, "suburb", 0.12),
    ("published", 2): PooledPilot(0, "town", 0.20),
    ("published", 3): PooledPilot(0, "rural", 0.05),
    ("published", 4): PooledPilot(1, None, 0.15),
    ("closed", 0): PooledPilot(1, None, 0.10),
}
# The design of the j-th pilot with data (cycled): mostly student RCTs, as the network prefers.
DESIGN_TYPE_CYCLE = (
    "rct",
    "cluster_rct",
    "rct",
    "quasi_experiment",
    "rct",
    "rct",
    "cluster_rct",
    "pre_post",
    "rct",
    "rct",
    "cluster_rct",
    "rct",
    "rct",
    "rct",
)
UNIT_OF_ASSIGNMENT = {
    "rct": "student",
    "cluster_rct": "classroom",
    "quasi_experiment": "classroom",
    "pre_post": "student",
}
PRIMARY_OUTCOMES = {
    "math": ("math_scale_score", "Spring math scale score"),
    "ela": ("reading_scale_score", "Spring reading scale score"),
    "science": ("science_scale_score", "Spring science scale score"),
    "sel": ("sel_competency_score", "Spring social-emotional competency score"),
    "cs": ("cs_concepts_score", "Spring computer science concepts score"),
}
SECONDARY_OUTCOMES: dict[str, dict[str, Any]] = {
    "met_benchmark": {
        "name": "met_benchmark",
        "label": "Scored at or above the benchmark (200)",
        "kind": "binary",
        "primary": False,
        "direction": "higher_is_better",
        "instrument": "Spring scale score compared with the district benchmark",
        "unit": "share of students",
        "min": 0,
        "max": 1,
    },
    "days_absent": {
        "name": "days_absent",
        "label": "Days absent during the pilot",
        "kind": "count",
        "primary": False,
        "direction": "lower_is_better",
        "instrument": "District attendance records",
        "unit": "days",
        "min": 0,
        "max": None,
    },
}
DEVICE_WORDS = {
    "chromebook": "Chromebooks",
    "ipad": "iPads",
    "windows": "Windows laptops",
    "mac": "Macs",
}
SITES_RECEIVE = (
    "Free licences for every participating classroom during the pilot and the following "
    "school year, two days of teacher training, and the findings report.",
    "Licences for the pilot, stipends for teacher planning time, and a site-level data report.",
    "Free access for the whole school during the pilot, on-site coaching, and the findings.",
)
VOLUNTEER_NOTES = (
    "Two schools are ready; teachers asked for this.",
    "We can start after winter break.",
    "Our EL coordinator will support the pilot.",
    "Principals have agreed; devices are in place.",
    "",
)
MISSING_DATA_PLAN = "complete cases; attrition reported against the WWC boundary"


def generate_network(scale: int = 1, seed: int = 2026) -> DemoNetwork:
    """The demo network at `scale` (150·scale districts, 25·scale pilots, ...) from `seed`."""
    if scale < 1:
        raise ValueError(f"scale must be at least 1, got {scale}")
    rng = np.random.Generator(np.random.PCG64(seed))
    district_orgs, districts = _districts(
        rng, DISTRICTS_PER_SCALE * scale, UNVERIFIED_DISTRICTS_PER_SCALE * scale
    )
    needs = _needs(rng, districts)
    vendor_orgs, products = _vendors_and_products(
        rng, VENDORS_PER_SCALE * scale, PRODUCTS_PER_SCALE * scale
    )
    research_orgs = _research_organizations(rng, RESEARCH_PER_SCALE * scale)
    organizations = [*district_orgs, *vendor_orgs, *research_orgs]
    pilots = _PilotBuilder(rng, scale, seed, organizations, districts, needs, products).build()
    return DemoNetwork(
        scale=scale,
        seed=seed,
        organizations=organizations,
        districts=districts,
        needs=needs,
        products=products,
        users=_users(rng, pilots),
        pilots=pilots,
    )


# --- districts and their needs --------------------------------------------------------------


def _district_names(rng: np.random.Generator, count: int) -> list[str]:
    sizes = (len(PLACE_FIRST), len(PLACE_SECOND), len(PLACE_PREFIXES), len(DISTRICT_KINDS))
    fixed = np.ravel_multi_index(
        (
            PLACE_FIRST.index(CEDAR_HOLLOW[0]),
            PLACE_SECOND.index(CEDAR_HOLLOW[1]),
            PLACE_PREFIXES.index(CEDAR_HOLLOW[2]),
            DISTRICT_KINDS.index(CEDAR_HOLLOW[3]),
        ),
        sizes,
    )
    if count > math.prod(sizes):
        raise ValueError(f"the word lists name at most {math.prod(sizes)} districts")
    drawn = rng.choice(math.prod(sizes), size=count, replace=False)
    indices = [int(fixed), *(int(index) for index in drawn if index != fixed)][:count]
    names = []
    for index in indices:
        first, second, prefix, kind = np.unravel_index(index, sizes)
        names.append(
            f"{PLACE_PREFIXES[prefix]}{PLACE_FIRST[first]} {PLACE_SECOND[second]} "
            f"{DISTRICT_KINDS[kind]}"
        )
    return names


def _district_states(rng: np.random.Generator, count: int) -> list[str]:
    codes = [code for code, _, _ in STATES]
    weights = np.array([weight for _, _, weight in STATES], dtype=float)
    # Every state first, so even scale 1 spans all of them; then in proportion to size.
    states = [codes[index] for index in rng.permutation(len(codes))][:count]
    extra = rng.choice(len(codes), size=count - len(states), p=weights / weights.sum())
    return states + [codes[index] for index in extra]


def _districts(
    rng: np.random.Generator, count: int, unverified: int
) -> tuple[list[OrganizationSpec], list[DistrictSpec]]:
    names = _district_names(rng, count)
    states = _district_states(rng, count)
    fips = {code: number for code, number, _ in STATES}
    lea_slots: dict[str, list[int]] = {}
    organizations, districts = [], []
    for index, (name, state) in enumerate(zip(names, states, strict=True)):
        if state not in lea_slots:
            lea_slots[state] = rng.permutation(FICTIONAL_LEA_COUNT).tolist()
        if not lea_slots[state]:
            raise ValueError(f"more than {FICTIONAL_LEA_COUNT} demo districts in {state}")
        lea_id = f"{fips[state]}{FICTIONAL_LEA_FIRST + lea_slots[state].pop():05d}"
        locale = str(rng.choice(LOCALES, p=LOCALE_SHARES))
        low, high = LOCALE_LOG_ENROLLMENT[locale]
        enrollment = int(np.clip(round(10 ** rng.uniform(low, high)), 800, 200_000))
        frl_share = round(0.1 + 0.8 * float(rng.beta(*LOCALE_FRL_BETA[locale])), 3)
        el_share = round(0.35 * float(rng.beta(*LOCALE_EL_BETA[locale])), 3)
        swd_share = round(float(rng.uniform(0.08, 0.20)), 3)
        grade_profile = rng.random()
        if index == 0 or grade_profile < 0.8:
            grades = list(GRADE_CODES)
        elif grade_profile < 0.9:
            grades = list(GRADE_CODES[:9])
        elif grade_profile < 0.95:
            grades = list(GRADE_CODES[9:])
        else:
            grades = list(GRADE_CODES[:6])
        devices = rng.choice(DEVICE_PLATFORMS, size=int(rng.integers(1, 3)), replace=False)
        systems = rng.choice(SYSTEM_PLATFORMS, size=int(rng.integers(1, 4)), replace=False)
        chosen = {str(code) for code in (*devices, *systems)}
        slug = slugify(name)
        organizations.append(
            OrganizationSpec(
                slug=slug,
                kind="district",
                name=name,
                state=state,
                website=f"https://{slug}.example",
                description=f"A {locale} district in {state} serving {enrollment:,} students.",
                verified=index < count - unverified,
            )
        )
        districts.append(
            DistrictSpec(
                organization=slug,
                nces_lea_id=lea_id,
                locale=locale,
                enrollment=enrollment,
                frl_share=frl_share,
                el_share=el_share,
                swd_share=swd_share,
                grades_served=grades,
                device_ratio=round(float(rng.uniform(0.6, 1.2)), 2),
                platforms=[code for code in PLATFORMS if code in chosen],
                signed_ndpa=index == 0 or bool(rng.random() < 0.6),
                max_concurrent_pilots=int(rng.integers(1, 4)),
            )
        )
    return organizations, districts


def _bands_served(grades: list[str]) -> list[str]:
    return [band for band, codes in GRADE_BANDS.items() if set(codes) <= set(grades)]


def _needs(rng: np.random.Generator, districts: list[DistrictSpec]) -> list[NeedSpec]:
    needs = []
    subject_shares = np.array([0.3, 0.25, 0.1, 0.12, 0.08, 0.15])
    for district in districts:
        count = int(rng.integers(1, 4))
        subjects = rng.choice(SUBJECTS, size=count, replace=False, p=subject_shares)
        bands = _bands_served(district.grades_served)
        for subject in (str(code) for code in subjects):
            templates = NEED_TEMPLATES[subject]
            title, statement = templates[int(rng.integers(len(templates)))]
            pillars = rng.choice(PILLARS, size=int(rng.integers(1, 3)), replace=False)
            needs.append(
                NeedSpec(
                    district=district.organization,
                    title=title,
                    statement=statement,
                    pillars=sorted(int(pillar) for pillar in pillars),
                    grade_band=str(rng.choice(bands)),
                    subject=subject,
                )
            )
    return needs


# --- vendors, products, research organizations -----------------------------------------------


def _vendors_and_products(
    rng: np.random.Generator, vendor_count: int, product_count: int
) -> tuple[list[OrganizationSpec], list[ProductSpec]]:
    sizes = (len(VENDOR_FIRST), len(VENDOR_SECOND), len(VENDOR_KINDS))
    fixed = [
        int(
            np.ravel_multi_index(
                (
                    VENDOR_FIRST.index(parts[0]),
                    VENDOR_SECOND.index(parts[1]),
                    VENDOR_KINDS.index(parts[2]),
                ),
                sizes,
            )
        )
        for parts in (BRIGHTPATH, QUILLSTONE)
    ]
    if vendor_count > math.prod(sizes):
        raise ValueError(f"the word lists name at most {math.prod(sizes)} vendors")
    drawn = rng.choice(math.prod(sizes), size=vendor_count, replace=False)
    indices = [*fixed, *(int(index) for index in drawn if index not in fixed)][:vendor_count]
    vendors, products = [], []
    taken_names: set[str] = set()
    two_products = product_count - vendor_count
    for position, index in enumerate(indices):
        first, second, kind = np.unravel_index(index, sizes)
        brand = f"{VENDOR_FIRST[first]}{VENDOR_SECOND[second]}"
        name = f"{brand} {VENDOR_KINDS[kind]}"
        slug = slugify(name)
        vendors.append(
            OrganizationSpec(
                slug=slug,
                kind="vendor",
                name=name,
                state=None,
                website=f"https://{slug}.example",
                description=f"{name} builds classroom software for K–12 schools.",
                verified=slug != QUILLSTONE_SLUG,
            )
        )
        vendor_names: set[str] = set()
        for number in range(2 if position < two_products else 1):
            products.append(
                _product(
                    rng,
                    slug,
                    vendor_names,
                    taken_names,
                    fixed_name="MathQuest Adaptive" if position == 0 and number == 0 else None,
                )
            )
    return vendors, products


def _product(
    rng: np.random.Generator,
    vendor_slug: str,
    vendor_names: set[str],
    taken_names: set[str],
    fixed_name: str | None,
) -> ProductSpec:
    primary = "math" if fixed_name else str(rng.choice(ACADEMIC_SUBJECTS))
    name = fixed_name or ""
    for attempt in range(50):
        if name and name not in vendor_names and (name not in taken_names or attempt > 20):
            break
        stems = PRODUCT_STEMS[primary]
        name = (
            f"{stems[int(rng.integers(len(stems)))]}"
            f"{PRODUCT_NOUNS[int(rng.integers(len(PRODUCT_NOUNS)))]} "
            f"{PRODUCT_MODIFIERS[int(rng.integers(len(PRODUCT_MODIFIERS)))]}"
        )
    vendor_names.add(name)
    taken_names.add(name)
    extra = rng.random()
    subjects = [primary]
    if extra < 0.2:
        subjects.append("attendance")
    elif extra < 0.35:
        subjects.append(str(rng.choice([code for code in ACADEMIC_SUBJECTS if code != primary])))
    band_names = list(GRADE_BANDS)
    start = int(rng.integers(len(band_names)))
    bands = band_names[start : start + int(rng.integers(1, 3))]
    pillars = sorted(
        int(pillar) for pillar in rng.choice(PILLARS, size=int(rng.integers(1, 4)), replace=False)
    )
    devices = rng.choice(DEVICE_PLATFORMS, size=int(rng.integers(1, 4)), replace=False)
    systems = rng.choice(SYSTEM_PLATFORMS, size=int(rng.integers(0, 3)), replace=False)
    chosen = {str(code) for code in (*devices, *systems)}
    tier = rng.choice([0, 4, 3, 2, 1], p=[0.35, 0.25, 0.2, 0.12, 0.08])
    product_slug = slugify(name)
    grade_words = ", ".join(BAND_WORDS[band] for band in bands)
    return ProductSpec(
        vendor=vendor_slug,
        name=name,
        description=f"{name}: {PRODUCT_PITCH[primary]}. For grades {grade_words}.",
        grade_bands=bands,
        subjects=subjects,
        pillars=pillars,
        platforms=[code for code in PLATFORMS if code in chosen],
        student_data_collected="Roster data from the district (name, grade, class), responses "
        "and time on task; never sold or used for advertising.",
        privacy_policy_url=f"https://example.com/{vendor_slug}/privacy",
        essa_tier_claimed=int(tier) or None,
        evidence_url=f"https://example.com/{vendor_slug}/{product_slug}/evidence" if tier else "",
    )


def _research_organizations(rng: np.random.Generator, count: int) -> list[OrganizationSpec]:
    sizes = (len(PLACE_FIRST), len(PLACE_SECOND), len(RESEARCH_FORMS))
    drawn = rng.choice(math.prod(sizes), size=count - 1, replace=False)
    names = [NORTHFIELD_RESEARCH]
    for index in drawn.tolist():
        first, second, form = np.unravel_index(index, sizes)
        names.append(f"{PLACE_FIRST[first]} {PLACE_SECOND[second]} {RESEARCH_FORMS[form]}")
    return [
        OrganizationSpec(
            slug=slugify(name),
            kind="research",
            name=name,
            state=None,
            website=f"https://{slugify(name)}.example",
            description=f"{name} designs and analyzes school pilots with district partners.",
            verified=True,
        )
        for name in names
    ]


# --- pilots ---------------------------------------------------------------------------------


def _grade_words(grades: list[str]) -> str:
    def number(code: str) -> str:
        return "K" if code == "K" else str(int(code[1:]))

    first, last = number(grades[0]), number(grades[-1])
    return first if first == last else f"{first}–{last}"


def _at(day: datetime.date, hour: int) -> datetime.datetime:
    return datetime.datetime.combine(day, datetime.time(hour), tzinfo=datetime.UTC)


def _fit(
    district: DistrictSpec,
    district_needs: list[NeedSpec],
    pilot: PilotSpec,
    product: ProductSpec,
    capacity: int,
) -> tuple[float, list[dict[str, Any]]]:
    """A fit score (0–100) with its explained parts, as matching shows it."""
    served = len(set(pilot.grades) & set(district.grades_served))
    relevant = [need for need in district_needs if need.subject in pilot.subjects]
    need_pillars = {pillar for need in district_needs for pillar in need.pillars}
    shared_pillars = sorted(need_pillars & set(pilot.pillars))
    shared_platforms = [code for code in district.platforms if code in product.platforms]
    parts = [
        {
            "part": "grades",
            "points": round(25 * served / len(pilot.grades), 1),
            "why": f"Serves {served} of the pilot's {len(pilot.grades)} grades",
        },
        {
            "part": "subject",
            "points": 20.0 if relevant else 0.0,
            "why": f"Open need: {relevant[0].title}"
            if relevant
            else "No open need in the pilot's subjects",
        },
        {
            "part": "pillars",
            "points": round(15 * len(shared_pillars) / len(pilot.pillars), 1),
            "why": "Needs tagged with pillar " + ", ".join(map(str, shared_pillars))
            if shared_pillars
            else "No need shares the pilot's pillars",
        },
        {
            "part": "platforms",
            "points": 15.0 if shared_platforms else 0.0,
            "why": "Already uses " + ", ".join(shared_platforms)
            if shared_platforms
            else "No platform in common with the product",
        },
        {
            "part": "devices",
            "points": round(10 * min(1.0, district.device_ratio), 1),
            "why": f"{district.device_ratio:.2f} devices per student",
        },
        {
            "part": "privacy",
            "points": 10.0 if district.signed_ndpa else 0.0,
            "why": "Signed the national student-data privacy agreement"
            if district.signed_ndpa
            else "Has not signed the national student-data privacy agreement",
        },
        {
            "part": "capacity",
            "points": 5.0 if capacity >= pilot.students_per_site else 0.0,
            "why": f"Can host {capacity} students; the pilot wants {pilot.students_per_site}",
        },
    ]
    return round(sum(part["points"] for part in parts), 1), parts


class _PilotBuilder:
    """Pilots in every state of their life, with enrollments, designs and outcome data."""

    def __init__(
        self,
        rng: np.random.Generator,
        scale: int,
        seed: int,
        organizations: list[OrganizationSpec],
        districts: list[DistrictSpec],
        needs: list[NeedSpec],
        products: list[ProductSpec],
    ) -> None:
        self.rng = rng
        self.scale = scale
        self.seed = seed
        verified = {org.slug for org in organizations if org.verified}
        self.site_candidates = [
            district for district in districts if district.organization in verified
        ]
        self.state_of = {org.slug: org.state for org in organizations}
        self.needs_of: dict[str, list[NeedSpec]] = {}
        for need in needs:
            self.needs_of.setdefault(need.district, []).append(need)
        self.district_of = {district.organization: district for district in districts}
        self.cedar_hollow = districts[0]
        self.brightpath_products = [
            product for product in products if product.vendor == BRIGHTPATH_SLUG
        ]
        self.unverified_products = [
            product for product in products if product.vendor not in verified
        ]
        self.open_products = [product for product in products if product.vendor in verified]
        self.eligible_cache: dict[tuple[str, ...], list[DistrictSpec]] = {}
        self.titles: set[str] = set()

    def build(self) -> list[PilotSpec]:
        statuses = [status for status, count in STATUS_COUNTS for _ in range(count * self.scale)]
        rank: dict[str, int] = {}
        data_index = 0
        finished_index = 0  # among pilots in analysis or published
        pilots = []
        for number, status in enumerate(statuses):
            position = rank.get(status, 0)
            rank[status] = position + 1
            product = self._product_for(status, position)
            pilot = self._pilot(status, product)
            if position == 0 and status in ("matching", "active", "analysis", "published"):
                pilot.researchers.append(RESEARCHER_EMAIL)
            self._enroll(pilot, product, status, position)
            if status in DESIGN_STATUSES:
                design_type = "rct"
                if status in DATA_STATUSES:
                    design_type = DESIGN_TYPE_CYCLE[data_index % len(DESIGN_TYPE_CYCLE)]
                pilot.design_type = design_type
                finished = status in ("analysis", "published")
                self._designs(pilot, amended=finished and finished_index % 4 == 1)
                finished_index += finished
            if status in DATA_STATUSES:
                self._outcome_data(pilot, number, data_index, status, position)
                data_index += 1
            pilots.append(pilot)
        return pilots

    def _product_for(self, status: str, position: int) -> ProductSpec:
        pooled = POOLED_PILOTS.get((status, position))
        if pooled is not None:
            return self.brightpath_products[pooled.brightpath_product]
        if status == "draft" and position == 0 and self.unverified_products:
            return self.unverified_products[0]
        if position == 0 and status in ("open", "active", "analysis"):
            brightpath = self.brightpath_products
            return brightpath[{"open": 0, "active": 1, "analysis": 0}[status] % len(brightpath)]
        return self.open_products[int(self.rng.integers(len(self.open_products)))]

    def _unique_title(self, base: str, window: str) -> str:
        title = base
        if title in self.titles:
            title = f"{base} ({window})"
        suffix = 2
        while title in self.titles:
            title = f"{base} ({window}, cohort {suffix})"
            suffix += 1
        self.titles.add(title)
        return title

    def _dates(
        self, status: str, weeks: int
    ) -> tuple[datetime.date | None, datetime.date | None, str]:
        rng, days = self.rng, datetime.timedelta
        length = days(weeks=weeks)
        if status == "draft":
            return None, None, str(rng.choice(["Spring 2027", "Fall 2027"]))
        if status in ("open", "withdrawn"):
            starts = REFERENCE_DATE + days(int(rng.integers(60, 150)))
        elif status == "matching":
            starts = REFERENCE_DATE + days(int(rng.integers(14, 60)))
        elif status == "active":
            starts = REFERENCE_DATE - days(int(rng.integers(7, weeks * 7 - 7)))
        else:
            ago = {"analysis": (10, 90), "published": (120, 400), "closed": (400, 700)}[status]
            starts = REFERENCE_DATE - days(int(rng.integers(*ago))) - length
        return starts, starts + length, f"{starts:%B %Y}"

    def _pilot(self, status: str, product: ProductSpec) -> PilotSpec:
        rng = self.rng
        band = str(rng.choice(product.grade_bands))
        grades = list(GRADE_BANDS[band])
        if rng.random() < 0.3:
            grades = grades[:2]
        weeks = int(rng.integers(6, 17))
        starts, ends, window = self._dates(status, weeks)
        grade_words = _grade_words(grades)
        subject = product.subjects[0]
        devices = [DEVICE_WORDS[code] for code in product.platforms if code in DEVICE_WORDS]
        created = _at(
            min(
                REFERENCE_DATE - datetime.timedelta(days=5),
                (starts or REFERENCE_DATE) - datetime.timedelta(days=100),
            ),
            15,
        )
        updated = created
        if ends is not None and status in DATA_STATUSES:
            updated = max(created, _at(min(REFERENCE_DATE, ends + datetime.timedelta(30)), 15))
        pillars = rng.choice(product.pillars, size=min(2, len(product.pillars)), replace=False)
        return PilotSpec(
            product_vendor=product.vendor,
            product_name=product.name,
            title=self._unique_title(f"{product.name} in grades {grade_words}", window),
            research_question=(
                f"Does {product.name} raise grade {grade_words} students' spring "
                f"{SUBJECT_WORDS[subject]} scores compared with business-as-usual instruction "
                f"over {weeks} weeks?"
            ),
            grades=grades,
            subjects=list(product.subjects),
            pillars=sorted(int(pillar) for pillar in pillars),
            sites_wanted=int(rng.integers(2, 7)),
            students_per_site=int(rng.integers(6, 41)) * 10,
            weeks=weeks,
            start_window=window,
            starts_on=starts,
            ends_on=ends,
            devices_required=f"One device per student ({' or '.join(devices)})" if devices else "",
            training_hours=int(rng.integers(2, 13)),
            sites_receive=SITES_RECEIVE[int(rng.integers(len(SITES_RECEIVE)))],
            status=status,
            created_at=created,
            updated_at=updated,
        )

    def _eligible(self, grades: list[str]) -> list[DistrictSpec]:
        key = tuple(grades)
        if key not in self.eligible_cache:
            self.eligible_cache[key] = [
                district
                for district in self.site_candidates
                if set(grades) <= set(district.grades_served)
            ]
        return self.eligible_cache[key]

    def _pick_districts(
        self, grades: list[str], count: int, locale: str | None = None
    ) -> list[DistrictSpec]:
        """`count` eligible districts (of `locale`, if given), from different states where
        possible."""
        eligible = self._eligible(grades)
        if locale is not None:
            eligible = [district for district in eligible if district.locale == locale]
        drawn = self.rng.choice(len(eligible), size=min(len(eligible), count * 3), replace=False)
        candidates = [eligible[int(index)] for index in drawn]
        chosen: list[DistrictSpec] = []
        states: set[str | None] = set()
        for district in candidates:
            state = self.state_of[district.organization]
            if state not in states and district is not self.cedar_hollow:
                chosen.append(district)
                states.add(state)
        chosen += [
            district
            for district in candidates
            if district not in chosen and district is not self.cedar_hollow
        ]
        return chosen[:count]

    def _enrollment(
        self,
        pilot: PilotSpec,
        product: ProductSpec,
        district: DistrictSpec,
        status: str,
        capacity: int,
        with_fit: bool,
    ) -> EnrollmentSpec:
        score, parts = (None, [])
        if with_fit:
            score, parts = _fit(
                district, self.needs_of.get(district.organization, []), pilot, product, capacity
            )
        return EnrollmentSpec(
            district=district.organization,
            status=status,
            capacity_students=capacity,
            capacity_classrooms=math.ceil(capacity / CLASSROOM_SIZE),
            grades=[grade for grade in pilot.grades if grade in district.grades_served],
            note=VOLUNTEER_NOTES[int(self.rng.integers(len(VOLUNTEER_NOTES)))]
            if status == "volunteered"
            else "",
            fit_score=score,
            fit_explanation=parts,
        )

    def _capacity(self, pilot: PilotSpec) -> int:
        return int(round(pilot.students_per_site * self.rng.uniform(0.85, 1.10)))

    def _enroll(self, pilot: PilotSpec, product: ProductSpec, status: str, position: int) -> None:
        rng = self.rng
        if status == "draft":
            return
        if status == "open":
            districts = self._pick_districts(pilot.grades, int(rng.integers(1, 5)))
            if position == 0:
                districts = [self.cedar_hollow, *districts]
            for district in districts:
                pilot.enrollments.append(
                    self._enrollment(
                        pilot, product, district, "volunteered", self._capacity(pilot), False
                    )
                )
        elif status == "matching":
            districts = self._pick_districts(pilot.grades, pilot.sites_wanted + 2)
            scored = [
                self._enrollment(pilot, product, district, "proposed", self._capacity(pilot), True)
                for district in districts
            ]
            scored.sort(key=lambda enrollment: -(enrollment.fit_score or 0.0))
            for rank, enrollment in enumerate(scored):
                if rank >= pilot.sites_wanted:
                    enrollment.status = "volunteered"
                    enrollment.fit_score, enrollment.fit_explanation = None, []
                pilot.enrollments.append(enrollment)
        elif status == "withdrawn":
            for district in self._pick_districts(pilot.grades, int(rng.integers(1, 3))):
                pilot.enrollments.append(
                    self._enrollment(
                        pilot, product, district, "withdrawn", self._capacity(pilot), True
                    )
                )
        else:
            count = pilot.sites_wanted if rng.random() < 0.7 else max(2, pilot.sites_wanted - 1)
            pooled = POOLED_PILOTS.get((status, position))
            locale = pooled.site_locale if pooled else None
            districts = self._pick_districts(pilot.grades, count + 1, locale)
            if status == "published" and position == 0:
                districts = [self.cedar_hollow, *districts]
            for district in districts[:count]:
                pilot.enrollments.append(
                    self._enrollment(pilot, product, district, "site", self._capacity(pilot), True)
                )
            if len(districts) > count and rng.random() < 0.3:
                pilot.enrollments.append(
                    self._enrollment(
                        pilot, product, districts[count], "declined", self._capacity(pilot), True
                    )
                )

    def _document(self, pilot: PilotSpec) -> dict[str, Any]:
        rng = self.rng
        design_type = pilot.design_type or "rct"
        subject = pilot.subjects[0]
        primary, label = PRIMARY_OUTCOMES[subject]
        outcomes: list[dict[str, Any]] = [
            {
                "name": primary,
                "label": label,
                "kind": "continuous",
                "primary": True,
                "direction": "higher_is_better",
                "instrument": f"District interim assessment ({SUBJECT_WORDS[subject]}), fictional",
                "unit": "scale score points",
                "min": 100,
                "max": 300,
            }
        ]
        draw = rng.random()
        secondaries = (
            ["met_benchmark"]
            if draw < 0.35
            else ["days_absent"]
            if draw < 0.45
            else ["met_benchmark", "days_absent"]
            if draw < 0.75
            else []
        )
        if "attendance" in pilot.subjects and "days_absent" not in secondaries:
            secondaries.append("days_absent")
        outcomes += [dict(SECONDARY_OUTCOMES[name]) for name in secondaries]
        subgroups = ["frl", "el", "swd"]
        subgroups += [code for code in ("gender", "race_ethnicity") if rng.random() < 0.5]
        questions = [pilot.research_question]
        if "el" in subgroups and rng.random() < 0.5:
            questions.append("Is the effect different for English learners?")
        return {
            "design_type": design_type,
            "unit_of_assignment": UNIT_OF_ASSIGNMENT[design_type],
            "arms": ["treatment"] if design_type == "pre_post" else ["treatment", "control"],
            "research_questions": questions,
            "outcomes": outcomes,
            "baseline_measure": f"fall_{primary}",
            "subgroups": subgroups,
            "minimum_meaningful_effect": float(rng.choice([0.15, 0.2, 0.25])),
            "icc": 0.2,
            "planned_sites": pilot.sites_wanted,
            "planned_students_per_site": pilot.students_per_site,
            "analysis_plan": {
                "covariates": ["baseline"],
                "missing_data": MISSING_DATA_PLAN,
                "alpha": 0.05,
            },
        }

    def _author(self, pilot: PilotSpec) -> str | None:
        if pilot.researchers:
            return pilot.researchers[0]
        if pilot.product_vendor == BRIGHTPATH_SLUG:
            return FOUNDER_EMAIL
        return None

    def _designs(self, pilot: PilotSpec, amended: bool) -> None:
        document = self._document(pilot)
        author = self._author(pilot)
        if pilot.status not in DATA_STATUSES:
            pilot.designs.append(
                DesignSpec(
                    version=1,
                    document=document,
                    registered_at=None,
                    sha256="",
                    author=author,
                    created_at=pilot.created_at + datetime.timedelta(days=20),
                )
            )
            return
        assert pilot.starts_on is not None
        registered = _at(
            pilot.starts_on - datetime.timedelta(days=int(self.rng.integers(10, 31))), 14
        )
        pilot.designs.append(
            DesignSpec(
                version=1,
                document=document,
                registered_at=registered,
                sha256=canonical_sha256(document),
                author=author,
                created_at=registered - datetime.timedelta(days=14),
            )
        )
        if not amended:
            return
        amendment = copy.deepcopy(document)
        if all(outcome["name"] != "days_absent" for outcome in amendment["outcomes"]):
            amendment["outcomes"].append(dict(SECONDARY_OUTCOMES["days_absent"]))
            reason = (
                "Added days absent as a secondary outcome at the districts' request, "
                "before any outcome data were collected."
            )
        else:
            amendment["planned_students_per_site"] = max(60, pilot.students_per_site - 40)
            reason = (
                "Enrollment at the sites came in lower than planned; the planned students "
                "per site were reduced before any outcome data were collected."
            )
        amended_at = registered + datetime.timedelta(days=int(self.rng.integers(10, 21)))
        pilot.designs.append(
            DesignSpec(
                version=2,
                document=amendment,
                registered_at=amended_at,
                sha256=canonical_sha256(amendment),
                amendment_reason=reason,
                author=author,
                created_at=amended_at - datetime.timedelta(days=3),
            )
        )

    def _outcome_data(
        self, pilot: PilotSpec, number: int, data_index: int, status: str, position: int
    ) -> None:
        rng = self.rng
        document = pilot.designs[-1].document
        kinds = {outcome["name"]: outcome["kind"] for outcome in document["outcomes"]}
        primary = next(outcome["name"] for outcome in document["outcomes"] if outcome["primary"])
        design_type = document["design_type"]
        pooled = POOLED_PILOTS.get((status, position))
        spec = OutcomeSpec(
            primary=primary,
            secondaries=tuple(name for name in kinds if name != primary),
            design_type=design_type,
            true_effect=pooled.true_effect if pooled else float(rng.choice(TRUE_EFFECTS)),
            control_attrition=round(float(rng.uniform(0.05, 0.11)), 3),
            differential_attrition=0.04
            if design_type != "pre_post" and data_index % 4 == 2
            else 0.0,
            logs_dosage=bool(rng.random() < 0.5),
            weeks=pilot.weeks,
        )
        pilot.truth = spec
        secret = hashlib.sha256(f"testbed-demo:{self.seed}:pilot:{number}".encode()).digest()
        sites = [enrollment for enrollment in pilot.enrollments if enrollment.status == "site"]
        uploading = len(sites) if status != "active" else max(1, len(sites) // 2)
        aggregates_site = (
            status == "published" and position % 5 == 4 and design_type in ("rct", "cluster_rct")
        )
        superseding = data_index % 7 == 1
        assert pilot.ends_on is not None
        uploaded_on = min(
            pilot.ends_on + datetime.timedelta(days=int(rng.integers(5, 31))),
            REFERENCE_DATE - datetime.timedelta(days=2),
        )
        for site_number, enrollment in enumerate(sites):
            district = self.district_of[enrollment.district]
            seed = int(rng.integers(0, 2**31))
            rows, randomization = site_rows(
                rng,
                spec=spec,
                secret=secret,
                roster_prefix=f"{district.nces_lea_id}-{number:05d}",
                students=enrollment.capacity_students,
                frl_share=district.frl_share,
                el_share=district.el_share,
                swd_share=district.swd_share,
                assignment_seed=seed,
            )
            if randomization is not None:
                pilot.assignments.append(
                    AssignmentSpec(
                        site=district.organization,
                        seed=seed,
                        algorithm=randomization.algorithm,
                        arms={str(unit): arm for unit, arm in randomization.mapping.items()},
                    )
                )
            if site_number >= uploading:
                continue
            uploader = _uploader_email(district.organization)
            uploaded_at = _at(uploaded_on, 16)
            if aggregates_site and site_number == len(sites) - 1:
                summaries = summary_rows(rows, kinds)
                pilot.datasets.append(
                    DatasetSpec(
                        site=district.organization,
                        version=1,
                        kind="aggregates",
                        filename=f"{district.organization}-aggregates-v1.csv",
                        sha256=hashlib.sha256(summary_csv_text(summaries).encode()).hexdigest(),
                        row_count=len(summaries),
                        uploaded_by=uploader,
                        uploaded_at=uploaded_at,
                        is_current=True,
                        summaries=summaries,
                    )
                )
                continue
            version = 1
            if superseding and site_number == 0:
                partial = rows.head(int(len(rows) * 0.9))
                pilot.datasets.append(
                    _student_dataset(
                        district.organization,
                        1,
                        partial,
                        uploader,
                        uploaded_at - datetime.timedelta(days=2),
                        is_current=False,
                    )
                )
                version = 2
            pilot.datasets.append(
                _student_dataset(
                    district.organization, version, rows, uploader, uploaded_at, is_current=True
                )
            )


def _uploader_email(district_slug: str) -> str:
    if district_slug == CEDAR_HOLLOW_SLUG:
        return COORDINATOR_EMAIL
    return f"data@{district_slug}.example"


def _student_dataset(
    site: str,
    version: int,
    rows: StudentRows,
    uploader: str,
    uploaded_at: datetime.datetime,
    is_current: bool,
) -> DatasetSpec:
    return DatasetSpec(
        site=site,
        version=version,
        kind="students",
        filename=f"{site}-outcomes-v{version}.csv",
        sha256=hashlib.sha256(rows.csv_text().encode()).hexdigest(),
        row_count=len(rows),
        uploaded_by=uploader,
        uploaded_at=uploaded_at,
        is_current=is_current,
        students=rows,
    )


# --- people ---------------------------------------------------------------------------------


def _users(rng: np.random.Generator, pilots: list[PilotSpec]) -> list[UserSpec]:
    """The demo sign-ins, and one data coordinator per district that uploaded data."""
    users = [
        UserSpec(
            NETWORK_ADMIN_EMAIL,
            "Morgan Ellis",
            is_network_admin=True,
            memberships=[(NETWORK_SLUG, "admin")],
        ),
        UserSpec(COORDINATOR_EMAIL, "Dana Whitfield", memberships=[(CEDAR_HOLLOW_SLUG, "admin")]),
        UserSpec(FOUNDER_EMAIL, "Sam Okafor", memberships=[(BRIGHTPATH_SLUG, "admin")]),
        UserSpec(
            RESEARCHER_EMAIL,
            "Priya Natarajan",
            memberships=[(slugify(NORTHFIELD_RESEARCH), "member")],
        ),
        UserSpec(UNVERIFIED_FOUNDER_EMAIL, "Lee Marsh", memberships=[(QUILLSTONE_SLUG, "admin")]),
    ]
    named = {user.email for user in users}
    uploaders = {
        dataset.uploaded_by: dataset.site for pilot in pilots for dataset in pilot.datasets
    }
    for email, site in uploaders.items():
        if email in named:
            continue
        name = (
            f"{FIRST_NAMES[int(rng.integers(len(FIRST_NAMES)))]} "
            f"{LAST_NAMES[int(rng.integers(len(LAST_NAMES)))]}"
        )
        users.append(UserSpec(email, name, memberships=[(site, "member")]))
    return users
