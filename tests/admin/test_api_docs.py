"""The API docs page: Swagger UI from the package's own files over the app's OpenAPI JSON."""

from __future__ import annotations

from tests.admin.conftest import login
from tests.factories import make_project, make_user


def test_api_docs_page_serves_swagger_ui_from_the_package(app, client):
    login(client, make_user(make_project(), "analyst"))
    page = client.get("/admin/api_docs/").data.decode()
    assert 'src="/admin/api_docs/swagger-ui/swagger-ui-bundle.js"' in page
    assert '"/api/v1/openapi.json"' in page
    bundle = client.get("/admin/api_docs/swagger-ui/swagger-ui-bundle.js")
    assert bundle.status_code == 200
    assert b"SwaggerUIBundle" in bundle.data
    bundle.close()
    assert client.get("/admin/api_docs/swagger-ui/index.html").status_code == 404
