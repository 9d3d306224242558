"""Log lines: JSON or text, the ids of the work they are about, no address, token or key."""

from __future__ import annotations

import io
import json
import logging

import pytest

from mailapp import create_app
from mailapp.access.apikeys import create_api_key
from mailapp.access.permissions import Permission
from mailapp.config import ConfigError, log_settings
from mailapp.runtime.logs import (
    ContextFilter,
    JsonFormatter,
    TextFormatter,
    configure_logging,
    current_ids,
    log_context,
    make_handler,
)
from mailapp.tokens import make_token
from mailapp.web.api import require
from tests.conftest import app_config
from tests.factories import TEST_ACTOR, make_project

ADDRESS = "jane.doe@example.org"


def record(msg: str, *args: object, exc_info: object = None, **extra: object) -> logging.LogRecord:
    made = logging.LogRecord("mailapp.test", logging.WARNING, __file__, 1, msg, args, exc_info)
    made.__dict__.update(extra)
    ContextFilter().filter(made)
    return made


def test_a_json_line_has_time_level_logger_message_and_the_ids_in_context():
    with log_context(campaign_id=7, delivery_id=None), log_context(request_id="r-1"):
        line = json.loads(JsonFormatter().format(record("sent %d", 3, delivery_id=12)))
    assert line.pop("time").endswith("+00:00")
    assert line == {
        "level": "WARNING",
        "logger": "mailapp.test",
        "message": "sent 3",
        "request_id": "r-1",
        "campaign_id": 7,
        "delivery_id": 12,  # an `extra` id names the line alone
    }
    assert current_ids() == {}  # each context ends with its block


def test_the_message_and_its_arguments_show_no_address_token_or_key():
    signed = make_token("secret", "click", 12, 345)
    key = "mk_abcdefgh" + "Z" * 35
    text = JsonFormatter().format(
        record("to %s via %s: %s /t/c/%s %s", ADDRESS, "smtp://u:pw@mx.test", signed, signed, key)
    )
    message = json.loads(text)["message"]
    assert message == (
        "to j***@example.org via smtp://[redacted]@mx.test: [redacted] /t/c/[redacted]"
        " mk_abcdefgh[redacted]"
    )
    assert "jane" not in text
    assert signed not in text
    assert "Z" * 12 not in text


def test_a_traceback_is_in_the_line_and_redacted():
    try:
        raise ValueError(f"cannot reach {ADDRESS}")
    except ValueError:
        import sys

        line = json.loads(JsonFormatter().format(record("failed", exc_info=sys.exc_info())))
    assert line["exception"].startswith("Traceback")
    assert "ValueError: cannot reach j***@example.org" in line["exception"]
    assert ADDRESS not in line["exception"]


def test_a_text_line_ends_with_the_ids():
    with log_context(campaign_id=7, actor="send_batch"):
        text = TextFormatter().format(record("to %s", ADDRESS))
    assert text.endswith(
        " WARNING mailapp.test: to j***@example.org  campaign_id=7 actor=send_batch"
    )


def test_only_known_ids_are_named():
    with pytest.raises(TypeError, match="email"), log_context(email=ADDRESS):
        pass


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"MAILAPP_ENV": "production"}, "json"),
        ({"MAILAPP_ENV": "production", "LOG_FORMAT": "text"}, "text"),
        ({"MAILAPP_ENV": "development"}, "text"),
        ({"MAILAPP_ENV": "development", "LOG_FORMAT": "json"}, "json"),
    ],
)
def test_json_in_production_text_elsewhere_unless_log_format_says(env, expected):
    production = env["MAILAPP_ENV"] == "production"
    assert log_settings(env, production)["LOG_FORMAT"] == expected
    with pytest.raises(ConfigError, match="LOG_FORMAT"):
        log_settings({**env, "LOG_FORMAT": "xml"}, production)


@pytest.fixture
def root_stream():
    """A plain stream handler on the root logger, as Dramatiq's worker process has one."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    yield stream, handler
    root.removeHandler(handler)
    root.setLevel(level)


def test_configure_logging_formats_the_plain_handler_once_and_leaves_others(root_stream):
    stream, handler = root_stream
    root = logging.getLogger()
    before = list(root.handlers)
    for _ in range(3):
        configure_logging({"LOG_FORMAT": "json", "LOG_LEVEL": "INFO"})
    assert root.handlers == before  # nothing stacked; pytest's capture handlers kept
    assert isinstance(handler.formatter, JsonFormatter)
    assert sum(isinstance(f, ContextFilter) for f in handler.filters) == 1
    logging.getLogger("mailapp.test").info("to %s", ADDRESS)
    (line,) = [json.loads(x) for x in stream.getvalue().splitlines()]
    assert line["message"] == "to j***@example.org"


def test_caplog_still_sees_records(root_stream, caplog):
    configure_logging({"LOG_FORMAT": "json", "LOG_LEVEL": "INFO"})
    with caplog.at_level(logging.INFO, logger="mailapp.test"):
        logging.getLogger("mailapp.test").info("hello")
    assert [r.getMessage() for r in caplog.records] == ["hello"]


def test_a_request_id_comes_back_in_the_header_and_names_the_request_lines(app, client):
    project = make_project()
    _, key = create_api_key(project.id, "logs", [Permission.CONTACTS_READ], actor=TEST_ACTOR)

    @require(Permission.CONTACTS_READ)
    def logging_view():
        logging.getLogger("mailapp.web.test").warning("asked about %s", ADDRESS)
        return "ok"

    app.add_url_rule("/api/v1/test-logging", view_func=logging_view)
    stream = io.StringIO()
    handler = make_handler("json", stream)
    logging.getLogger("mailapp.web.test").addHandler(handler)
    try:
        given = client.get(
            "/api/v1/test-logging",
            headers={"X-Request-ID": "proxy-id.1_2", "Authorization": f"Bearer {key}"},
        )
        forged = client.get(
            "/api/v1/test-logging",
            headers={"X-Request-ID": 'evil" id', "Authorization": f"Bearer {key}"},
        )
    finally:
        logging.getLogger("mailapp.web.test").removeHandler(handler)
    assert given.status_code == forged.status_code == 200
    assert given.headers["X-Request-ID"] == "proxy-id.1_2"
    new_id = forged.headers["X-Request-ID"]
    assert len(new_id) == 32
    assert new_id != "proxy-id.1_2"
    lines = [json.loads(x) for x in stream.getvalue().splitlines()]
    assert [(x["request_id"], x["project_id"]) for x in lines] == [
        ("proxy-id.1_2", project.id),
        (new_id, project.id),
    ]
    assert all(x["message"] == "asked about j***@example.org" for x in lines)
    assert current_ids() == {}  # the request's ids end with it


def test_create_app_writes_json_when_asked(root_stream, sqlite_template, redis_url, tmp_path):
    stream, _ = root_stream
    config = app_config(f"sqlite:///{sqlite_template}", redis_url, tmp_path, LOG_FORMAT="json")
    app = create_app(config)
    app.logger.warning("started for %s", ADDRESS)
    (line,) = [json.loads(x) for x in stream.getvalue().splitlines()]
    assert (line["logger"], line["message"]) == ("mailapp", "started for j***@example.org")
