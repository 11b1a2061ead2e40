"""A refused form lists its problems at the top, each field's problem linking to the field."""

from __future__ import annotations

import re

from tests.web.conftest import post_form, sign_in


def test_the_summary_links_each_field_problem_to_its_field(client, people):
    sign_in(client, "district")
    refused = post_form(
        client,
        f"/districts/{people.district}/needs",
        {"title": "", "statement": "", "grade_band": "g68", "subject": "attendance"},
    )
    assert refused.status_code == 422
    summary = refused.text.split('<div class="errors" role="alert">', 1)[1].split("</div>", 1)[0]
    linked = re.findall(r'<a href="#f-([a-z_]+)">', summary)
    assert {"title", "statement"} <= set(linked)
    for field in linked:  # every link lands on a field of the form
        assert f'id="f-{field}"' in refused.text
