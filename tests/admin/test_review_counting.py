"""The launch review of a large audience: a worker counts it, the review says so and then
shows the worker's count; a small audience is counted in the request."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from mailapp.audience.suppression import suppress
from mailapp.delivery import readings
from mailapp.extensions import db, get_redis
from mailapp.models import Contact, ContactStatus, SuppressionReason
from tests.factories import TEST_ACTOR
from tests.support.campaigns import two_person_draft
from tests.support.pipeline import run_queue
from workers.actors.sending import count_audience
from workers.broker import broker


def checks(client, campaign) -> str:
    return client.get(f"/admin/campaign/launch/{campaign.id}/checks").data.decode()


def run_readings_worker() -> None:
    run_queue(count_audience.queue_name)


def test_a_small_audience_is_counted_in_the_request(as_user, app):
    client, campaign = two_person_draft(as_user)
    page = checks(client, campaign)
    assert '<strong id="review-count">2</strong>' in page
    assert 'id="review-counted-at"' not in page
    assert broker.queues.get(count_audience.queue_name) is None or (
        broker.queues[count_audience.queue_name].qsize() == 0
    )


def test_a_large_audience_is_counted_by_a_worker_and_the_review_shows_its_count(
    as_user, app, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setattr(readings, "BACKGROUND_FROM", 2)  # two people is "large" here
    client, campaign = two_person_draft(as_user)
    first = checks(client, campaign)
    assert 'data-counting="1"' in first
    assert "holds up to 2 people" in first
    assert 'id="launch-button"' not in first  # nothing to confirm before the count
    assert "Before it goes out" not in first
    # Asking again while it counts asks no second worker.
    assert 'data-counting="1"' in checks(client, campaign)
    assert broker.queues[count_audience.queue_name].qsize() == 1

    # The audience changes before the worker counts: its count is the truth at that time.
    first_contact = db.session.scalar(sa.select(Contact).order_by(Contact.id))
    suppress(campaign.project_id, first_contact.email, SuppressionReason.MANUAL, actor=TEST_ACTOR)
    run_readings_worker()

    page = checks(client, campaign)
    assert '<strong id="review-count">1</strong>' in page
    assert 'id="review-counted-at"' in page
    assert "Counted " in page
    assert 'name="confirm_count" value="1"' in page
    assert "Before it goes out" in page  # the pre-flight lines came with it
    # Kept for the next look, so the worker is not asked again.
    assert broker.queues[count_audience.queue_name].qsize() == 0
    assert '<strong id="review-count">1</strong>' in checks(client, campaign)
    assert broker.queues[count_audience.queue_name].qsize() == 0


def test_a_kept_count_expires_and_is_counted_again(as_user, app, monkeypatch):
    monkeypatch.setattr(readings, "BACKGROUND_FROM", 2)
    client, campaign = two_person_draft(as_user)
    checks(client, campaign)
    run_readings_worker()
    assert '<strong id="review-count">2</strong>' in checks(client, campaign)
    for key in get_redis().scan_iter("mailapp:audience-*"):
        get_redis().delete(key)  # as READING_TTL would
    db.session.execute(sa.update(Contact).values(status=ContactStatus.UNSUBSCRIBED))
    db.session.commit()
    assert 'data-counting="1"' in checks(client, campaign)
    run_readings_worker()
    page = checks(client, campaign)
    assert '<strong id="review-count">0</strong>' in page
    assert 'id="launch-button"' not in page


def test_another_projects_lists_do_not_count_towards_the_bound(as_user, app):
    _client, campaign = two_person_draft(as_user)
    audience = dict(campaign.audience)
    assert readings.most_possible(campaign.project_id, audience) == 2
    assert readings.most_possible(campaign.project_id + 1000, audience) == 0
