"""consent_records.list_name: the list a consent was given or withdrawn for, by name

Revision ID: s10_0002
Revises: s10_0001
Create Date: 2026-12-04 19:50:00

Deleting a list sets its consent records' list_id to NULL (the records stay: they are
evidence), which used to leave them naming no list. Each record now keeps the list's name as it
was when written; existing records get the name of their list (records whose list was deleted
before this revision have no name to recover and stay as they were).
"""
import sqlalchemy as sa
from alembic import op

revision = 's10_0002'
down_revision = 's10_0001'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('consent_records') as batch_op:
        batch_op.add_column(sa.Column('list_name', sa.String(length=200), nullable=True))
    op.execute(
        "UPDATE consent_records SET list_name = "
        "(SELECT lists.name FROM lists WHERE lists.id = consent_records.list_id) "
        "WHERE list_id IS NOT NULL"
    )


def downgrade():
    with op.batch_alter_table('consent_records') as batch_op:
        batch_op.drop_column('list_name')
