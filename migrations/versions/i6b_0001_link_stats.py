"""link_stats: clicks per link for the click map, kept after raw events are purged

Revision ID: i6b_0001
Revises: 0001
Create Date: 2026-11-22 13:50:00

"""
from alembic import op
import sqlalchemy as sa

revision = 'i6b_0001'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('link_stats',
    sa.Column('link_id', sa.Integer(), nullable=False),
    sa.Column('clicks', sa.BigInteger(), nullable=False),
    sa.Column('machine_clicks', sa.BigInteger(), nullable=False),
    sa.Column('project_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['link_id'], ['links.id'], name=op.f('fk_link_stats_link_id_links'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['project_id'], ['projects.id'], name=op.f('fk_link_stats_project_id_projects'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('link_id', name=op.f('pk_link_stats'))
    )
    with op.batch_alter_table('link_stats', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_link_stats_project_id'), ['project_id'], unique=False)


def downgrade():
    with op.batch_alter_table('link_stats', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_link_stats_project_id'))

    op.drop_table('link_stats')
