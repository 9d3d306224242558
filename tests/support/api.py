"""Calling /api/v1 in a test as an API key of a project would."""

from __future__ import annotations

import io
from collections.abc import Callable, Iterable
from typing import Any

from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from mailapp.access.apikeys import create_api_key
from mailapp.models import Project
from tests.factories import TEST_ACTOR


class ApiCaller:
    """`caller.get("/lists")`, `caller.post(path, json=...)`: requests under /api/v1 carrying a
    new key of `project` with `scopes`; `upload` posts a file as multipart/form-data."""

    def __init__(self, client: FlaskClient, project: Project, scopes: Iterable[str]) -> None:
        _, key = create_api_key(project.id, "test", list(scopes), actor=TEST_ACTOR)
        self.client = client
        self.headers = {"Authorization": f"Bearer {key}"}

    def __getattr__(self, method: str) -> Callable[..., TestResponse]:
        def call(path: str, **kwargs: Any) -> TestResponse:
            request = getattr(self.client, method)
            return request(f"/api/v1{path}", headers=self.headers, **kwargs)

        return call

    def upload(self, path: str, data: bytes, filename: str, **fields: Any) -> TestResponse:
        return self.client.post(
            f"/api/v1{path}",
            headers=self.headers,
            data={"file": (io.BytesIO(data), filename), **fields},
            content_type="multipart/form-data",
        )
