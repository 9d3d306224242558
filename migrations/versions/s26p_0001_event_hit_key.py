"""events.hit_key: the spool key of an open or click, unique so a re-drained hit counts once

Revision ID: s26p_0001
Revises: i6b_0001
Create Date: 2026-11-22 16:30:00

"""
from alembic import op
import sqlalchemy as sa

revision = 's26p_0001'
down_revision = 'i6b_0001'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('events', schema=None) as batch_op:
        batch_op.add_column(sa.Column('hit_key', sa.Uuid(), nullable=True))
        batch_op.create_unique_constraint(batch_op.f('uq_events_hit_key'), ['hit_key'])


def downgrade():
    with op.batch_alter_table('events', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('uq_events_hit_key'), type_='unique')
        batch_op.drop_column('hit_key')
