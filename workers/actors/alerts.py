"""Alert actors: mailing one raised alert, and the periodic alert checks."""

from __future__ import annotations

import logging

import dramatiq

from mailapp.alerts.checks import keep_watch, run_checks, take_turn
from mailapp.alerts.mailing import deliver_alert
from mailapp.extensions import get_redis

log = logging.getLogger(__name__)
# The next check a minute after this one (the chain that outlives a silent scheduler).
WATCH_DELAY_MS = 60_000


@dramatiq.actor(queue_name="alerts", max_retries=3, time_limit=120_000)
def send_alert(alert_id: int) -> None:
    """Mail one alert to the project's owners (claimed first: never twice)."""
    log.info("alert %s: %s", alert_id, deliver_alert(alert_id))


@dramatiq.actor(queue_name="alerts", max_retries=0, time_limit=120_000)
def check_alerts(chained: bool = False) -> None:
    """Run the periodic alert checks once a minute, whoever asked."""
    client = get_redis()
    if take_turn(client):
        raised = run_checks(client)
        if raised:
            log.info("alerts raised: %s", raised)
    if keep_watch(client, chained=chained):
        check_alerts.send_with_options(args=(True,), delay=WATCH_DELAY_MS)
