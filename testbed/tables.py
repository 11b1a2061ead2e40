"""The tables of Testbed (Piccolo). Migrations in migrations/ build exactly these.

Lists of tags (grades, subjects, pillars, platforms) are arrays of short codes; no code is a
substring of another, because SQLite's array search is a LIKE.
"""

from __future__ import annotations

from typing import Annotated

import msgspec
from piccolo.columns import (
    JSON,
    Array,
    BigInt,
    Boolean,
    Bytea,
    Date,
    DoublePrecision,
    ForeignKey,
    Integer,
    Text,
    Timestamptz,
    Varchar,
)
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.columns.indexes import IndexMethod
from piccolo.table import Table

# Primary keys are Piccolo's Serial: a PostgreSQL `integer`, so no row has a larger id. A larger
# number in a request names nothing (and would overflow the driver's parameter).
MAX_ID = 2**31 - 1
# An id in a msgspec request body: out of range is a 400 naming the field, not a driver error.
RowId = Annotated[int, msgspec.Meta(ge=1, le=MAX_ID)]

# --- organizations and people -------------------------------------------------------------


class Organization(Table):
    """A district, vendor, research organization or the network itself."""

    kind = Varchar(length=16, index=True)  # district | vendor | research | network
    name = Varchar(length=200)
    slug = Varchar(length=120, unique=True)
    state = Varchar(length=2, null=True, default=None)
    website = Varchar(length=300, default="")
    description = Text(default="")
    verified = Boolean(default=False)
    created_at = Timestamptz(default=TimestamptzNow())


class DistrictProfile(Table):
    organization = ForeignKey(references=Organization, unique=True, index=True)
    nces_lea_id = Varchar(length=7, unique=True)
    locale = Varchar(length=8, index=True)  # city | suburb | town | rural
    enrollment = Integer()
    frl_share = DoublePrecision()  # eligible for free or reduced-price lunch, 0..1
    el_share = DoublePrecision()  # English learners, 0..1
    swd_share = DoublePrecision()  # students with disabilities, 0..1
    grades_served = Array(base_column=Varchar(length=4))
    device_ratio = DoublePrecision()  # devices per student
    platforms = Array(base_column=Varchar(length=32))
    signed_ndpa = Boolean(default=False)
    max_concurrent_pilots = Integer(default=2)
    updated_at = Timestamptz(default=TimestamptzNow(), index=True)  # dashboard's change check


class User(Table, tablename="account"):
    email = Varchar(length=254, unique=True)
    name = Varchar(length=120)
    password_hash = Varchar(length=200)
    is_network_admin = Boolean(default=False)
    active = Boolean(default=True)
    created_at = Timestamptz(default=TimestamptzNow())
    last_login_at = Timestamptz(null=True, default=None)
    # When the person followed a link mailed to this address; until then they browse but do
    # not act (auth.address_verified). Sign-up leaves it empty; invitations and admins set it.
    email_verified_at = Timestamptz(null=True, default=None)
    # A deleted account keeps its row, so what the person wrote keeps its author, but nothing
    # that identifies them: the name becomes "a former member", the address a placeholder
    # (accounts.deletion).
    deleted_at = Timestamptz(null=True, default=None)


class Membership(Table):
    user = ForeignKey(references=User, index=True)
    organization = ForeignKey(references=Organization, index=True)
    role = Varchar(length=16, default="member")  # admin | member
    created_at = Timestamptz(default=TimestamptzNow())


# --- the catalog ----------------------------------------------------------------------------


class Need(Table):
    """A district's problem statement."""

    district = ForeignKey(references=Organization, index=True)
    title = Varchar(length=200)
    statement = Text()
    pillars = Array(base_column=Integer())
    grade_band = Varchar(length=8)  # k2 | g35 | g68 | g912
    subject = Varchar(length=32)
    is_open = Boolean(default=True)
    created_at = Timestamptz(default=TimestamptzNow())


