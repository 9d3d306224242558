"""journeys: drafts, frozen versions, enrollments, their step ledger, events and scan cursors;
campaigns back a journey's email steps; deliveries get a round

Revision ID: s11_0004
Revises: s11_0003
Create Date: 2026-12-04 21:45:00

Every existing delivery gets round 0, so its (campaign, contact) key is unchanged. On SQLite
the campaigns and deliveries tables are rebuilt (a new foreign key, a new unique key) with
foreign keys switched off: dropping the old tables would otherwise cascade.
"""
import contextlib

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = 's11_0004'
down_revision = 's11_0003'
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), 'postgresql')
BIGID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')



def upgrade():
    op.create_table(
        'journeys',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('name', sa.String(length=200), nullable=False),
        sa.Column('description', sa.Text(), nullable=True),
        sa.Column('status', sa.Enum('draft', 'active', 'paused', 'stopped', name='journeystatus',
                                    native_enum=False, create_constraint=False, length=15),
                  nullable=False),
        sa.Column('trigger', JSON, nullable=False),
        sa.Column('graph', JSON, nullable=False),
        sa.Column('settings', JSON, nullable=False),
        sa.Column('published_version_id', sa.Integer(), nullable=True),
        sa.Column('created_by_id', sa.Integer(), nullable=True),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('project_id', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(['created_by_id'], ['users.id'],
                                name=op.f('fk_journeys_created_by_id_users'), ondelete='SET NULL'),
        sa.ForeignKeyConstraint(['project_id'], ['projects.id'],
                                name=op.f('fk_journeys_project_id_projects'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_journeys')),
    )
    op.create_index(op.f('ix_journeys_project_id'), 'journeys', ['project_id'])
    op.create_table(
        'journey_versions',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('journey_id', sa.Integer(), nullable=False),
        sa.Column('number', sa.Integer(), nullable=False),
        sa.Column('trigger', JSON, nullable=False),
        sa.Column('graph', JSON, nullable=False),
        sa.Column('settings', JSON, nullable=False),
        sa.Column('published_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('published_by_id', sa.Integer(), nullable=True),
        sa.Column('project_id', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(['journey_id'], ['journeys.id'],
                                name=op.f('fk_journey_versions_journey_id_journeys'),
                                ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['published_by_id'], ['users.id'],
                                name=op.f('fk_journey_versions_published_by_id_users'),
                                ondelete='SET NULL'),
        sa.ForeignKeyConstraint(['project_id'], ['projects.id'],
                                name=op.f('fk_journey_versions_project_id_projects'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_journey_versions')),
        sa.UniqueConstraint('journey_id', 'number',
                            name=op.f('uq_journey_versions_journey_id_number')),
    )
    op.create_index(op.f('ix_journey_versions_project_id'), 'journey_versions', ['project_id'])
    with op.batch_alter_table('journeys') as batch_op:
        batch_op.create_foreign_key(
            op.f('fk_journeys_published_version_id_journey_versions'), 'journey_versions',
            ['published_version_id'], ['id'], ondelete='SET NULL')
    op.create_table(
        'enrollments',
        sa.Column('id', BIGID, nullable=False),
        sa.Column('journey_id', sa.Integer(), nullable=False),
        sa.Column('version_id', sa.Integer(), nullable=False),
        sa.Column('contact_id', BIGID, nullable=False),
        sa.Column('round', sa.Integer(), nullable=False),
        sa.Column('status', sa.Enum('active', 'waiting', 'completed', 'goal', 'exited',
                                    name='enrollmentstatus', native_enum=False,
                                    create_constraint=False, length=17), nullable=False),
        sa.Column('step', sa.String(length=64), nullable=True),
        sa.Column('wake_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('waiting_for', sa.String(length=100), nullable=True),
        sa.Column('seq', sa.Integer(), nullable=False),
        sa.Column('data', JSON, nullable=False),
        sa.Column('entered_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('left_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('exit_reason', sa.String(length=200), nullable=True),
        sa.Column('project_id', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(['contact_id'], ['contacts.id'],
                                name=op.f('fk_enrollments_contact_id_contacts'),
                                ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['journey_id'], ['journeys.id'],
                                name=op.f('fk_enrollments_journey_id_journeys'),
                                ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['version_id'], ['journey_versions.id'],
                                name=op.f('fk_enrollments_version_id_journey_versions'),
                                ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['project_id'], ['projects.id'],
                                name=op.f('fk_enrollments_project_id_projects'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_enrollments')),
        sa.UniqueConstraint('journey_id', 'contact_id', 'round',
                            name=op.f('uq_enrollments_journey_id_contact_id_round')),
    )
    op.create_index(op.f('ix_enrollments_project_id'), 'enrollments', ['project_id'])
    op.create_index(op.f('ix_enrollments_version_id'), 'enrollments', ['version_id'])
    op.create_index(op.f('ix_enrollments_status_enrollments_wake_at'), 'enrollments', ['status', 'wake_at'])
    op.create_index(op.f('ix_enrollments_contact_id_enrollments_status'), 'enrollments',
                    ['contact_id', 'status'])
    op.create_table(
        'enrollment_steps',
        sa.Column('id', BIGID, nullable=False),
        sa.Column('enrollment_id', BIGID, nullable=False),
        sa.Column('seq', sa.Integer(), nullable=False),
        sa.Column('step', sa.String(length=64), nullable=False),
        sa.Column('outcome', sa.String(length=100), nullable=False),
        sa.Column('detail', JSON, nullable=False),
        sa.Column('at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('project_id', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(['enrollment_id'], ['enrollments.id'],
                                name=op.f('fk_enrollment_steps_enrollment_id_enrollments'),
                                ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['project_id'], ['projects.id'],
                                name=op.f('fk_enrollment_steps_project_id_projects'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_enrollment_steps')),
        sa.UniqueConstraint('enrollment_id', 'seq',
                            name=op.f('uq_enrollment_steps_enrollment_id_seq')),
    )
    op.create_index(op.f('ix_enrollment_steps_project_id'), 'enrollment_steps', ['project_id'])
    op.create_table(
        'journey_events',
        sa.Column('id', BIGID, nullable=False),
        sa.Column('contact_id', BIGID, nullable=False),
        sa.Column('name', sa.String(length=100), nullable=False),
        sa.Column('data', JSON, nullable=False),
        sa.Column('idempotency_key', sa.String(length=255), nullable=True),
        sa.Column('occurred_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('project_id', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(['contact_id'], ['contacts.id'],
                                name=op.f('fk_journey_events_contact_id_contacts'),
                                ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['project_id'], ['projects.id'],
                                name=op.f('fk_journey_events_project_id_projects'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_journey_events')),
        sa.UniqueConstraint('project_id', 'idempotency_key',
                            name=op.f('uq_journey_events_project_id_idempotency_key')),
    )
    op.create_index(op.f('ix_journey_events_contact_id_journey_events_occurred_at'), 'journey_events',
                    ['contact_id', 'occurred_at'])
    op.create_table(
        'journey_cursors',
        sa.Column('key', sa.String(length=64), nullable=False),
        sa.Column('position', sa.String(length=200), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('key', name=op.f('pk_journey_cursors')),
    )
    with _foreign_keys_off():
        with op.batch_alter_table('campaigns') as batch_op:
            batch_op.add_column(sa.Column('journey_version_id', sa.Integer(), nullable=True))
            batch_op.add_column(sa.Column('journey_step', sa.String(length=64), nullable=True))
            batch_op.create_index(op.f('ix_campaigns_journey_version_id'),
                                  ['journey_version_id'])
            batch_op.create_foreign_key(
                op.f('fk_campaigns_journey_version_id_journey_versions'), 'journey_versions',
                ['journey_version_id'], ['id'], ondelete='SET NULL')
        with op.batch_alter_table('deliveries') as batch_op:
            batch_op.add_column(sa.Column('round', sa.Integer(), server_default=sa.text('0'),
                                          nullable=False))
            batch_op.drop_constraint('uq_deliveries_campaign_id_contact_id', type_='unique')
            batch_op.create_unique_constraint('uq_deliveries_campaign_id_contact_id_round',
                                              ['campaign_id', 'contact_id', 'round'])


@contextlib.contextmanager
def _foreign_keys_off():
    """SQLite rebuilds a table to change a constraint; with foreign keys on, dropping the old
    campaigns table would delete every delivery (ON DELETE CASCADE) and dropping the old
    deliveries table would null every event's link. PRAGMA foreign_keys is ignored inside a
    transaction, hence the commits around it."""
    bind = op.get_bind()
    if bind.dialect.name != 'sqlite':
        yield
        return
    raw = bind.connection.dbapi_connection
    raw.commit()
    raw.execute('PRAGMA foreign_keys=OFF')
    try:
        yield
        raw.commit()
        problems = [row for table in ('campaigns', 'deliveries', 'events', 'inbound_messages')
                    for row in raw.execute(f'PRAGMA foreign_key_check({table})').fetchall()]
        if problems:
            raise RuntimeError(f'foreign keys broken by the rebuild: {problems[:5]}')
    finally:
        raw.execute('PRAGMA foreign_keys=ON')


def downgrade():
    with _foreign_keys_off():
        with op.batch_alter_table('deliveries') as batch_op:
            batch_op.drop_constraint('uq_deliveries_campaign_id_contact_id_round', type_='unique')
            batch_op.create_unique_constraint('uq_deliveries_campaign_id_contact_id',
                                              ['campaign_id', 'contact_id'])
            batch_op.drop_column('round')
        with op.batch_alter_table('campaigns') as batch_op:
            batch_op.drop_constraint(op.f('fk_campaigns_journey_version_id_journey_versions'),
                                     type_='foreignkey')
            batch_op.drop_index(op.f('ix_campaigns_journey_version_id'))
            batch_op.drop_column('journey_step')
            batch_op.drop_column('journey_version_id')
    op.drop_table('journey_cursors')
    op.drop_table('journey_events')
    op.drop_table('enrollment_steps')
    op.drop_table('enrollments')
    with op.batch_alter_table('journeys') as batch_op:
        batch_op.drop_constraint(op.f('fk_journeys_published_version_id_journey_versions'),
                                 type_='foreignkey')
    op.drop_table('journey_versions')
    op.drop_table('journeys')
