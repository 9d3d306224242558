"""Running the send pipeline in-process: launch, dispatch and send until nothing is due, a
real SMTP sink to send to, and real worker threads for what an actor was asked to do."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from datetime import datetime

from dramatiq import Worker
from flask import Flask

from mailapp.delivery import batches, pipeline
from mailapp.delivery.launch import launch_campaign
from mailapp.models import Campaign, Project, Template
from tests.factories import TEST_ACTOR, make_campaign, make_list, make_sender
from tests.support.smtp_sink import SmtpSink
from workers.broker import broker


def launch(project: Project, campaign: Campaign, now: datetime | None = None) -> Campaign:
    return launch_campaign(project, campaign.id, actor=TEST_ACTOR, now=now)


def send_campaign(
    project: Project, template: Template, contacts: int, **fields: object
) -> Campaign:
    """Create, launch and send (in-process) a campaign of `template` to new contacts."""
    campaign = make_campaign(
        project, make_sender(project), template, [make_list(project, contacts)], **fields
    )
    launch(project, campaign)
    run_pipeline(campaign.id)
    return campaign


def run_pipeline(campaign_id: int, *, now: datetime | None = None, rounds: int = 50) -> None:
    """Dispatch and send in-process until nothing is due (the worker's job, synchronously)."""
    for _ in range(rounds):
        plan = pipeline.plan_dispatch(now=now)
        for cid in plan.prepare:
            pipeline.prepare_deliveries(cid, now=now)
        for cid, ids in plan.batches:
            batches.send_batch(cid, ids)
        if not plan.prepare and not plan.batches:
            return


@contextlib.contextmanager
def pipeline_sink(app: Flask) -> Iterator[SmtpSink]:
    """A real SMTP sink the in-process pipeline sends to, in small groups and batches."""
    sink = SmtpSink().start()
    app.config.update(SMTP_URL=sink.url, SEND_GROUP_SIZE=4, DISPATCH_BATCH_SIZE=10)
    try:
        yield sink
    finally:
        sink.stop()
        batches.transport_pool().close()


def run_queue(queue_name: str) -> None:
    """Run what the stub broker holds on one queue with real Dramatiq worker threads."""
    worker = Worker(broker, worker_timeout=100)
    worker.start()
    try:
        broker.join(queue_name, fail_fast=True)
        worker.join()
    finally:
        worker.stop()
