"""contacts.email_hash: the suppression key stored with each contact, kept by the database

Revision ID: s7_0001
Revises: s5_0004
Create Date: 2026-12-03 06:00:00

An audience's suppression check hashed every contact's address on every reading (6.9 of
10.7 s for a 930,000-contact list). The hash is now a column that triggers keep current on
every insert and on every change of email, whatever writes the row; existing rows are
filled here. SQLite calls the application's mailapp_email_hash() (registered on every
connection; registered here too, for a migration run outside the app).
"""

import hashlib

import sqlalchemy as sa
from alembic import op

revision = 's7_0001'
down_revision = 's5_0004'
branch_labels = None
depends_on = None

PG_HASH = "encode(sha256(convert_to(lower(btrim({})), 'UTF8')), 'hex')"
PG_FUNCTION = f"""
CREATE FUNCTION contacts_email_hash() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.email_hash := {PG_HASH.format("NEW.email")};
    RETURN NEW;
END
$$
"""
PG_TRIGGER = (
    "CREATE TRIGGER contacts_email_hash BEFORE INSERT OR UPDATE OF email ON contacts "
    "FOR EACH ROW EXECUTE FUNCTION contacts_email_hash()"
)
SQLITE_TRIGGERS = [
    "CREATE TRIGGER contacts_email_hash_insert AFTER INSERT ON contacts BEGIN "
    "UPDATE contacts SET email_hash = mailapp_email_hash(NEW.email) WHERE id = NEW.id; END",
    "CREATE TRIGGER contacts_email_hash_update AFTER UPDATE OF email ON contacts BEGIN "
    "UPDATE contacts SET email_hash = mailapp_email_hash(NEW.email) WHERE id = NEW.id; END",
]


def _sqlite_hash(email):
    return None if email is None else hashlib.sha256(email.strip().lower().encode()).hexdigest()


def upgrade():
    with op.batch_alter_table('contacts', schema=None) as batch_op:
        batch_op.add_column(sa.Column('email_hash', sa.String(length=64), nullable=True))
    bind = op.get_bind()
    if bind.dialect.name == 'postgresql':
        op.execute("UPDATE contacts SET email_hash = " + PG_HASH.format('email'))
        op.execute(PG_FUNCTION)
        op.execute(PG_TRIGGER)
    else:
        bind.connection.driver_connection.create_function(
            'mailapp_email_hash', 1, _sqlite_hash, deterministic=True
        )
        op.execute("UPDATE contacts SET email_hash = mailapp_email_hash(email)")
        for statement in SQLITE_TRIGGERS:
            op.execute(statement)


def downgrade():
    if op.get_bind().dialect.name == 'postgresql':
        op.execute("DROP TRIGGER contacts_email_hash ON contacts")
        op.execute("DROP FUNCTION contacts_email_hash()")
    else:
        op.execute("DROP TRIGGER contacts_email_hash_insert")
        op.execute("DROP TRIGGER contacts_email_hash_update")
    with op.batch_alter_table('contacts', schema=None) as batch_op:
        batch_op.drop_column('email_hash')
