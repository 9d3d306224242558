"""The migrated schema is the models' schema, and carries the guarantees."""

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from mailapp.extensions import db
from mailapp.models import Base, Campaign, Contact, Delivery
from tests.factories import make_contact, make_project

# Tables whose rows are not owned by one tenant, and why.
NOT_TENANT_OWNED = {
    "accounts": "owns projects",
    "projects": "the tenant itself",
    "users": "a person may belong to several projects",
    "audit_log": "installation-wide actions have no project",
    "inbound_messages": "a stray bounce maps to no project",
    "user_sessions": "a person's sign-in, across their projects",
    "recovery_codes": "a person's two-factor codes, across their projects",
    "journey_cursors": "the trigger scans read every project's rows in one pass",
}


def test_migrated_schema_equals_models(app):
    with db.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        diff = compare_metadata(context, Base.metadata)
    assert diff == []


def test_every_tenant_table_has_an_indexed_non_null_project_id():
    for table in Base.metadata.sorted_tables:
        if table.name in NOT_TENANT_OWNED:
            continue
        column = table.c.get("project_id")
        assert column is not None, f"{table.name} has no project_id"
        assert not column.nullable, f"{table.name}.project_id is nullable"
        leading = {next(iter(ix.columns)).name for ix in table.indexes}
        leading |= {
            next(iter(c.columns)).name
            for c in table.constraints
            if isinstance(c, sa.UniqueConstraint | sa.PrimaryKeyConstraint)
        }
        assert "project_id" in leading or column.index, f"{table.name}.project_id not indexed"


def test_due_delivery_and_event_indexes_exist(app):
    inspector = sa.inspect(db.engine)
    delivery_indexes = {tuple(ix["column_names"]) for ix in inspector.get_indexes("deliveries")}
    assert ("status", "scheduled_at") in delivery_indexes
    event_indexes = {tuple(ix["column_names"]) for ix in inspector.get_indexes("events")}
    assert ("project_id", "campaign_id", "type", "occurred_at") in event_indexes


def test_email_is_unique_per_project_not_globally(app):
    first, second = make_project(), make_project()
    make_contact(first, "ada@example.org")
    make_contact(second, "ada@example.org")
    with pytest.raises(sa.exc.IntegrityError):
        make_contact(first, "ada@example.org")
    db.session.rollback()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Contact)) == 2


def test_one_delivery_per_campaign_and_contact(app):
    project = make_project()
    contact = make_contact(project)
    campaign = Campaign(project_id=project.id, name="c")
    db.session.add(campaign)
    db.session.commit()
    db.session.add(Delivery(project_id=project.id, campaign_id=campaign.id, contact_id=contact.id))
    db.session.commit()
    db.session.add(Delivery(project_id=project.id, campaign_id=campaign.id, contact_id=contact.id))
    with pytest.raises(sa.exc.IntegrityError):
        db.session.commit()
    db.session.rollback()


def test_datetimes_come_back_timezone_aware(app):
    contact = make_contact(make_project())
    db.session.expire_all()
    assert db.session.get(Contact, contact.id).created_at.utcoffset().total_seconds() == 0


def test_secrets_are_encrypted_at_rest(app):
    from mailapp.models import Sender

    project = make_project()
    sender = Sender(
        project_id=project.id,
        name="s",
        from_name="S",
        from_email="s@x.org",
        domain="x.org",
        transport_url="smtp://user:hunter22@relay:587",
    )
    db.session.add(sender)
    db.session.commit()
    raw = db.session.execute(sa.text("SELECT transport_url FROM senders")).scalar_one()
    assert "hunter22" not in raw
    db.session.expire_all()
    assert db.session.get(Sender, sender.id).transport_url == "smtp://user:hunter22@relay:587"
