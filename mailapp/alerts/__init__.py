"""Alerts to a project's owners: raised, deduplicated, mailed and published as a webhook.

Owns the `Alert` history and the project's alert settings (`Project.settings["alerts"]`).
Entry points: `raising.raise_alert` (and `raise_campaign_paused`, `raise_dns_worse`) for
whatever noticed a problem, `mailing.deliver_alert` for the worker that mails it,
`checks.run_checks` for the periodic job (rates, queues, heartbeats, webhooks), and
`settings.alert_settings` / `settings.update_alert_settings` for the back office.

System-wide alerts (a queue growing, a worker or the scheduler silent) are raised once for
every project that has that alert on: each project's owners hear about it through their
own project's transport, so no operator address needs configuring.
"""
