"""The send pipeline's actors: what a worker takes first among the messages it holds."""

from dramatiq.worker import _WorkQueueItem

from workers.actors.sending import dispatch, prepare_campaign, send_batch, send_message


def test_campaign_batches_yield_to_transactional_mail_and_dispatch_ticks():
    # A worker's work queue orders what its consumers prefetched by actor priority, then
    # by arrival: a transactional message that arrives after a campaign's batches still
    # runs before them.
    batch = _WorkQueueItem(send_batch.priority, send_batch.message(1, [1, 2]))
    later = [
        _WorkQueueItem(actor.priority, message)
        for actor, message in (
            (send_message, send_message.message(7)),
            (dispatch, dispatch.message()),
            (prepare_campaign, prepare_campaign.message(1)),
        )
    ]
    for item in later:
        assert item < batch, item.message.actor_name
    assert send_message.queue_name != send_batch.queue_name