class Product(Table):
    vendor = ForeignKey(references=Organization, index=True)
    name = Varchar(length=200)
    description = Text()
    grade_bands = Array(base_column=Varchar(length=8))
    subjects = Array(base_column=Varchar(length=32))
    pillars = Array(base_column=Integer())
    platforms = Array(base_column=Varchar(length=32))
    student_data_collected = Text(default="")
    privacy_policy_url = Varchar(length=300, default="")
    essa_tier_claimed = Integer(null=True, default=None)
    evidence_url = Varchar(length=300, default="")
    created_at = Timestamptz(default=TimestamptzNow())


class Pilot(Table):
    """A call for sites, then a study."""

    product = ForeignKey(references=Product, index=True)
    title = Varchar(length=200)
    research_question = Text()
    grades = Array(base_column=Varchar(length=4))
    subjects = Array(base_column=Varchar(length=32))
    pillars = Array(base_column=Integer())
    sites_wanted = Integer()
    students_per_site = Integer()
    weeks = Integer()
    start_window = Varchar(length=100, default="")
    starts_on = Date(null=True, default=None)
    ends_on = Date(null=True, default=None)
    devices_required = Varchar(length=200, default="")
    training_hours = Integer(default=0)
    sites_receive = Text(default="")
    status = Varchar(length=16, default="draft", index=True)
    created_at = Timestamptz(default=TimestamptzNow())
    updated_at = Timestamptz(default=TimestamptzNow(), index=True)  # dashboard's change check


class PilotRole(Table):
    """A person given a role on one pilot (e.g. an outside researcher); one role per person per
    pilot (a unique index, migration pilot_role_unique)."""

    pilot = ForeignKey(references=Pilot, index=True)
    user = ForeignKey(references=User, index=True)
    role = Varchar(length=16, default="researcher")
    created_at = Timestamptz(default=TimestamptzNow())


class Enrollment(Table):
    """A district's volunteering for a pilot, through matching to becoming a site."""

    pilot = ForeignKey(references=Pilot, index=True)
    district = ForeignKey(references=Organization, index=True)
    status = Varchar(length=24, default="volunteered", index=True)
    capacity_students = Integer()
    capacity_classrooms = Integer(default=0)
    grades = Array(base_column=Varchar(length=4))
    note = Text(default="")
    fit_score = DoublePrecision(null=True, default=None)
    fit_explanation = JSON(default=[])
    created_at = Timestamptz(default=TimestamptzNow())
    updated_at = Timestamptz(default=TimestamptzNow(), index=True)  # dashboard's change check


# --- matching -------------------------------------------------------------------------------


class MatchingRound(Table):
    """One run of the matching optimizer: what went in, what it proposed and why."""

    run_by = ForeignKey(references=User, null=True)
    scope = Varchar(length=16)  # network | vendor
    vendor = ForeignKey(references=Organization, null=True, default=None)
    pilot_ids = JSON(default=[])  # the calls the round considered
    status = Varchar(length=16)  # optimal | time_limit | empty | no_solution
    message = Text(default="")
    summary = JSON(default={})  # inputs: volunteers, calls, median FRL share, weights, penalty
    proposals = JSON(default=[])  # enrollment, pilot, district, fit and the reasons in words
    shortfalls = JSON(default=[])  # what could not be satisfied, per call, in words
    objective = DoublePrecision(default=0.0)
    lp_bound = DoublePrecision(null=True, default=None)
    gap = DoublePrecision(null=True, default=None)
    seconds = DoublePrecision(default=0.0)
    created_at = Timestamptz(default=TimestamptzNow(), index=True)


class FitWeight(Table):
    """An admin's weight for one part of the fit score (the defaults live in the code)."""

    part = Varchar(length=16, unique=True)
    points = DoublePrecision()
    updated_by = ForeignKey(references=User, null=True)
    updated_at = Timestamptz(default=TimestamptzNow())


class Notification(Table):
    """An in-app message to one person (new proposal, accepted, declined, invitation)."""

    user = ForeignKey(references=User, index=True)
    kind = Varchar(length=24)
    message = Text()
    link = Varchar(length=300, default="")
    created_at = Timestamptz(default=TimestamptzNow(), index=True)
    read_at = Timestamptz(null=True, default=None)
    # Mail about it (testbed.notifications.mailing): "" none, "queued" mailed at once,
    # "digest" waiting for the person's daily digest, "digested" sent in one.
    mail = Varchar(length=12, default="", index=True)


