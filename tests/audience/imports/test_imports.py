"""CSV imports: malformed files reported line by line, policies, suppression, quotas."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
import sqlalchemy as sa

from mailapp.audience.imports.files import read_upload, sniff_delimiter
from mailapp.audience.imports.runs import run_import
from mailapp.audience.imports.wizard import (
    create_import,
    preview_problems,
    progress,
    report_lines,
    set_mapping,
    start_import,
)
from mailapp.audience.lists import create_list
from mailapp.audience.suppression import suppress
from mailapp.errors import ServiceError
from mailapp.extensions import db
from mailapp.models import (
    Contact,
    ContactStatus,
    DuplicatePolicy,
    ImportProblem,
    ImportStatus,
    ListMembership,
    SuppressionReason,
)
from tests.factories import TEST_ACTOR, make_contact, make_project

MESSY = (
    "\ufeffE-Mail;Vorname;Time Zone;Plan;City\r\n"  # BOM, semicolons, CRLF
    "ann@example.com;Ann;Europe/Berlin;pro;Berlin\r\n"
    "not-an-email;Bob;;free;Oslo\r\n"  # line 3: invalid email
    ";Carl;;free;Oslo\r\n"  # line 4: empty email
    "dan@example.com;Dan;Mars/Base;pro;Oslo\r\n"  # line 5: bad time zone
    '"eve@example.com";"Eve ""E"" Smith";;"team";"New\r\nYork"\r\n'  # 6-7: quoted, multi-line
    "ANN@EXAMPLE.COM;Ann again;;;\r\n"  # line 8: line 2 again, typed in capitals
    "ann@example.com;Ann twice;;;\r\n"  # line 9: duplicate of line 2
    "fay@example.com;Fay\r\n"  # line 10: too few fields
    "info@example.com;Info;;;\r\n"  # line 11: role address (imported, quarantined)
    "\r\n"  # blank line: not data
    "gone@example.com;Gone;;;\r\n"  # line 13: suppressed
)


def _upload(project_id: int, text: str, tmp_path: Path, name: str = "people.csv"):
    return create_import(
        project_id,
        name,
        io.BytesIO(text.encode()),
        upload_dir=tmp_path / "uploads",
        actor=TEST_ACTOR,
    )


def test_sniffing() -> None:
    assert sniff_delimiter("a;b;c\n1;2;3\n") == ";"
    assert sniff_delimiter('a,b,c\n"x;y",2,3\n') == ","


def test_messy_file_reports_every_bad_row_with_its_line(app, tmp_path: Path) -> None:
    with app.app_context():
        project = make_project()
        news = create_list(project.id, "News", actor=TEST_ACTOR)
        make_contact(project, "gone@example.com")
        suppress(project.id, "gone@example.com", SuppressionReason.COMPLAINT, actor=TEST_ACTOR)
        job = _upload(project.id, MESSY, tmp_path)
        assert job.delimiter == ";"
        upload = read_upload(job)
        assert upload.header == ["E-Mail", "Vorname", "Time Zone", "Plan", "City"]
        assert upload.rows[4][4] == "New\r\nYork"
        assert job.mapping == {
            "E-Mail": "email",
            "Vorname": "first_name",
            "Time Zone": "timezone",
            "Plan": "attributes.plan",
            "City": "attributes.city",
        }
        set_mapping(project.id, job.id, job.mapping, list_id=news.id, actor=TEST_ACTOR)
        preview = preview_problems(project.id, job.id)
        assert preview.counts == {
            "invalid email": 1,
            "empty email": 1,
            "bad time zone": 1,
            "duplicate in file": 2,
            "malformed": 1,
            "role address": 1,
        }
        assert (8, "line 8 repeats line 2 (differs only in case)") in preview.examples
        assert (9, "line 9 repeats line 2") in preview.examples

        start_import(project.id, job.id, actor=TEST_ACTOR)
        done = run_import(job.id)
        assert done.status is ImportStatus.DONE
        problems = db.session.execute(
            sa.select(ImportProblem.line, ImportProblem.reason)
            .where(ImportProblem.import_id == job.id)
            .order_by(ImportProblem.line)
        ).all()
        assert [line for line, _ in problems] == [3, 4, 5, 8, 9, 10, 13]
        reasons = dict(problems)
        assert "invalid email" in reasons[3]
        assert reasons[4] == "email is empty"
        assert "Mars/Base" in reasons[5]
        assert reasons[8] == "duplicate of line 2 (differs only in case)"
        assert reasons[9] == "duplicate of line 2"
        assert reasons[10] == "expected 5 fields, found 2"
        assert "suppressed" in reasons[13]
        counts = progress(project.id, job.id)
        assert counts["total"] == 10
        assert counts["processed"] == 10
        assert (counts["created"], counts["updated"]) == (3, 0)
        assert (counts["invalid"], counts["skipped"]) == (6, 1)
        ann = db.session.scalars(sa.select(Contact).where(Contact.email == "ann@example.com"))
        assert [(c.email_raw, c.first_name) for c in ann] == [("ann@example.com", "Ann")]

        eve = db.session.scalar(sa.select(Contact).where(Contact.email == "eve@example.com"))
        assert eve.first_name == 'Eve "E" Smith'
        assert eve.attributes == {"plan": "team", "city": "New\r\nYork"}
        info = db.session.scalar(sa.select(Contact).where(Contact.email == "info@example.com"))
        assert info.quarantined
        gone = db.session.scalar(sa.select(Contact).where(Contact.email == "gone@example.com"))
        assert gone.status is ContactStatus.COMPLAINED
        members = db.session.scalar(
            sa.select(sa.func.count()).where(ListMembership.list_id == news.id)
        )
        assert members == 3

        report = "".join(report_lines(project.id, job.id)).splitlines()
        assert report[0] == "line,reason,row"
        assert report[1].startswith("3,")
        assert len(report) == 8


def test_policies_numbers_and_formula_neutral_report(app, tmp_path: Path) -> None:
    with app.app_context():
        project = make_project()
        make_contact(project, "a@example.com", first_name="Old", attributes={"zip": "0101"})
        text = "email,first_name,zip,score\na@example.com,New,01234,42\n=cmd@x,+1,,\n"
        for policy, first_name in (
            (DuplicatePolicy.SKIP, "Old"),
            (DuplicatePolicy.FILL_EMPTY, "Old"),
            (DuplicatePolicy.UPDATE, "New"),
        ):
            job = _upload(project.id, text, tmp_path)
            set_mapping(project.id, job.id, job.mapping, policy=policy, actor=TEST_ACTOR)
            start_import(project.id, job.id, actor=TEST_ACTOR)
            run_import(job.id)
            a = db.session.scalar(sa.select(Contact).where(Contact.email == "a@example.com"))
            db.session.refresh(a)
            assert a.first_name == first_name, policy
        assert a.attributes == {"zip": "01234", "score": 42}
        report = "".join(report_lines(project.id, job.id))
        assert ",'=cmd@x,+1,," in report or "'=cmd@x" in report


def test_mapping_validation_and_quota(app, tmp_path: Path) -> None:
    with app.app_context():
        project = make_project()
        job = _upload(project.id, "mail,name\na@example.com,A\nb@example.com,B\n", tmp_path)
        with pytest.raises(ServiceError, match="map one column to email"):
            set_mapping(project.id, job.id, {"mail": "", "name": "first_name"}, actor=TEST_ACTOR)
        with pytest.raises(ServiceError, match="not a contact field"):
            set_mapping(project.id, job.id, {"mail": "email", "name": "nickname"}, actor=TEST_ACTOR)
        with pytest.raises(ServiceError, match="map the columns"):
            start_import(project.id, job.id, actor=TEST_ACTOR)
        project.settings = {**project.settings, "quota_import_rows_per_day": 1}
        db.session.commit()
        set_mapping(project.id, job.id, {"mail": "email"}, actor=TEST_ACTOR)
        start_import(project.id, job.id, actor=TEST_ACTOR)
        failed = run_import(job.id)
        assert failed.status is ImportStatus.FAILED
        assert "quota" in failed.error
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Contact)) == 0


def test_empty_and_batches(app, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with app.app_context():
        project = make_project()
        with pytest.raises(ServiceError, match="empty"):
            _upload(project.id, "  \n", tmp_path)
        monkeypatch.setattr("mailapp.audience.imports.runs.BATCH_ROWS", 7)
        monkeypatch.setattr("mailapp.audience.imports.chunks.CHUNK_ROWS", 7)
        rows = "".join(f"p{i}@example.com,{i}\n" for i in range(50))
        job = _upload(project.id, "email,n\n" + rows + "p3@example.com,again\n", tmp_path)
        set_mapping(project.id, job.id, job.mapping, actor=TEST_ACTOR)
        start_import(project.id, job.id, actor=TEST_ACTOR)
        run_import(job.id)
        counts = progress(project.id, job.id)
        assert (counts["created"], counts["invalid"], counts["processed"]) == (50, 1, 51)
        line, reason = db.session.execute(sa.select(ImportProblem.line, ImportProblem.reason)).one()
        # PostgreSQL stages the whole file, so even a duplicate chunks apart names its line.
        postgresql = db.engine.dialect.name == "postgresql"
        first = "line 5" if postgresql else "an earlier line"
        assert (line, reason) == (52, f"duplicate of {first}")
        assert not Path(job.path).exists()


def test_lists_skip_policy_suppression_and_duplicates_across_chunks(
    app, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Chunks of three rows, so duplicates and suppressed repeats straddle chunk borders."""
    monkeypatch.setattr("mailapp.audience.imports.runs.BATCH_ROWS", 3)
    monkeypatch.setattr("mailapp.audience.imports.chunks.CHUNK_ROWS", 3)
    with app.app_context():
        project = make_project()
        everyone = create_list(project.id, "Everyone", actor=TEST_ACTOR)
        news = create_list(project.id, "News", actor=TEST_ACTOR)
        other = create_list(project.id, "Other", actor=TEST_ACTOR)
        make_contact(project, "a@example.com", first_name="Old")
        suppress(project.id, "Gone@Example.com", SuppressionReason.HARD_BOUNCE, actor=TEST_ACTOR)
        text = (
            "email,list,score,name\n"
            "a@example.com,News,1.5,A\n"  # 2: exists; skipped, still joins News
            "b@example.com,,2,B\n"  # 3: created
            "c@Bücher.de,Other,,C\n"  # 4: an IDN address (email-validator's path), created
            "gone@example.com,,,G\n"  # 5: suppressed
            "gone@example.com,,,G2\n"  # 6: duplicate of line 5
            "b@example.com,,,B2\n"  # 7: duplicate of line 3, a chunk earlier
            "d@example.com,Nope,,D\n"  # 8: unknown list
        )
        job = _upload(project.id, text, tmp_path)
        mapping = {"email": "email", "list": "list", "score": "attributes.score"}
        mapping["name"] = "first_name"
        set_mapping(
            project.id,
            job.id,
            mapping,
            list_id=everyone.id,
            policy=DuplicatePolicy.SKIP,
            actor=TEST_ACTOR,
        )
        start_import(project.id, job.id, actor=TEST_ACTOR)
        postgresql = db.engine.dialect.name == "postgresql"
        if postgresql:  # a chunk table left by a crashed attempt is cleared
            db.session.execute(sa.text(f"CREATE UNLOGGED TABLE import_{job.id}_9 (line int)"))
            db.session.commit()
        run_import(job.id)
        counts = progress(project.id, job.id)
        assert counts["status"] == "done"
        assert (counts["processed"], counts["created"], counts["updated"]) == (7, 2, 0)
        assert (counts["skipped"], counts["invalid"]) == (2, 3)
        reasons = dict(
            db.session.execute(
                sa.select(ImportProblem.line, ImportProblem.reason).where(
                    ImportProblem.import_id == job.id
                )
            ).all()
        )
        assert reasons == {
            5: "address is suppressed; left as it is",
            6: "duplicate of line 5",
            7: "duplicate of line 3" if postgresql else "duplicate of an earlier line",
            8: "unknown list 'Nope'",
        }
        people = {
            c.email: c
            for c in db.session.scalars(sa.select(Contact).where(Contact.project_id == project.id))
        }
        assert set(people) == {"a@example.com", "b@example.com", "c@bücher.de"}
        assert people["a@example.com"].first_name == "Old"  # skip policy: left as it was
        assert people["b@example.com"].attributes == {"score": 2}
        assert people["c@bücher.de"].email_raw == "c@Bücher.de"
        members = set(
            db.session.execute(
                sa.select(ListMembership.list_id, Contact.email)
                .join(Contact, Contact.id == ListMembership.contact_id)
                .where(ListMembership.project_id == project.id)
            ).all()
        )
        assert members == {
            (everyone.id, "a@example.com"),
            (everyone.id, "b@example.com"),
            (everyone.id, "c@bücher.de"),
            (news.id, "a@example.com"),
            (other.id, "c@bücher.de"),
        }
        if postgresql:  # the staging tables are gone
            tables = sa.inspect(db.engine).get_table_names()
            assert [t for t in tables if t.startswith("import_") and t != "import_jobs"] == [
                "import_problems"
            ]
