"""Outcome data: uploads (checked whole, stored all or nothing, superseding the site's previous
upload), attrition, the data-quality summary and implementation logs.

One module a job: `sites` (a pilot's sites, uploads and upload rules), `imports` (the upload
itself), `jobs`, `counts` (randomized and analyzed per site and arm, attrition), `quality` (the
data-quality summary) and `implementation` (implementation logs). Callers import from here.
"""

from testbed.uploads.services.counts import (
    AttritionSummary,
    attrition_summary,
    dataset_attrition,
    network_students_reached,
    site_arm_counts,
)
from testbed.uploads.services.implementation import implementation_log, save_implementation_log
from testbed.uploads.services.imports import UploadRequest, import_students, start_upload
from testbed.uploads.services.jobs import get_job, may_see_job
from testbed.uploads.services.quality import data_quality, datasets_as_seen_by, randomized_shown
from testbed.uploads.services.sites import (
    pilot_datasets,
    require_site,
    require_upload_permission,
    rules_from_design,
    site_assignment,
    template_csv,
    template_header,
    upload_rules,
)

__all__ = [
    "AttritionSummary",
    "UploadRequest",
    "attrition_summary",
    "data_quality",
    "dataset_attrition",
    "datasets_as_seen_by",
    "get_job",
    "implementation_log",
    "import_students",
    "may_see_job",
    "network_students_reached",
    "pilot_datasets",
    "randomized_shown",
    "require_site",
    "require_upload_permission",
    "rules_from_design",
    "save_implementation_log",
    "site_arm_counts",
    "site_assignment",
    "start_upload",
    "template_csv",
    "template_header",
    "upload_rules",
]