class NotificationSetting(Table):
    """How a person wants notifications that need their action by mail; no row: the default."""

    user = ForeignKey(references=User, index=True)  # unique index (migration)
    mail = Varchar(length=12, default="immediate")  # immediate | digest | none
    updated_at = Timestamptz(default=TimestamptzNow())


class WorkNotice(Table):
    """A "Your work" item a person was already notified of (testbed.notifications.mailing's
    sweep); the unique index on (user, kind, link, overdue) makes each notice happen once."""

    user = ForeignKey(references=User, index=True)
    kind = Varchar(length=24)
    link = Varchar(length=300)
    overdue = Boolean(default=False)
    created_at = Timestamptz(default=TimestamptzNow())


class MailDigest(Table):
    """One person's daily digest, claimed by inserting this row: the unique index on
    (user, sent_on) lets exactly one sender, of any number, send it that day."""

    user = ForeignKey(references=User, index=True)
    sent_on = Date()
    notifications = Integer(default=0)
    created_at = Timestamptz(default=TimestamptzNow())


# --- the study ------------------------------------------------------------------------------


class DesignVersion(Table):
    """One version of a pilot's design; registered versions are frozen."""

    pilot = ForeignKey(references=Pilot, index=True)
    version = Integer()
    document = JSON()  # design type, arms, outcomes, subgroups, power, analysis plan
    registered_at = Timestamptz(null=True, default=None, index=True)  # dashboard's change check
    sha256 = Varchar(length=64, default="")
    amendment_reason = Text(default="")
    author = ForeignKey(references=User, null=True)
    created_at = Timestamptz(default=TimestamptzNow())


class Assignment(Table):
    """A randomization run by the service, reproducible from its seed."""

    pilot = ForeignKey(references=Pilot, index=True)
    site = ForeignKey(references=Organization, index=True)
    seed = BigInt()
    algorithm = Varchar(length=200)
    arms = JSON()  # {unit key: arm}
    created_at = Timestamptz(default=TimestamptzNow())
    # Added for issue 7: the strata that blocked the draw within the site (so a re-run can
    # rebuild the blocks), the registered design it was drawn under, and who uploaded the roster.
    strata = JSON(default={})  # {unit key: stratum}; empty when the site was one block
    design_version = ForeignKey(references=DesignVersion, null=True)
    created_by = ForeignKey(references=User, null=True)


class BaselineCheck(Table):
    """A quasi-experiment's baseline equivalence check for one site (WWC), from the groups and
    baseline scores the district supplied; the newest check of a site is the one shown."""

    pilot = ForeignKey(references=Pilot, index=True)
    site = ForeignKey(references=Organization, index=True)
    design_version = ForeignKey(references=DesignVersion, null=True)
    sha256 = Varchar(length=64)  # of the uploaded file
    n_treatment = Integer()
    n_comparison = Integer()
    mean_treatment = DoublePrecision()
    sd_treatment = DoublePrecision()
    mean_comparison = DoublePrecision()
    sd_comparison = DoublePrecision()
    hedges_g = DoublePrecision()
    rating = Varchar(length=24)  # satisfied | requires_adjustment | not_satisfied
    created_by = ForeignKey(references=User, null=True)
    created_at = Timestamptz(default=TimestamptzNow())


class Dataset(Table):
    """One uploaded file for one site; a newer upload for the site supersedes it."""

    pilot = ForeignKey(references=Pilot, index=True)
    site = ForeignKey(references=Organization, index=True)
    version = Integer()
    kind = Varchar(length=16, default="students")  # students | aggregates
    filename = Varchar(length=255, default="")
    sha256 = Varchar(length=64)
    row_count = Integer()
    uploaded_by = ForeignKey(references=User, null=True)
    uploaded_at = Timestamptz(default=TimestamptzNow())
    is_current = Boolean(default=True, index=True)


