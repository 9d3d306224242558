"""contact_tags.created_at and the indexes the journey trigger scans read

Revision ID: s11_0005
Revises: s11_0004
Create Date: 2026-12-04 22:40:00

The "tag added" trigger reads the tags given since its cursor: each tag now keeps when it was
given. Tags given before this revision keep NULL (when they were given is not known), so no
journey takes them for new ones. The "enters a segment" trigger reads contacts changed since
its cursor, and "joins a list" memberships confirmed since its cursor: an index each.
"""
import sqlalchemy as sa
from alembic import op

revision = 's11_0005'
down_revision = 's11_0004'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('contact_tags') as batch_op:
        batch_op.add_column(sa.Column('created_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index(
            'ix_contact_tags_project_id_contact_tags_created_at', ['project_id', 'created_at']
        )
    op.create_index('ix_contacts_project_id_contacts_updated_at', 'contacts', ['project_id', 'updated_at'])


def downgrade():
    op.drop_index('ix_contacts_project_id_contacts_updated_at', table_name='contacts')
    with op.batch_alter_table('contact_tags') as batch_op:
        batch_op.drop_index('ix_contact_tags_project_id_contact_tags_created_at')
        batch_op.drop_column('created_at')
