"""The one seam through which the domain starts background work.

A domain function that must hand work to a worker (launch and resume -> a dispatch tick,
a confirmed import -> its run, a double opt-in -> the confirmation mail, an accepted
transactional message -> its send, a bounce or complaint -> a guardrail check, the review of
a large audience -> its count, a raised alert -> its mail) calls one
of the functions below. `workers.actors` binds them to its Dramatiq actors when it is
imported: the worker and the scheduler import it to run, `wsgi.py` imports it so the web
tier can enqueue, and the tests' `app` fixture does the same. The domain packages never
import `workers`; the import contract in
`pyproject.toml` fails the build if one does.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

TASKS = (
    "dispatch",
    "run_import",
    "send_confirmation",
    "send_message",
    "check_guardrails",
    "count_audience",
    "send_alert",
)

_bound: dict[str, Callable[..., Any]] = {}


class NotBound(RuntimeError):
    """Background work was asked for in a process that never imported `workers.actors`."""


def bind(**senders: Callable[..., Any]) -> None:
    """Bind task names to their enqueue functions (each actor's `send`)."""
    unknown = set(senders) - set(TASKS)
    if unknown:
        raise ValueError(f"unknown tasks: {', '.join(sorted(unknown))}")
    _bound.update(senders)


def _enqueue(name: str, *args: Any) -> None:
    try:
        send = _bound[name]
    except KeyError:
        raise NotBound(f"{name}: this process has not imported workers.actors") from None
    send(*args)


def dispatch() -> None:
    """Enqueue one dispatch tick (prepare launched campaigns, hand out due rows)."""
    _enqueue("dispatch")


def run_import(job_id: int) -> None:
    """Enqueue the run of a confirmed CSV import."""
    _enqueue("run_import", job_id)


def send_confirmation(list_id: int, contact_id: int) -> None:
    """Enqueue the double opt-in confirmation mail for one list membership."""
    _enqueue("send_confirmation", list_id, contact_id)


def send_message(message_id: int) -> None:
    """Enqueue the send of one transactional message."""
    _enqueue("send_message", message_id)


def check_guardrails(campaign_id: int) -> None:
    """Enqueue a judgement of a campaign's guardrails (feedback about it arrived)."""
    _enqueue("check_guardrails", campaign_id)


def count_audience(project_id: int, audience: dict) -> None:
    """Enqueue an exact count of a large audience, kept for the launch review."""
    _enqueue("count_audience", project_id, audience)


def send_alert(alert_id: int) -> None:
    """Enqueue the mail of one raised alert to the project's owners."""
    _enqueue("send_alert", alert_id)
