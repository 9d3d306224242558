"""Outbound webhooks: signed JSON events to integrators' endpoints, retried with backoff.

Entry points:
- `webhooks`: create_endpoint, publish_event, deliver_due, retry_attempts
"""