class Observation(Table):
    """One student's record in one dataset. The key is a keyed hash, never a district id."""

    dataset = ForeignKey(references=Dataset, index=True, index_method=IndexMethod.btree)
    student_key = Varchar(length=64)
    cluster = Varchar(length=64, default="")
    arm = Varchar(length=32)
    frl = Boolean(null=True, default=None)
    el = Boolean(null=True, default=None)
    swd = Boolean(null=True, default=None)
    gender = Varchar(length=16, default="")
    race_ethnicity = Varchar(length=32, default="")
    baseline = DoublePrecision(null=True, default=None)
    dosage = DoublePrecision(null=True, default=None)
    outcomes = JSON()  # {outcome name: value or null}


class SummaryRow(Table):
    """Aggregates for districts that cannot share student rows."""

    dataset = ForeignKey(references=Dataset, index=True)
    arm = Varchar(length=32)
    outcome = Varchar(length=64)
    randomized = Integer(null=True, default=None)
    n = Integer()
    mean = DoublePrecision(null=True, default=None)
    sd = DoublePrecision(null=True, default=None)
    successes = Integer(null=True, default=None)


class UploadJob(Table):
    """One upload being checked and imported, so a page can show its progress and problems."""

    pilot = ForeignKey(references=Pilot, index=True)
    site = ForeignKey(references=Organization, index=True)
    kind = Varchar(length=16, default="students")  # students | aggregates
    filename = Varchar(length=255, default="")
    size_bytes = BigInt(default=0)
    sha256 = Varchar(length=64, default="")
    status = Varchar(length=16, default="queued")  # queued|validating|importing|done|failed
    rows_total = Integer(default=0)
    rows_done = Integer(default=0)
    problems = JSON(default=[])  # the first 100 [{"row", "column", "message"}]
    problem_count = Integer(default=0)
    message = Text(default="")
    dataset = ForeignKey(references=Dataset, null=True)
    created_by = ForeignKey(references=User, null=True)
    created_at = Timestamptz(default=TimestamptzNow())
    updated_at = Timestamptz(default=TimestamptzNow())
    # The worker running the job renews this while it works (the heartbeat); a job still
    # unfinished after it passed was interrupted (its worker was killed) and is failed.
    lease_until = Timestamptz(null=True, default=None)


class ImplementationLog(Table):
    """How a pilot was put in place at one site: training, dates, problems (one per site)."""

    pilot = ForeignKey(references=Pilot, index=True)
    site = ForeignKey(references=Organization, index=True)
    training_held = Boolean(null=True, default=None)
    training_on = Date(null=True, default=None)
    started_on = Date(null=True, default=None)
    ended_on = Date(null=True, default=None)
    problems = Text(default="")
    updated_by = ForeignKey(references=User, null=True)
    updated_at = Timestamptz(default=TimestamptzNow())


class Finding(Table):
    """The frozen result of an analysis, with the exact inputs it used."""

    pilot = ForeignKey(references=Pilot, index=True)
    design_version = ForeignKey(references=DesignVersion)
    dataset_ids = JSON()
    results = JSON()
    headline = Text(default="")
    computed_at = Timestamptz(default=TimestamptzNow())
    published_at = Timestamptz(null=True, default=None, index=True)  # dashboard's change check
    retracted_at = Timestamptz(null=True, default=None, index=True)  # dashboard's change check
    retraction_reason = Text(default="")
    # "full": every site's data; "public": what was published, without withheld sites.
    variant = Varchar(length=8, default="full")
    # A public variant points to the full finding it was made from.
    source = ForeignKey(references="self", null=True, default=None)
    excluded_sites = JSON(default=[])  # ids of the districts withheld from a public variant
    embargo_until = Date(null=True, default=None)
    run_by = ForeignKey(references=User, null=True, default=None)


class FindingApproval(Table):
    """The vendor's decision on a whole finding (site empty) or a district's on its site."""

    finding = ForeignKey(references=Finding, index=True)
    site = ForeignKey(references=Organization, null=True, default=None)
    decision = Varchar(length=8)  # approve | withhold
    decided_by = ForeignKey(references=User, null=True)
    decided_at = Timestamptz(default=TimestamptzNow())


