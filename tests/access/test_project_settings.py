"""The project's sending rules: validated field by field, all or nothing, audited."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from mailapp.access.project_settings import sending_settings, update_sending_settings
from mailapp.access.validation import InvalidSettings
from mailapp.extensions import db
from mailapp.models import AuditLog, Project
from tests.factories import TEST_ACTOR, make_project


def audit_entries(project):
    return db.session.scalars(
        sa.select(AuditLog).where(
            AuditLog.project_id == project.id, AuditLog.action == "project.settings"
        )
    ).all()


def test_defaults_are_shown_for_a_new_project(app):
    settings = sending_settings(make_project())
    assert settings["tracking"] == "full"
    assert settings["quiet_hours"] is None
    assert settings["soft_bounce_limit"] == 3
    assert settings["allow_self_approval"] is False


def test_form_strings_are_parsed_saved_and_audited_old_to_new(app):
    project = make_project()
    changed = update_sending_settings(
        project,
        {
            "quiet_hours_start": "21:00",
            "quiet_hours_end": "8:00",
            "frequency_cap_7d": "3",
            "quota_messages_per_day": "10,000",
            "quota_import_rows_per_day": "",
            "tracking": "anonymous",
            "soft_bounce_limit": "5",
            "soft_bounce_window_days": "30",
            "event_retention_days": "90",
            "allow_self_approval": True,
        },
        actor=TEST_ACTOR,
    )
    stored = db.session.get(Project, project.id).settings
    assert stored["quiet_hours"] == {"start": "21:00", "end": "08:00"}
    assert stored["frequency_cap_7d"] == 3
    assert stored["quota_messages_per_day"] == 10_000
    assert stored["tracking"] == "anonymous"
    assert stored["event_retention_days"] == 90
    # Unchanged values (window 30, no import quota) are not reported as changes.
    assert set(changed) == {
        "quiet_hours",
        "frequency_cap_7d",
        "quota_messages_per_day",
        "tracking",
        "soft_bounce_limit",
        "event_retention_days",
        "allow_self_approval",
    }
    [entry] = audit_entries(project)
    assert entry.context["changes"]["tracking"] == {"old": "full", "new": "anonymous"}
    assert entry.context["changes"]["quiet_hours"] == {
        "old": None,
        "new": {"start": "21:00", "end": "08:00"},
    }


def test_one_wrong_field_names_itself_and_saves_nothing(app):
    project = make_project()
    with pytest.raises(InvalidSettings) as refused:
        update_sending_settings(
            project,
            {
                "frequency_cap_7d": "2",
                "quiet_hours_start": "9pm",
                "quiet_hours_end": "08:00",
                "soft_bounce_limit": "0",
                "tracking": "partial",
                "event_retention_days": "ten",
                "colour": "blue",
            },
            actor=TEST_ACTOR,
        )
    db.session.rollback()
    errors = refused.value.errors
    assert set(errors) == {
        "quiet_hours_start",
        "soft_bounce_limit",
        "tracking",
        "event_retention_days",
        "colour",
    }
    assert "HH:MM" in errors["quiet_hours_start"]
    assert "from 1 to 50" in errors["soft_bounce_limit"]
    stored = db.session.get(Project, project.id)
    assert stored.settings.get("frequency_cap_7d") is None
    assert audit_entries(project) == []


def test_quiet_hours_need_both_ends_and_can_be_cleared(app):
    project = make_project()
    with pytest.raises(InvalidSettings) as refused:
        update_sending_settings(project, {"quiet_hours_start": "21:00"}, actor=TEST_ACTOR)
    db.session.rollback()
    assert "quiet_hours_end" in refused.value.errors
    with pytest.raises(InvalidSettings):
        update_sending_settings(
            project, {"quiet_hours": {"start": "08:00", "end": "08:00"}}, actor=TEST_ACTOR
        )
    db.session.rollback()
    update_sending_settings(
        project, {"quiet_hours": {"start": "22:30", "end": "07:00"}}, actor=TEST_ACTOR
    )
    changed = update_sending_settings(
        project, {"quiet_hours_start": "", "quiet_hours_end": ""}, actor=TEST_ACTOR
    )
    assert changed["quiet_hours"] == {"old": {"start": "22:30", "end": "07:00"}, "new": None}
    assert sending_settings(db.session.get(Project, project.id))["quiet_hours"] is None


def test_saving_the_same_values_writes_no_audit_entry(app):
    project = make_project()
    assert update_sending_settings(project, {"tracking": "full"}, actor=TEST_ACTOR) == {}
    assert audit_entries(project) == []


def test_bounce_rules_change_per_reason_audited_one_by_one(app):
    project = make_project()
    assert sending_settings(project)["bounce_actions"]["policy_blocked"] == "record"
    assert sending_settings(project)["bounce_actions"]["user_unknown"] == "suppress"
    changed = update_sending_settings(
        project,
        {"bounce_actions.mailbox_full": "record", "bounce_actions.policy_blocked": "record"},
        actor=TEST_ACTOR,
    )
    # Only the rule that differs is a change; the rest stay as they were.
    assert changed == {"bounce_actions.mailbox_full": {"old": "count", "new": "record"}}
    rules = sending_settings(db.session.get(Project, project.id))["bounce_actions"]
    assert (rules["mailbox_full"], rules["user_unknown"]) == ("record", "suppress")
    [entry] = audit_entries(project)
    assert entry.context["changes"] == changed
    # The API's shape: an object of reasons.
    update_sending_settings(project, {"bounce_actions": {"expired": "record"}}, actor=TEST_ACTOR)
    assert sending_settings(db.session.get(Project, project.id))["bounce_actions"]["expired"] == (
        "record"
    )


def test_a_wrong_bounce_rule_is_named_and_nothing_is_saved(app):
    project = make_project()
    with pytest.raises(InvalidSettings) as refused:
        update_sending_settings(
            project,
            {
                "bounce_actions.no_such_reason": "count",
                "bounce_actions.mailbox_full": "delete",
                "soft_bounce_limit": 5,
            },
            actor=TEST_ACTOR,
        )
    db.session.rollback()
    assert "not a bounce reason" in refused.value.errors["bounce_actions.no_such_reason"]
    assert "suppress, count, record" in refused.value.errors["bounce_actions.mailbox_full"]
    settings = sending_settings(db.session.get(Project, project.id))
    assert (settings["soft_bounce_limit"], settings["bounce_actions"]["mailbox_full"]) == (
        3,
        "count",
    )
    assert audit_entries(project) == []
