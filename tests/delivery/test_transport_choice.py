"""Choosing a transport per message (weighted rendezvous hashing) and the shared health
with its breaker, on a real Redis."""

from __future__ import annotations

import time
from collections import Counter

import redis

from mailapp.delivery.transport_choice import Route, ordered
from mailapp.delivery.transport_health import TransportHealth

ROUTES = [Route(1, "A", "smtp://a", 3), Route(2, "B", "smtp://b", 1), Route(3, "C", "smtp://c", 0)]


def test_weights_share_the_mail_and_backups_come_last():
    firsts = Counter(ordered(ROUTES, f"d{i}")[0].name for i in range(4000))
    assert set(firsts) == {"A", "B"}  # a backup never comes first while others are on
    assert 0.72 <= firsts["A"] / 4000 <= 0.78
    assert all(ordered(ROUTES, f"d{i}")[-1].name == "C" for i in range(100))


def test_a_message_keeps_its_relay_and_removing_one_moves_only_its_share():
    before = {i: ordered(ROUTES, f"d{i}")[0].id for i in range(2000)}
    assert before == {i: ordered(ROUTES, f"d{i}")[0].id for i in range(2000)}
    with_d = [*ROUTES, Route(4, "D", "smtp://d", 2)]
    after = {i: ordered(with_d, f"d{i}")[0].id for i in range(2000)}
    moved = [i for i in before if after[i] != before[i]]
    assert all(after[i] == 4 for i in moved)  # only to the new one, never between old ones
    assert 0.27 <= len(moved) / 2000 <= 0.39  # about 2/6 of the mail


def health(redis_url: str, **kwargs: int) -> TransportHealth:
    settings = {"errors_to_open": 3, "pause_seconds": 1, **kwargs}
    return TransportHealth(redis.Redis.from_url(redis_url), **settings)


def test_breaker_opens_after_errors_in_a_row_then_lets_one_trial_through(redis_url):
    store = health(redis_url)
    store.record_answer(7, sent=True)
    for _ in range(2):
        store.record_relay_error(7, "SMTPServerDisconnected: Connection unexpectedly closed")
    assert store.available(7)
    store.record_relay_error(7, "421 4.7.0 closing")
    assert not store.available(7)
    read = store.read(7)
    assert (read.sent, read.errors, read.consecutive) == (1, 3, 3)
    assert read.paused_for > 0
    assert read.failing_since is not None
    time.sleep(1.1)
    assert store.available(7)  # half-open: this caller gets the trial ...
    assert not store.available(7)  # ... and no one else meanwhile
    store.record_answer(7, sent=True)  # the trial went through: closed again
    assert store.available(7)
    assert store.available(7)
    assert store.read(7).consecutive == 0
    assert store.read(7).failing_since is None


def test_a_failed_trial_pauses_again_and_errors_are_stored_without_secrets(redis_url):
    store = health(redis_url, errors_to_open=1)
    store.record_relay_error(8, "cannot connect to smtp://user:hunter2@relay.example:587")
    time.sleep(1.1)
    assert store.available(8)
    store.record_relay_error(8, "535 auth failed for smtp://user:hunter2@relay.example:587")
    assert not store.available(8)
    read = store.read(8)
    assert "hunter2" not in read.last_error
    assert "relay.example:587" in read.last_error
    store.forget(8)
    assert store.read(8).errors == 0
    assert store.available(8)
