"""transactional activity log: message tags, SMTP attempts, hourly counts per template and
tag, a message's template and resend origin, first human open/click, and the log's indexes

Revision ID: s6_0001
Revises: s7_0001
Create Date: 2026-12-03 05:36:42

"""
from alembic import op
import sqlalchemy as sa

revision = 's6_0001'
down_revision = 's7_0001'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('message_stats',
    sa.Column('dimension', sa.String(length=8), nullable=False),
    sa.Column('value', sa.String(length=64), nullable=False),
    sa.Column('hour', sa.DateTime(timezone=True), nullable=False),
    sa.Column('metric', sa.String(length=24), nullable=False),
    sa.Column('count', sa.BigInteger(), nullable=False),
    sa.Column('project_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['project_id'], ['projects.id'], name=op.f('fk_message_stats_project_id_projects'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('project_id', 'dimension', 'value', 'hour', 'metric', name=op.f('pk_message_stats'))
    )
    op.create_table('message_attempts',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('message_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('attempted_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('outcome', sa.String(length=16), nullable=False),
    sa.Column('reply', sa.Text(), nullable=True),
    sa.Column('project_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['message_id'], ['messages.id'], name=op.f('fk_message_attempts_message_id_messages'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['project_id'], ['projects.id'], name=op.f('fk_message_attempts_project_id_projects'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_message_attempts'))
    )
    with op.batch_alter_table('message_attempts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_message_attempts_project_id_message_attempts_message_id'), ['project_id', 'message_id'], unique=False)

    op.create_table('message_tags',
    sa.Column('message_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('tag', sa.String(length=64), nullable=False),
    sa.Column('project_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['message_id'], ['messages.id'], name=op.f('fk_message_tags_message_id_messages'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['project_id'], ['projects.id'], name=op.f('fk_message_tags_project_id_projects'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('message_id', 'tag', name=op.f('pk_message_tags'))
    )
    with op.batch_alter_table('message_tags', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_message_tags_project_id_message_tags_tag_message_tags_message_id'), ['project_id', 'tag', 'message_id'], unique=False)

    with op.batch_alter_table('events', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_events_message_id'), ['message_id'], unique=False)

    with op.batch_alter_table('messages', schema=None) as batch_op:
        batch_op.add_column(sa.Column('recipient_key', sa.String(length=320), nullable=True))
        batch_op.add_column(sa.Column('template_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('resend_of_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True))
        batch_op.add_column(sa.Column('track_opens', sa.Boolean(), server_default=sa.false(), nullable=False))
        batch_op.add_column(sa.Column('first_opened_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('first_clicked_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.drop_index(batch_op.f('ix_messages_project_id'))
        batch_op.create_index(batch_op.f('ix_messages_message_id'), ['message_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_messages_resend_of_id'), ['resend_of_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_messages_project_id_messages_created_at'), ['project_id', 'created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_messages_project_id_messages_id'), ['project_id', 'id'], unique=False)
        batch_op.create_index(batch_op.f('ix_messages_project_id_messages_recipient_key_messages_id'), ['project_id', 'recipient_key', 'id'], unique=False)
        batch_op.create_index(batch_op.f('ix_messages_project_id_messages_sender_id_messages_id'), ['project_id', 'sender_id', 'id'], unique=False)
        batch_op.create_index(batch_op.f('ix_messages_project_id_messages_status_messages_id'), ['project_id', 'status', 'id'], unique=False)
        batch_op.create_index(batch_op.f('ix_messages_project_id_messages_template_id_messages_id'), ['project_id', 'template_id', 'id'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_messages_resend_of_id_messages'), 'messages', ['resend_of_id'], ['id'], ondelete='SET NULL')
        batch_op.create_foreign_key(batch_op.f('fk_messages_template_id_templates'), 'templates', ['template_id'], ['id'], ondelete='SET NULL')

    # Messages accepted before: searchable by address, grouped by template.
    op.execute("UPDATE messages SET recipient_key = lower(trim(recipient))")
    op.execute(
        "UPDATE messages SET template_id = (SELECT template_versions.template_id "
        "FROM template_versions WHERE template_versions.id = messages.template_version_id) "
        "WHERE template_version_id IS NOT NULL"
    )



def downgrade():
    with op.batch_alter_table('messages', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_messages_template_id_templates'), type_='foreignkey')
        batch_op.drop_constraint(batch_op.f('fk_messages_resend_of_id_messages'), type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_messages_project_id_messages_template_id_messages_id'))
        batch_op.drop_index(batch_op.f('ix_messages_project_id_messages_status_messages_id'))
        batch_op.drop_index(batch_op.f('ix_messages_project_id_messages_sender_id_messages_id'))
        batch_op.drop_index(batch_op.f('ix_messages_project_id_messages_recipient_key_messages_id'))
        batch_op.drop_index(batch_op.f('ix_messages_project_id_messages_id'))
        batch_op.drop_index(batch_op.f('ix_messages_project_id_messages_created_at'))
        batch_op.drop_index(batch_op.f('ix_messages_resend_of_id'))
        batch_op.drop_index(batch_op.f('ix_messages_message_id'))
        batch_op.create_index(batch_op.f('ix_messages_project_id'), ['project_id'], unique=False)
        batch_op.drop_column('first_clicked_at')
        batch_op.drop_column('first_opened_at')
        batch_op.drop_column('track_opens')
        batch_op.drop_column('resend_of_id')
        batch_op.drop_column('template_id')
        batch_op.drop_column('recipient_key')

    with op.batch_alter_table('events', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_events_message_id'))

    with op.batch_alter_table('message_tags', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_message_tags_project_id_message_tags_tag_message_tags_message_id'))

    op.drop_table('message_tags')
    with op.batch_alter_table('message_attempts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_message_attempts_project_id_message_attempts_message_id'))

    op.drop_table('message_attempts')
    op.drop_table('message_stats')
