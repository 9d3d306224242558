"""`flask settings show/set`: the same rules and validation as the page."""

from __future__ import annotations

import sqlalchemy as sa

from mailapp.extensions import db
from mailapp.models import AuditLog, Project
from tests.factories import make_project


def test_settings_show_and_set(app):
    project = make_project("shop")
    runner = app.test_cli_runner()
    shown = runner.invoke(args=["settings", "show", "--project", "shop"])
    assert shown.exit_code == 0
    assert "soft_bounce_limit = 3" in shown.output
    assert "Default: 3." in shown.output
    result = runner.invoke(
        args=[
            "settings",
            "set",
            "--project",
            "shop",
            "quiet_hours_start=21:00",
            "quiet_hours_end=08:00",
            "frequency_cap_7d=4",
        ]
    )
    assert result.exit_code == 0, result.output
    assert 'quiet_hours: null -> {"start": "21:00", "end": "08:00"}' in result.output
    assert db.session.get(Project, project.id).settings["frequency_cap_7d"] == 4
    entry = db.session.scalar(sa.select(AuditLog).where(AuditLog.action == "project.settings"))
    assert entry.actor == "cli"


def test_settings_set_refuses_a_bad_value_and_changes_nothing(app):
    project = make_project("shop")
    runner = app.test_cli_runner()
    result = runner.invoke(
        args=["settings", "set", "--project", "shop", "tracking=off", "soft_bounce_limit=x"]
    )
    assert result.exit_code != 0
    assert "soft_bounce_limit: a whole number from 1 to 50" in result.output
    assert db.session.get(Project, project.id).settings["tracking"] == "full"
    assert runner.invoke(args=["settings", "set", "--project", "shop", "oops"]).exit_code != 0
