"""senders.tracking_domain: a sender's own host name for links (a CNAME to us)

Revision ID: s11_0003
Revises: s11_0002
Create Date: 2026-12-04 21:50:00

Empty for every existing sender: their links stay on BASE_URL as before.
"""
import sqlalchemy as sa
from alembic import op

revision = 's11_0003'
down_revision = 's11_0002'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('senders') as batch_op:
        batch_op.add_column(sa.Column('tracking_domain', sa.String(length=253), nullable=True))


def downgrade():
    with op.batch_alter_table('senders') as batch_op:
        batch_op.drop_column('tracking_domain')
