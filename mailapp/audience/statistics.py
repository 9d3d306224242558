"""Planner statistics kept fresh after bulk writes.

PostgreSQL plans an audience's reading from its statistics on contacts and list members.
Right after a large load those still describe the tables as they were (20,000 contacts
loaded into an empty project were planned as one row, with nested loops that ran past the
web worker's timeout), and autovacuum's analyze may come minutes later. So whoever writes
in bulk refreshes them: an import when it finishes, a bulk API upsert when the tables have
changed by more than a tenth (plus a thousand rows) since their last analyze. ANALYZE
samples at most 30,000 rows per table whatever its size, so a refresh stays well under a
second; it runs rarely, as the threshold grows with the table.
"""

from __future__ import annotations

import sqlalchemy as sa

from mailapp.extensions import db

AUDIENCE_TABLES = ("contacts", "list_memberships", "contact_tags")
STALE_FRACTION = 0.1
STALE_ROWS = 1000


def stale_tables(tables: tuple[str, ...] = AUDIENCE_TABLES, *, written: int = 0) -> list[str]:
    """Those of `tables` changed by more than the threshold since their last analyze.

    `written`: rows this process just wrote to each, which the server's counters may not
    show yet (a backend reports its changes at most once a second)."""
    if db.engine.dialect.name != "postgresql":
        return []
    rows = db.session.execute(
        sa.text(
            "SELECT relname, n_mod_since_analyze, n_live_tup FROM pg_stat_user_tables"
            " WHERE schemaname = current_schema() AND relname = ANY(:tables)"
        ),
        {"tables": list(tables)},
    )
    return sorted(
        name
        for name, changed, live in rows
        if changed + written >= STALE_ROWS + STALE_FRACTION * live
    )


def refresh_statistics(
    tables: tuple[str, ...] = AUDIENCE_TABLES, *, written: int = 0, only_stale: bool = True
) -> list[str]:
    """ANALYZE the tables (only the stale ones unless told otherwise); returns those done.

    Commits first: ANALYZE reads committed rows, and the caller's writes are done."""
    if db.engine.dialect.name != "postgresql":
        return []
    db.session.commit()
    chosen = stale_tables(tables, written=written) if only_stale else sorted(tables)
    for name in chosen:
        if name in AUDIENCE_TABLES:  # names come from this module, never from a request
            db.session.execute(sa.text(f"ANALYZE {name}"))
    db.session.commit()
    return chosen
