"""The foundation: home page, health, friendly errors, static files and the OpenAPI document."""

from __future__ import annotations


def test_home_page_explains_testbed_and_shows_live_numbers(client, call):
    from testbed.accounts.services import create_organization

    call(create_organization, kind="vendor", name="Brightpath Learning")
    call(create_organization, kind="district", name="Cedar Hollow Unified", state="OR")

    response = client.get("/")

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert "Find out whether an edtech product works" in response.text
    numbers = client.get("/api/v1/network/numbers").json()
    assert numbers["vendors"] == 1
    assert numbers["districts"] == 1


def test_health_reports_database_ok(client):
    response = client.get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok"}


def test_unknown_page_is_a_friendly_404_page(client):
    response = client.get("/no/such/page")
    assert response.status_code == 404
    assert "Page not found" in response.text
    assert "Back to the home page" in response.text


def test_unknown_api_path_is_a_json_problem(client):
    response = client.get("/api/v1/no-such-thing")
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["status"] == 404


def test_unexpected_error_is_a_friendly_500_without_internals(app, settings):
    from litestar import get
    from litestar.testing import TestClient

    from testbed.app import create_app

    @get("/boom", opt={"access": "public"})
    async def boom() -> str:
        raise RuntimeError("secret internal detail")

    broken = create_app(settings)
    broken.register(boom)
    with TestClient(broken, raise_server_exceptions=False) as test_client:
        response = test_client.get("/boom")
    assert response.status_code == 500
    assert "Something went wrong on our side" in response.text
    assert "secret internal detail" not in response.text


def test_static_files_and_api_documents_are_served(client):
    assert client.get("/static/style.css").status_code == 200
    schema = client.get("/schema/openapi.json")
    assert schema.status_code == 200
    assert schema.json()["info"]["title"] == "Testbed API"
    assert "/api/v1/network/numbers" in schema.json()["paths"]
    assert client.get("/schema/swagger").status_code == 200
