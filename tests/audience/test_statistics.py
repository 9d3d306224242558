"""Bulk writes leave the planner statistics describing the tables as they are."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
import sqlalchemy as sa

from mailapp.audience.contacts import upsert_contacts
from mailapp.audience.imports.runs import run_import
from mailapp.audience.imports.wizard import create_import, set_mapping, start_import
from mailapp.audience.statistics import refresh_statistics, stale_tables
from mailapp.extensions import db
from tests.factories import TEST_ACTOR, make_project


def _analyzed() -> dict[str, int]:
    rows = db.session.execute(
        sa.text(
            "SELECT relname, analyze_count FROM pg_stat_user_tables"  # ours, not autovacuum's
            " WHERE relname IN ('contacts', 'list_memberships')"
        )
    )
    return dict(rows.all())


def _needs_postgresql() -> None:
    if db.engine.dialect.name != "postgresql":
        pytest.skip("planner statistics are PostgreSQL's (SQLite plans without them)")


def test_sqlite_has_nothing_to_refresh(app) -> None:
    with app.app_context():
        if db.engine.dialect.name != "sqlite":
            pytest.skip("the SQLite side of refresh_statistics")
        assert stale_tables(written=10**6) == []
        assert refresh_statistics(only_stale=False) == []


def test_a_large_bulk_upsert_refreshes_and_a_small_one_does_not(app) -> None:
    with app.app_context():
        _needs_postgresql()
        project = make_project()
        before = _analyzed()
        batch = [{"email": f"p{i}@bulk.example"} for i in range(1000)]
        upsert_contacts(project.id, batch, actor=TEST_ACTOR)
        after_large = _analyzed()
        assert after_large["contacts"] == before["contacts"] + 1
        upsert_contacts(project.id, [{"email": "one@bulk.example"}], actor=TEST_ACTOR)
        assert _analyzed()["contacts"] == after_large["contacts"]
        planned = db.session.scalar(
            sa.text("SELECT reltuples FROM pg_class WHERE relname = 'contacts'")
        )
        assert planned >= 1000  # the planner now knows the rows are there


def test_a_finished_import_refreshes_contacts_and_list_members(app, tmp_path: Path) -> None:
    with app.app_context():
        _needs_postgresql()
        project = make_project()
        text = "email\n" + "".join(f"i{i}@import.example\n" for i in range(20))
        job = create_import(
            project.id, "p.csv", io.BytesIO(text.encode()), upload_dir=tmp_path, actor=TEST_ACTOR
        )
        set_mapping(project.id, job.id, {"email": "email"}, actor=TEST_ACTOR)
        before = _analyzed()
        start_import(project.id, job.id, actor=TEST_ACTOR)
        run_import(job.id)
        after = _analyzed()
        assert after["contacts"] == before["contacts"] + 1
        assert after["list_memberships"] == before["list_memberships"] + 1
