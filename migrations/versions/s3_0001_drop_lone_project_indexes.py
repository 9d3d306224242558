"""contacts and events: drop the lone project_id indexes; their composite indexes lead with it

Every insert paid for an index no query needs: the planner uses (project_id, status),
(project_id, created_at) and (project_id, email) on contacts, and (project_id, occurred_at)
or (project_id, campaign_id, type, occurred_at) on events.

Revision ID: s3_0001
Revises: s26p_0001
Create Date: 2026-11-22 19:45:00

"""
from alembic import op

revision = 's3_0001'
down_revision = 's26p_0001'
branch_labels = None
depends_on = None


def upgrade():
    for table in ('contacts', 'events'):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_index(batch_op.f(f'ix_{table}_project_id'))


def downgrade():
    for table in ('contacts', 'events'):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.create_index(batch_op.f(f'ix_{table}_project_id'), ['project_id'], unique=False)
