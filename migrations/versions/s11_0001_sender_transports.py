"""sender_transports: several transports per sender, weighted, with failover

Revision ID: s11_0001
Revises: s10_0002
Create Date: 2026-12-04 21:30:00

Each sender's single transport_url becomes its first SenderTransport (weight 1, enabled), the
ciphertext copied as it is (same ENCRYPTION_KEY), and the old column is cleared so one place
says where a sender's mail goes. The column stays: downgrade puts the first URL back there.
"""
import sqlalchemy as sa
from alembic import op

revision = 's11_0001'
down_revision = 's10_0002'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'sender_transports',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('sender_id', sa.Integer(), nullable=False),
        sa.Column('name', sa.String(length=100), nullable=False),
        sa.Column('url', sa.Text(), nullable=False),
        sa.Column('weight', sa.Integer(), nullable=False),
        sa.Column('position', sa.Integer(), nullable=False),
        sa.Column('enabled', sa.Boolean(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('project_id', sa.Integer(), nullable=False),
        sa.CheckConstraint('weight >= 0', name=op.f('ck_sender_transports_weight_not_negative')),
        sa.ForeignKeyConstraint(
            ['project_id'], ['projects.id'],
            name=op.f('fk_sender_transports_project_id_projects'), ondelete='CASCADE',
        ),
        sa.ForeignKeyConstraint(
            ['sender_id'], ['senders.id'],
            name=op.f('fk_sender_transports_sender_id_senders'), ondelete='CASCADE',
        ),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_sender_transports')),
    )
    op.create_index(op.f('ix_sender_transports_project_id'), 'sender_transports', ['project_id'])
    op.create_index(op.f('ix_sender_transports_sender_id'), 'sender_transports', ['sender_id'])
    op.execute(
        "INSERT INTO sender_transports "
        "(project_id, sender_id, name, url, weight, position, enabled, created_at) "
        "SELECT project_id, id, 'Main relay', transport_url, 1, 0, true, CURRENT_TIMESTAMP "
        "FROM senders WHERE transport_url IS NOT NULL AND transport_url <> ''"
    )
    op.execute(
        "UPDATE senders SET transport_url = NULL WHERE id IN (SELECT sender_id FROM sender_transports)"
    )


def downgrade():
    op.execute(
        "UPDATE senders SET transport_url = (SELECT t.url FROM sender_transports t "
        "WHERE t.sender_id = senders.id ORDER BY t.position, t.id LIMIT 1) "
        "WHERE transport_url IS NULL"
    )
    op.drop_index(op.f('ix_sender_transports_sender_id'), table_name='sender_transports')
    op.drop_index(op.f('ix_sender_transports_project_id'), table_name='sender_transports')
    op.drop_table('sender_transports')
