"""Pilot designs: the rules for writing, registering, amending, verifying and exporting a
pilot's design, and for randomizing its sites. The pages, the API and later steps (outcome
uploads call `require_registered_design`) share them.

One module a job: `permissions` (who may do what), `versions` (drafts, registration,
amendments), `registered` (the registered design as later steps read it; the REES export),
`sites`, `assignments` (randomization and its verification) and `baseline` (baseline
equivalence). Callers import from here.
"""

from testbed.designs.services.assignments import (
    assignment_csv,
    randomization_page,
    randomize_site,
    verify_site,
)
from testbed.designs.services.baseline import check_baseline
from testbed.designs.services.permissions import require_edit_design, require_upload_for_site
from testbed.designs.services.registered import (
    rees_export,
    registered_design,
    require_registered_design,
)
from testbed.designs.services.versions import (
    design_page,
    diff_versions,
    editor_state,
    get_version,
    list_versions,
    pilot_summary,
    register_draft,
    save_draft,
    start_amendment,
)

__all__ = [
    "assignment_csv",
    "check_baseline",
    "design_page",
    "diff_versions",
    "editor_state",
    "get_version",
    "list_versions",
    "pilot_summary",
    "randomization_page",
    "randomize_site",
    "rees_export",
    "register_draft",
    "registered_design",
    "require_edit_design",
    "require_registered_design",
    "require_upload_for_site",
    "save_draft",
    "start_amendment",
    "verify_site",
]
