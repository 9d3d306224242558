"""The testing clock: an offset from MAILAPP_CLOCK_FILE, honoured only when testing."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest

from mailapp import clock
from mailapp.models.base import utcnow

DAY = 86400


@pytest.fixture(autouse=True)
def _restore_clock():
    yield
    clock.configure()


def _ahead(expected: float) -> bool:
    return abs((utcnow() - datetime.now(UTC)).total_seconds() - expected) < 5


def test_the_offset_moves_utcnow_and_is_reread(tmp_path):
    path = tmp_path / "clock"
    clock.configure({"MAILAPP_ENV": "testing", "MAILAPP_CLOCK_FILE": str(path)})
    assert _ahead(0)  # no file yet: no offset
    clock.advance_file(str(path), 2 * DAY)
    time.sleep(clock.REREAD_SECONDS)
    assert _ahead(2 * DAY)
    clock.advance_file(str(path), DAY)
    assert _ahead(2 * DAY)  # still cached: the file is read at most every 0.2 s
    time.sleep(clock.REREAD_SECONDS)
    assert _ahead(3 * DAY)
    path.write_text("not a number")
    time.sleep(clock.REREAD_SECONDS)
    assert _ahead(0)


def test_no_file_named_means_the_real_time(tmp_path):
    clock.configure({"MAILAPP_ENV": "testing"})
    assert _ahead(0)
    assert utcnow().tzinfo is not None


def test_the_file_is_ignored_outside_testing(tmp_path):
    path = tmp_path / "clock"
    clock.advance_file(str(path), 2 * DAY)
    for env in ("production", "development"):
        clock.configure({"MAILAPP_ENV": env, "MAILAPP_CLOCK_FILE": str(path)})
        assert _ahead(0)
    clock.configure({"MAILAPP_CLOCK_FILE": str(path)})
    assert _ahead(0)
    assert abs(utcnow() - datetime.now(UTC)) < timedelta(seconds=5)
