"""CSV imports: upload, map columns, preview problems, then a streaming run in a worker.

The wizard side runs in the web request; `runs.run_import` runs in the `imports` queue and
takes the PostgreSQL fast path (`staging`: COPY into chunk tables, then `merge`) or batched
upserts on SQLite. Bad rows are reported with their line, never dropped silently.

Entry points:
- `wizard`: create_import, set_mapping, preview_problems, start_import, progress, report_lines
- `runs`: run_import, fail_import (worker side)
- `files`: read_upload, suggest_mapping, data_rows (reading the uploaded file)
- `staging`, `chunks`, `merge`: the PostgreSQL path, parser thread and set-based merge
"""
