"""deliveries, messages: when the first deferral happened, for the queue lifetime

Revision ID: s6_0004
Revises: s6_0003
Create Date: 2026-12-03 05:50:00

"""
import sqlalchemy as sa
from alembic import op

revision = 's6_0004'
down_revision = 's6_0003'
branch_labels = None
depends_on = None


def upgrade():
    for table in ('deliveries', 'messages'):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(
                sa.Column('first_deferred_at', sa.DateTime(timezone=True), nullable=True)
            )


def downgrade():
    for table in ('deliveries', 'messages'):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column('first_deferred_at')
