"""hourly_stats and campaign_breakdowns: a campaign's first 48 hours per hour, and its
events by recipient domain, mail client and device, for the campaign report

Revision ID: s5_0004
Revises: s5_0002
Create Date: 2026-12-02 19:50:00

"""
from alembic import op
import sqlalchemy as sa

revision = 's5_0004'
down_revision = 's5_0002'
branch_labels = None
depends_on = None

EVENT_TYPE = sa.Enum(
    'sent', 'delivered', 'open', 'click', 'bounce_hard', 'bounce_soft', 'complaint',
    'unsubscribe', 'unknown', name='eventtype', native_enum=False, length=19,
)


def upgrade():
    op.create_table('hourly_stats',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('campaign_id', sa.Integer(), nullable=False),
    sa.Column('hour', sa.DateTime(timezone=True), nullable=False),
    sa.Column('type', EVENT_TYPE, nullable=False),
    sa.Column('is_machine', sa.Boolean(), nullable=False),
    sa.Column('count', sa.BigInteger(), nullable=False),
    sa.Column('project_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['campaign_id'], ['campaigns.id'], name=op.f('fk_hourly_stats_campaign_id_campaigns'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['project_id'], ['projects.id'], name=op.f('fk_hourly_stats_project_id_projects'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_hourly_stats')),
    sa.UniqueConstraint('project_id', 'campaign_id', 'hour', 'type', 'is_machine', name=op.f('uq_hourly_stats_project_id_campaign_id_hour_type_is_machine'))
    )
    op.create_table('campaign_breakdowns',
    sa.Column('campaign_id', sa.Integer(), nullable=False),
    sa.Column('dimension', sa.String(length=16), nullable=False),
    sa.Column('value', sa.String(length=255), nullable=False),
    sa.Column('type', EVENT_TYPE, nullable=False),
    sa.Column('count', sa.BigInteger(), nullable=False),
    sa.Column('project_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['campaign_id'], ['campaigns.id'], name=op.f('fk_campaign_breakdowns_campaign_id_campaigns'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['project_id'], ['projects.id'], name=op.f('fk_campaign_breakdowns_project_id_projects'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('project_id', 'campaign_id', 'dimension', 'value', 'type', name=op.f('pk_campaign_breakdowns'))
    )


def downgrade():
    op.drop_table('campaign_breakdowns')
    op.drop_table('hourly_stats')
