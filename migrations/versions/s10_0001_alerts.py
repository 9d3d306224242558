"""alerts: the history of alerts raised for a project's owners (what, when, mail and webhook)

Revision ID: s10_0001
Revises: s9_0001
Create Date: 2026-12-04 19:00:00

A project's alert settings (which alerts, thresholds, extra recipients) live in
projects.settings["alerts"]: no column for them.
"""
import sqlalchemy as sa
from alembic import op

revision = 's10_0001'
down_revision = 's9_0001'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'alerts',
        sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
        sa.Column('kind', sa.String(length=24), nullable=False),
        sa.Column('subject', sa.String(length=200), nullable=False),
        sa.Column('text', sa.String(length=500), nullable=False),
        sa.Column('link', sa.String(length=500), nullable=False),
        sa.Column('mail_state', sa.String(length=21), nullable=False),
        sa.Column('mail_detail', sa.Text(), nullable=True),
        sa.Column('mailed_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('webhooks_queued', sa.Integer(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('project_id', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ['project_id'], ['projects.id'], name=op.f('fk_alerts_project_id_projects'),
            ondelete='CASCADE',
        ),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_alerts')),
    )
    op.create_index(
        op.f('ix_alerts_project_id_alerts_kind_alerts_subject_alerts_created_at'),
        'alerts',
        ['project_id', 'kind', 'subject', 'created_at'],
    )


def downgrade():
    op.drop_index(op.f('ix_alerts_project_id_alerts_kind_alerts_subject_alerts_created_at'), table_name='alerts')
    op.drop_table('alerts')
