"""Journeys (automations): a trigger, a graph of steps, exit and goal rules, re-entry.

Entry points: `journeys` (create, edit the draft, publish a frozen version, pause, resume,
stop, counts, a contact's walk), `enrollment` (enroll, unenroll), `engine` (`wake_due`:
durable waits woken in set-based batches; `deliver_event`), `graph` (checks of a graph,
trigger and settings). Email steps go through the campaign delivery path
(`delivery.backing`). See docs/journeys.md.
"""
