"""A stopping worker hands back what it has not started (the real-process proof is in
tests/e2e/test_worker_recovery.py)."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from mailapp.delivery import batches, pipeline
from mailapp.extensions import db
from mailapp.models import Delivery, DeliveryStatus
from mailapp.runtime.shutdown import clear_stop, request_stop
from tests.factories import make_campaign, make_list, make_project, make_sender, make_template
from tests.support.pipeline import launch, pipeline_sink, run_pipeline


@pytest.fixture
def sink(app):
    with pipeline_sink(app) as sink:
        yield sink
    clear_stop()


def test_a_stopping_worker_hands_its_batch_back_and_the_next_one_sends_it(app, sink):
    project = make_project()
    campaign = make_campaign(
        project, make_sender(project), make_template(project), [make_list(project, 10)]
    )
    launch(project, campaign)
    pipeline.prepare_deliveries(campaign.id)
    [(campaign_id, ids)] = pipeline.plan_dispatch().batches
    request_stop()
    assert batches.send_batch(campaign_id, ids) == {}
    rows = db.session.execute(
        sa.select(Delivery.status, Delivery.claimed_at, Delivery.attempts).where(
            Delivery.campaign_id == campaign.id
        )
    ).all()
    # Not attempted, and free for the dispatcher to hand out again at once.
    assert set(rows) == {(DeliveryStatus.QUEUED, None, 0)}
    assert sink.messages == []
    clear_stop()
    run_pipeline(campaign.id)
    assert len(sink.messages) == 10
