"""inbound_messages.reason: why mail came back; provider_events: ESP event ids unique per
project; messages.request_fingerprint: an Idempotency-Key replay must be the same request

Revision ID: s6_0002
Revises: s6_0001
Create Date: 2026-12-03 06:00:00

"""
import sqlalchemy as sa
from alembic import op

revision = 's6_0002'
down_revision = 's6_0001'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('messages', schema=None) as batch_op:
        batch_op.add_column(sa.Column('request_fingerprint', sa.String(length=64), nullable=True))
    with op.batch_alter_table('inbound_messages', schema=None) as batch_op:
        batch_op.add_column(sa.Column('reason', sa.String(length=32), nullable=True))
    # One project posting an id first must not make another project's event a duplicate.
    with op.batch_alter_table('provider_events', schema=None) as batch_op:
        batch_op.drop_constraint('uq_provider_events_provider_provider_event_id', type_='unique')
        batch_op.create_unique_constraint(
            batch_op.f('uq_provider_events_project_id_provider_provider_event_id'),
            ['project_id', 'provider', 'provider_event_id'],
        )


def downgrade():
    with op.batch_alter_table('provider_events', schema=None) as batch_op:
        batch_op.drop_constraint(
            'uq_provider_events_project_id_provider_provider_event_id', type_='unique'
        )
        batch_op.create_unique_constraint(
            batch_op.f('uq_provider_events_provider_provider_event_id'),
            ['provider', 'provider_event_id'],
        )
    with op.batch_alter_table('inbound_messages', schema=None) as batch_op:
        batch_op.drop_column('reason')
    with op.batch_alter_table('messages', schema=None) as batch_op:
        batch_op.drop_column('request_fingerprint')
