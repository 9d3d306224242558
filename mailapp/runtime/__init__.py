"""The service's own processes: liveness, start-up checks, the development Outbox.

Entry points:
- `health`: check_health, beat, prune_heartbeats
- `checks`: wait_for_services (`flask check --wait`)
- `logs`: configure_logging, log_context (the ids every log line carries)
- `metrics`: the Prometheus counters and histograms, record_handover, exposition,
  sweep_dead_files, mark_dead (multiprocess mode)
- `outbox`: list_captured, get_captured (what the capture SMTP server stored)
"""