class PilotDecision(Table):
    """A site district's decision after the pilot: adopt, extend, stop or undecided."""

    pilot = ForeignKey(references=Pilot, index=True)
    district = ForeignKey(references=Organization, index=True)
    decision = Varchar(length=16)
    reasons = Text(default="")
    decided_by = ForeignKey(references=User, null=True)
    decided_at = Timestamptz(default=TimestamptzNow())


# --- costs (testbed/costs; docs/costs.md) ------------------------------------------------------


class ProductPrice(Table):
    """A product's list price as its vendor states it, dated; earlier prices stay as history."""

    product = ForeignKey(references=Product, index=True)
    basis = Varchar(length=16)  # per_student | per_site (per year)
    amount = DoublePrecision()  # dollars of the year it was set
    includes = Text(default="")
    effective_on = Date()
    recorded_by = ForeignKey(references=User, null=True, default=None)
    recorded_at = Timestamptz(default=TimestamptzNow())


class CostSheet(Table):
    """One pilot site's costs: the students in the pilot arm its ingredients are divided by.
    One sheet per (pilot, district): a unique index (migration cost_sheet_unique)."""

    pilot = ForeignKey(references=Pilot, index=True)
    district = ForeignKey(references=Organization, index=True)
    treatment_students = Integer(default=0)
    updated_at = Timestamptz(default=TimestamptzNow())


class CostItem(Table):
    """One ingredient of a site's costs: a quantity times a unit price in dollars of a year."""

    sheet = ForeignKey(references=CostSheet, index=True)
    category = Varchar(length=16)  # licences | devices | training | setup | staff | other
    description = Varchar(length=200)
    who = Varchar(length=120, default="")  # who was trained, or whose time
    quantity = DoublePrecision()
    unit = Varchar(length=40, default="")
    unit_price = DoublePrecision()
    price_year = Integer()
    entered_by = ForeignKey(references=User, null=True, default=None)
    created_at = Timestamptz(default=TimestamptzNow())


class Purchase(Table):
    """What a district bought after deciding to adopt: the negotiated price, the students and
    the total, with the evidence page as it read that day (frozen)."""

    decision = ForeignKey(references=PilotDecision, unique=True, index=True)
    product = ForeignKey(references=Product, index=True)
    district = ForeignKey(references=Organization, index=True)
    price_per_student = DoublePrecision()
    students = Integer()
    total = DoublePrecision()
    evidence_snapshot = JSON()
    evidence_strength = Varchar(length=16)
    recorded_by = ForeignKey(references=User, null=True, default=None)
    recorded_at = Timestamptz(default=TimestamptzNow())


# --- security and audit ---------------------------------------------------------------------


class AuditEvent(Table):
    actor = ForeignKey(references=User, null=True, index=True)
    action = Varchar(length=48, index=True)
    object_type = Varchar(length=32, default="")
    object_id = Varchar(length=64, default="")
    detail = JSON(default={})
    ip_address = Varchar(length=64, default="")
    created_at = Timestamptz(default=TimestamptzNow(), index=True)


class SessionRecord(Table, tablename="web_session"):
    """Server-side session data (Litestar's store interface), shared by every worker."""

    key = Varchar(length=128, unique=True)
    value = Bytea()
    expires_at = Timestamptz(null=True, default=None, index=True)


class AccessToken(Table):
    """A personal access token for the API; only its SHA-256 is stored."""

    user = ForeignKey(references=User, index=True)
    name = Varchar(length=100)
    token_hash = Varchar(length=64, unique=True)
    created_at = Timestamptz(default=TimestamptzNow())
    last_used_at = Timestamptz(null=True, default=None)
    revoked_at = Timestamptz(null=True, default=None)


class Invitation(Table):
    """An organization admin's invitation of a colleague; only the token's SHA-256 is stored."""

    organization = ForeignKey(references=Organization, index=True)
    email = Varchar(length=254)
    role = Varchar(length=16, default="member")
    token_hash = Varchar(length=64, unique=True)
    invited_by = ForeignKey(references=User, null=True)
    created_at = Timestamptz(default=TimestamptzNow())
    accepted_at = Timestamptz(null=True, default=None)


