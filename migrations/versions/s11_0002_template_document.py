"""template_versions.document: the visual editor's document of a version (NULL: HTML)

Revision ID: s11_0002
Revises: s11_0001
Create Date: 2026-12-04 21:30:00

A version made with the visual editor keeps its block document next to the HTML compiled
from it when it was saved; versions written as HTML have none.
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = 's11_0002'
down_revision = 's11_0001'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('template_versions') as batch_op:
        batch_op.add_column(sa.Column('document', sa.JSON().with_variant(postgresql.JSONB(), 'postgresql'), nullable=True))


def downgrade():
    with op.batch_alter_table('template_versions') as batch_op:
        batch_op.drop_column('document')
