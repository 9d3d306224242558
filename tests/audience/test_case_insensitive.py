"""One contact per address whatever its case: imports, API, subscribe forms, suppression."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
import sqlalchemy as sa

from mailapp.audience.contacts import find_contact, upsert_contact, upsert_contacts
from mailapp.audience.imports.runs import run_import
from mailapp.audience.imports.wizard import (
    create_import,
    preview_problems,
    progress,
    set_mapping,
    start_import,
)
from mailapp.audience.lists import create_list
from mailapp.audience.subscriptions import subscribe
from mailapp.audience.suppression import filter_unsuppressed, is_suppressed, suppress
from mailapp.delivery.recipients import count_audience
from mailapp.extensions import db
from mailapp.models import Contact, ContactStatus, ImportProblem, ListMembership, SuppressionReason
from tests.factories import TEST_ACTOR, make_contact, make_list, make_project

FILE = "email,name\nUSER0001@X.EXAMPLE,Upper\nother@x.example,O\nuser0001@x.example,Lower\n"


def _import(project_id: int, text: str, tmp_path: Path) -> int:
    job = create_import(
        project_id, "people.csv", io.BytesIO(text.encode()), upload_dir=tmp_path, actor=TEST_ACTOR
    )
    set_mapping(project_id, job.id, {"email": "email", "name": "first_name"}, actor=TEST_ACTOR)
    return job.id


def _contacts(project_id: int) -> list[tuple[str, str, str | None]]:
    query = sa.select(Contact.email, Contact.email_raw, Contact.first_name).where(
        Contact.project_id == project_id
    )
    return sorted(tuple(row) for row in db.session.execute(query))


@pytest.mark.parametrize("chunk_rows", [1, 1000], ids=["chunk-apart", "same-chunk"])
def test_an_import_keeps_one_contact_for_case_variants(
    app, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, chunk_rows: int
) -> None:
    monkeypatch.setattr("mailapp.audience.imports.runs.BATCH_ROWS", chunk_rows)
    monkeypatch.setattr("mailapp.audience.imports.chunks.CHUNK_ROWS", chunk_rows)
    with app.app_context():
        project = make_project()
        job_id = _import(project.id, FILE, tmp_path)
        preview = preview_problems(project.id, job_id)
        assert preview.counts == {"duplicate in file": 1}
        assert preview.examples == [(4, "line 4 repeats line 2 (differs only in case)")]
        start_import(project.id, job_id, actor=TEST_ACTOR)
        run_import(job_id)
        assert _contacts(project.id) == [
            ("other@x.example", "other@x.example", "O"),
            ("user0001@x.example", "USER0001@X.EXAMPLE", "Upper"),  # the first line wins
        ]
        line, reason = db.session.execute(sa.select(ImportProblem.line, ImportProblem.reason)).one()
        assert line == 4
        assert reason.startswith("duplicate of")
        assert progress(project.id, job_id)["created"] == 2


def test_an_import_updates_the_contact_typed_in_other_capitals(app, tmp_path: Path) -> None:
    with app.app_context():
        project = make_project()
        existing = make_contact(project, "user0001@x.example")
        job_id = _import(project.id, "email,name\nUser0001@X.Example,Ada\n", tmp_path)
        start_import(project.id, job_id, actor=TEST_ACTOR)
        run_import(job_id)
        counts = progress(project.id, job_id)
        assert (counts["created"], counts["updated"]) == (0, 1)
        assert _contacts(project.id) == [("user0001@x.example", "User0001@X.Example", "Ada")]
        assert db.session.get(Contact, existing.id).first_name == "Ada"


def test_api_writes_and_lookups_find_the_contact_whatever_the_case(app) -> None:
    with app.app_context():
        project = make_project()
        contact, created = upsert_contact(project.id, {"email": "Ann@X.example"}, actor=TEST_ACTOR)
        assert created
        assert find_contact(project.id, "ANN@x.EXAMPLE").id == contact.id
        again, created = upsert_contact(project.id, {"email": "aNN@x.example"}, actor=TEST_ACTOR)
        assert (again.id, created) == (contact.id, False)
        result = upsert_contacts(
            project.id, [{"email": "ANN@X.EXAMPLE"}, {"email": "ann@x.example"}], actor=TEST_ACTOR
        )
        assert (result.counts.created, result.counts.updated) == (0, 1)
        assert len(_contacts(project.id)) == 1


def test_the_subscribe_form_finds_the_existing_contact(app) -> None:
    with app.app_context():
        project = make_project()
        news = create_list(project.id, "News", actor=TEST_ACTOR)
        existing = make_contact(project, "reader@example.com")
        result = subscribe(
            project.id, news.id, {"email": "Reader@EXAMPLE.com"}, actor=TEST_ACTOR, source="form"
        )
        assert result.contact_id == existing.id
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Contact)) == 1
        membership = db.session.get(ListMembership, (news.id, existing.id))
        assert membership is not None


def test_suppressing_one_case_variant_blocks_them_all(app) -> None:
    with app.app_context():
        project = make_project()
        news = make_list(project, emails=["user0001@x.example", "bob@x.example"])
        assert count_audience(project.id, {"lists": [news.id]}) == 2
        # A manual entry leaves the status alone: the hash alone must keep the mail away.
        suppress(project.id, "USER0001@X.Example", SuppressionReason.MANUAL, actor=TEST_ACTOR)
        assert find_contact(project.id, "user0001@x.example").status is ContactStatus.ACTIVE
        for variant in ("user0001@x.example", "User0001@X.EXAMPLE", " USER0001@x.example "):
            assert is_suppressed(project.id, variant)
        assert filter_unsuppressed(project.id, ["User0001@x.example"]) == set()
        assert count_audience(project.id, {"lists": [news.id]}) == 1
        result = upsert_contacts(project.id, [{"email": "USER0001@X.EXAMPLE"}], actor=TEST_ACTOR)
        assert result.errors == [{"email": "user0001@x.example", "error": "suppressed"}]
        # A complaint about the address typed in capitals marks the stored contact.
        suppress(project.id, "BOB@X.EXAMPLE", SuppressionReason.COMPLAINT, actor=TEST_ACTOR)
        assert find_contact(project.id, "bob@x.example").status is ContactStatus.COMPLAINED
        assert count_audience(project.id, {"lists": [news.id]}) == 0
