"""users: a time zone of their own for the back office (empty: the project's)

Revision ID: s5_0002
Revises: s5_0001
Create Date: 2026-12-02 19:45:00

"""
import sqlalchemy as sa
from alembic import op

revision = 's5_0002'
down_revision = 's5_0001'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('timezone', sa.String(length=64), nullable=True))


def downgrade():
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('timezone')
