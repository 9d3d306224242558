"""The tracking actors run their services under a real (stub) worker; the jobs are scheduled."""

import sqlalchemy as sa
from dramatiq import Worker

from mailapp.extensions import db
from mailapp.models import Event
from mailapp.urls import LinkSigner
from tests.factories import make_contact, make_delivery, make_project, make_sent_campaign
from workers.actors.tracking import drain_tracking_events
from workers.broker import broker
from workers.scheduler import JOBS


def test_drain_actor_records_buffered_hits(app, client):
    project = make_project()
    delivery = make_delivery(make_sent_campaign(project), make_contact(project))
    open_path = LinkSigner.from_app().open_url(delivery.id).removeprefix("http://mail.test")
    for _ in range(3):
        client.get(open_path, headers={"User-Agent": "Mozilla/5.0 (X11; Linux) Firefox/120.0"})
    worker = Worker(broker, worker_timeout=100)
    worker.start()
    try:
        drain_tracking_events.send()
        broker.join(drain_tracking_events.queue_name, fail_fast=True)
        worker.join()
    finally:
        worker.stop()
    db.session.expire_all()
    assert db.session.scalar(sa.select(sa.func.count(Event.id))) == 3


def test_drain_and_purge_are_scheduled():
    actors = {job.actor: job for job in JOBS}
    drain = actors["workers.actors.tracking:drain_tracking_events"]
    assert drain.trigger == "interval"
    assert drain.trigger_args["seconds"] <= 10
    assert "workers.actors.tracking:purge_expired_events" in actors
