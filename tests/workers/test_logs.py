"""Worker and scheduler log lines: a message's ids while it runs, job runs at DEBUG."""

from __future__ import annotations

import io
import json
import logging
from datetime import UTC, datetime

import dramatiq
from apscheduler.executors.base import run_job

from mailapp.runtime.logs import current_ids, make_handler
from tests.support.pipeline import run_queue
from workers.broker import broker
from workers.scheduler import JOB_RUNS_LOGGER, build_scheduler

seen: list[dict] = []


@dramatiq.actor(queue_name="test-logs", max_retries=0)
def note_ids() -> None:
    seen.append(current_ids())


def test_a_message_names_its_id_and_actor_while_it_runs_and_not_after(app):
    seen.clear()
    message = note_ids.send()
    run_queue("test-logs")
    assert seen == [{"message_id": message.message_id, "actor": "note_ids"}]
    run_queue("test-logs")  # nothing left over for the thread's next message
    assert current_ids() == {}
    broker.flush("test-logs")


def job_run_lines(level: int) -> list[dict]:
    stream = io.StringIO()
    handler = make_handler("json", stream)
    logger = logging.getLogger(JOB_RUNS_LOGGER)
    previous = logger.level
    logger.addHandler(handler)
    logger.setLevel(level)
    scheduler = build_scheduler((), lambda: None, 60)
    scheduler.start(paused=True)
    try:
        job = scheduler.get_job("heartbeat")
        run_job(job, "default", [datetime.now(UTC)], logger.name)
    finally:
        scheduler.shutdown(wait=False)
        logger.removeHandler(handler)
        logger.setLevel(previous)
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_the_scheduler_logs_job_runs_at_debug_only():
    assert job_run_lines(logging.INFO) == []
    lines = job_run_lines(logging.DEBUG)
    assert [x["level"] for x in lines] == ["DEBUG", "DEBUG"]
    assert lines[0]["message"].startswith('Running job "job_run_lines')
    assert "executed successfully" in lines[1]["message"]