class LoginAttempt(Table):
    """Recent sign-in attempts, for rate limiting across workers."""

    email = Varchar(length=254, index=True)
    ip_address = Varchar(length=64, index=True)
    succeeded = Boolean(default=False)
    created_at = Timestamptz(default=TimestamptzNow(), index=True)
    # sign_in | password_reset: each limit counts its own kind (testbed.accounts.services).
    purpose = Varchar(length=16, default="sign_in")


class PasswordReset(Table):
    """A one-time password reset link; only the token's SHA-256 is stored."""

    user = ForeignKey(references=User, index=True)
    token_hash = Varchar(length=64, unique=True)
    created_at = Timestamptz(default=TimestamptzNow())
    expires_at = Timestamptz()
    used_at = Timestamptz(null=True, default=None)


class EmailToken(Table):
    """A one-time link mailed to an address: verify it (purpose "verify") or make it the
    account's new address (purpose "change_email"). Only the token's SHA-256 is stored."""

    user = ForeignKey(references=User, index=True)
    purpose = Varchar(length=16)  # verify | change_email
    email = Varchar(length=254)  # the address the link was mailed to, which it confirms
    token_hash = Varchar(length=64, unique=True)
    created_at = Timestamptz(default=TimestamptzNow())
    expires_at = Timestamptz()
    used_at = Timestamptz(null=True, default=None)


class OutboxMessage(Table):
    """A mail waiting to be sent, or its outcome (testbed.mail.outbox). Written in the same
    transaction as what caused it, so a message exists exactly when its cause does."""

    kind = Varchar(length=40)  # password_reset | password_changed | invitation
    to_address = Varchar(length=254)
    subject = Varchar(length=300)
    body_text = Text()
    body_html = Text()
    message_id = Varchar(length=200)  # the Message-ID header, the same on every attempt
    status = Varchar(length=16, default="pending", index=True)  # pending | sent | failed
    attempts = Integer(default=0)
    next_attempt_at = Timestamptz(default=TimestamptzNow(), index=True)
    claimed_until = Timestamptz(null=True, default=None)  # a sender's lease on the row
    last_error = Text(default="")
    delivered_via = Varchar(length=16, default="")  # smtp | file
    created_at = Timestamptz(default=TimestamptzNow())
    sent_at = Timestamptz(null=True, default=None)
    # The List-Unsubscribe address of a notification mail (RFC 8058); "" for transactional mail.
    list_unsubscribe = Varchar(length=500, default="")


class Drawing(Table):
    """A plot drawn once and kept (testbed.drawings): its key is the SHA-256 of the drawing's
    code and numbers, so a stored drawing is never out of date, only unused. `subject` says
    what it was drawn for and by which drawing code ("finding:12@<version>", "product:3@..."), so a
    warm-up finds what this code has not drawn."""

    key = Varchar(length=64, unique=True)
    subject = Varchar(length=64, index=True)
    svg = Text()  # empty: there is nothing to plot (e.g. every cell hidden)
    drawn_at = Timestamptz(default=TimestamptzNow())


TABLES: list[type[Table]] = [
    Organization,
    DistrictProfile,
    User,
    Membership,
    Need,
    Product,
    Pilot,
    PilotRole,
    Enrollment,
    DesignVersion,
    Assignment,
    BaselineCheck,
    Dataset,
    Observation,
    SummaryRow,
    UploadJob,
    ImplementationLog,
    Finding,
    FindingApproval,
    PilotDecision,
    ProductPrice,
    CostSheet,
    CostItem,
    Purchase,
    AuditEvent,
    SessionRecord,
    AccessToken,
    Invitation,
    LoginAttempt,
    MatchingRound,
    FitWeight,
    Notification,
    NotificationSetting,
    WorkNotice,
    MailDigest,
    PasswordReset,
    EmailToken,
    OutboxMessage,
    Drawing,
]
