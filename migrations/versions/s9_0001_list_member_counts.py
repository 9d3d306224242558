"""list_member_counts: members per list and status, kept by triggers on list_memberships

Revision ID: s9_0001
Revises: s6_0004
Create Date: 2026-12-03 14:30:00

The lists page grouped every membership of the page's lists on each view (384 ms at a
million members). The counts are now rows that triggers keep current on every insert,
delete and change of status or list, whatever writes the memberships; existing
memberships are counted here. PostgreSQL counts once per statement from its transition
tables (an import's INSERT ... SELECT of 100,000 rows is one grouped upsert), SQLite per row.
"""

import sqlalchemy as sa
from alembic import op

revision = 's9_0001'
down_revision = 's6_0004'
branch_labels = None
depends_on = None

UPSERT = (
    "INSERT INTO list_member_counts (project_id, list_id, status, count) {rows} "
    "ON CONFLICT (project_id, list_id, status) DO UPDATE SET count = list_member_counts.count + excluded.count"
)
# One function for the three statement triggers; a branch names only the transition tables
# its event has. Deleted rows of a deleted list find no count row (it went with the list).
PG_FUNCTION = f"""
CREATE FUNCTION list_member_counts_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        {UPSERT.format(rows="SELECT project_id, list_id, status, count(*) FROM new_rows GROUP BY 1, 2, 3 ORDER BY 1, 2, 3")};
    ELSIF TG_OP = 'DELETE' THEN
        UPDATE list_member_counts AS c SET count = c.count - d.n
        FROM (SELECT project_id, list_id, status, count(*) AS n FROM old_rows GROUP BY 1, 2, 3) AS d
        WHERE c.project_id = d.project_id AND c.list_id = d.list_id AND c.status = d.status;
    ELSE
        {UPSERT.format(rows='''SELECT project_id, list_id, status, sum(n) FROM (
                SELECT project_id, list_id, status, 1 AS n FROM new_rows
                UNION ALL SELECT project_id, list_id, status, -1 FROM old_rows) AS change
            WHERE list_id IN (SELECT id FROM lists)
            GROUP BY 1, 2, 3 HAVING sum(n) <> 0 ORDER BY 1, 2, 3''')};
    END IF;
    RETURN NULL;
END
$$
"""
PG_TRIGGERS = [
    "CREATE TRIGGER list_member_counts_insert AFTER INSERT ON list_memberships "
    "REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION list_member_counts_change()",
    "CREATE TRIGGER list_member_counts_delete AFTER DELETE ON list_memberships "
    "REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION list_member_counts_change()",
    "CREATE TRIGGER list_member_counts_update AFTER UPDATE ON list_memberships "
    "REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows "
    "FOR EACH STATEMENT EXECUTE FUNCTION list_member_counts_change()",
]
SQLITE_ADD = UPSERT.format(rows="VALUES (NEW.project_id, NEW.list_id, NEW.status, 1)")
SQLITE_REMOVE = (
    "UPDATE list_member_counts SET count = count - 1 "
    "WHERE project_id = OLD.project_id AND list_id = OLD.list_id AND status = OLD.status"
)
SQLITE_TRIGGERS = [
    f"CREATE TRIGGER list_member_counts_insert AFTER INSERT ON list_memberships BEGIN {SQLITE_ADD}; END",
    f"CREATE TRIGGER list_member_counts_delete AFTER DELETE ON list_memberships BEGIN {SQLITE_REMOVE}; END",
    "CREATE TRIGGER list_member_counts_update AFTER UPDATE OF project_id, list_id, status ON list_memberships "
    f"BEGIN {SQLITE_REMOVE}; {SQLITE_ADD}; END",
]
TRIGGERS = ('list_member_counts_insert', 'list_member_counts_delete', 'list_member_counts_update')


def upgrade():
    op.create_table(
        'list_member_counts',
        sa.Column('project_id', sa.Integer(), nullable=False),
        sa.Column('list_id', sa.Integer(), nullable=False),
        sa.Column('status', sa.Enum('unconfirmed', 'confirmed', 'unsubscribed', name='membershipstatus', native_enum=False, length=20), nullable=False),
        sa.Column('count', sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(['list_id'], ['lists.id'], name=op.f('fk_list_member_counts_list_id_lists'), ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['project_id'], ['projects.id'], name=op.f('fk_list_member_counts_project_id_projects'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('project_id', 'list_id', 'status', name=op.f('pk_list_member_counts')),
    )
    op.execute(
        "INSERT INTO list_member_counts (project_id, list_id, status, count) "
        "SELECT project_id, list_id, status, count(*) FROM list_memberships "
        "GROUP BY project_id, list_id, status"
    )
    postgres = op.get_bind().dialect.name == 'postgresql'
    if postgres:
        op.execute(PG_FUNCTION)
    for statement in PG_TRIGGERS if postgres else SQLITE_TRIGGERS:
        op.execute(statement)


def downgrade():
    postgres = op.get_bind().dialect.name == 'postgresql'
    for name in TRIGGERS:
        op.execute(f"DROP TRIGGER {name} ON list_memberships" if postgres else f"DROP TRIGGER {name}")
    if postgres:
        op.execute("DROP FUNCTION list_member_counts_change()")
    op.drop_table('list_member_counts')
