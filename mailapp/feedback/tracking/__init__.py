"""Opens and clicks: tokens read fast, hits spooled per process, buffered in Redis, then
turned into events; machine opens and scanner clicks flagged, not counted as human.

Entry points:
- `hits`: read_open_token, spool_hit, flush_hits, drain_hits, record_hits
- `click_targets`: resolve_click (only ever the campaign's own stored link)
- `agents`: classify_agent, scan_bursts
- `hit_spool`, `event_buffer`: the spool file and the Redis list between web tier and database
"""
