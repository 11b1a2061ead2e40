"""Volunteering, fit scores, recommendations, matching rounds and acceptance: the rules.

Enrollment statuses: volunteered -> proposed (by a round) -> accepted_by_district or
accepted_by_vendor -> site (both accepted); declined (either side); withdrawn (the district,
before it is accepted).

One module a job: `enrollments` (statuses, limits and the lock every change holds), `facts`
(the fit score's weights and inputs), `volunteering`, `acceptance`, `recommendations` (and
invitations) and `rounds`. Callers import from here.
"""

from testbed.matching.services.acceptance import accept, decline, enrollment_party
from testbed.matching.services.enrollments import (
    STATUS_WORDS,
    WITHDRAWABLE_STATUSES,
    get_enrollment,
)
from testbed.matching.services.facts import (
    call_facts,
    call_rows,
    district_facts,
    fit_weights,
    set_fit_weights,
)
from testbed.matching.services.recommendations import (
    call_matching,
    district_dashboard,
    invite,
    recommendations,
)
from testbed.matching.services.rounds import admin_overview, round_detail, round_viewable, run_round
from testbed.matching.services.volunteering import own_enrollment, volunteer, withdraw

__all__ = [
    "get_enrollment",
    "STATUS_WORDS",
    "WITHDRAWABLE_STATUSES",
    "accept",
    "admin_overview",
    "call_facts",
    "call_matching",
    "call_rows",
    "decline",
    "district_dashboard",
    "district_facts",
    "enrollment_party",
    "fit_weights",
    "invite",
    "own_enrollment",
    "recommendations",
    "round_detail",
    "round_viewable",
    "run_round",
    "set_fit_weights",
    "volunteer",
    "withdraw",
]
