"""A form posted as multipart/form-data (curl -F, or a page with enctype) gets an answer like an
URL-encoded one; it used to hang until the client gave up, then log a 500 (found by an outside
attacker run on /login, /signup, the password and account forms)."""

from __future__ import annotations

import threading

from tests.web.conftest import EMAILS, PASSWORD, csrf_token

HANG_SECONDS = 20


def _post_multipart(client, path: str, fields: dict[str, str]):
    answer: list = []
    files = {name: (None, value) for name, value in fields.items()}
    worker = threading.Thread(
        target=lambda: answer.append(client.post(path, files=files)), daemon=True
    )
    worker.start()
    worker.join(HANG_SECONDS)
    assert answer, f"POST {path} as multipart got no answer in {HANG_SECONDS} s"
    return answer[0]


def test_sign_in_posted_as_multipart_is_answered(client, people):
    token = csrf_token(client)
    signed_in = _post_multipart(
        client, "/login", {"_csrf_token": token, "email": EMAILS["vendor"], "password": PASSWORD}
    )
    assert signed_in.status_code in (200, 302, 303)
    assert client.get("/api/v1/me").status_code == 200


def test_a_nul_in_a_multipart_form_field_is_refused(client, people):
    refused = _post_multipart(
        client, "/login", {"_csrf_token": csrf_token(client), "email": "a\x00b@x.example"}
    )
    assert refused.status_code == 400
