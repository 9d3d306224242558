"""What comes back: tracking, events and their aggregates, returned mail, ESP webhooks,
unsubscribes, and the one policy they all apply.

Every source records through `events.record_events`; bounces, complaints and unsubscribes
from any source go through `policy.apply_feedback`.

Entry points:
- `events`: record_events, reclassify_as_machine, purge_expired_events
- `policy`: apply_feedback
- `inbound`: ingest_message (piped or polled returned mail), diagnose_stray
- `mailboxes`: poll_mailbox, poll_configured_mailbox, ingest_maildir, ingest_mbox
- `unsubscribe`: find_subscriber, unsubscribe
- `mail_targets`: find_target (which delivery or message a report is about)
- `tracking/`: opens and clicks; `returns/`: reading bounce reports; `esp/`: ESP webhooks
"""
