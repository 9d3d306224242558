import sqlalchemy as sa

from mailapp.extensions import db
from mailapp.models import (
    AuditLog,
    Campaign,
    CampaignStatus,
    Contact,
    List,
    ListMembership,
    Project,
    Segment,
    Sender,
    Template,
    User,
    VersionStatus,
)
from tests.factories import PASSWORD


def count(model, *where):
    return db.session.scalar(sa.select(sa.func.count()).select_from(model).where(*where))


def test_users_create_reads_password_from_stdin(app):
    runner = app.test_cli_runner()
    assert runner.invoke(args=["projects", "create", "acme"]).exit_code == 0
    result = runner.invoke(
        args=[
            "users",
            "create",
            "--email",
            "ada@example.com",
            "--role",
            "support",
            "--project",
            "acme",
            "--password-stdin",
        ],
        input=PASSWORD + "\n",
    )
    assert result.exit_code == 0, result.output
    assert "created user ada@example.com (support in acme)" in result.output
    user = db.session.scalar(sa.select(User))
    assert user.memberships[0].role.value == "support"


def test_users_create_prompts_for_password(app):
    runner = app.test_cli_runner()
    runner.invoke(args=["projects", "create", "acme"])
    result = runner.invoke(
        args=[
            "users",
            "create",
            "--email",
            "b@example.com",
            "--role",
            "owner",
            "--project",
            "acme",
        ],
        input=f"{PASSWORD}\n{PASSWORD}\n",
    )
    assert result.exit_code == 0, result.output
    assert count(User) == 1


def test_users_create_with_unknown_role_or_project_changes_nothing(app):
    runner = app.test_cli_runner()
    runner.invoke(args=["projects", "create", "acme"])
    audits = count(AuditLog)
    for args, message in (
        (["--role", "boss", "--project", "acme"], "unknown role 'boss'"),
        (["--role", "owner", "--project", "nope"], "no project 'nope'"),
    ):
        result = runner.invoke(
            args=["users", "create", "--email", "a@example.com", *args, "--password-stdin"],
            input=PASSWORD + "\n",
        )
        assert result.exit_code == 1
        assert message in result.output
    assert count(User) == 0
    assert count(AuditLog) == audits


def test_seed_demo_fills_the_demo_project_and_is_idempotent(app):
    runner = app.test_cli_runner()
    for _ in range(2):
        result = runner.invoke(args=["seed-demo"])
        assert result.exit_code == 0, result.output
    project = db.session.scalar(sa.select(Project).where(Project.slug == "demo"))
    pid = project.id
    assert count(Contact, Contact.project_id == pid) == 1000
    assert count(Contact, Contact.project_id == pid, Contact.timezone.is_not(None)) > 800
    assert count(List, List.project_id == pid) == 2
    assert count(ListMembership, ListMembership.project_id == pid) > 1000
    assert count(Segment, Segment.project_id == pid) == 1
    assert count(Sender, Sender.project_id == pid) == 1
    template = db.session.scalar(sa.select(Template).where(Template.project_id == pid))
    assert template.published_version.status == VersionStatus.PUBLISHED
    campaign = db.session.scalar(sa.select(Campaign).where(Campaign.project_id == pid))
    assert campaign.status == CampaignStatus.DRAFT
    assert count(AuditLog, AuditLog.action == "project.seed_demo") == 1
    sender = db.session.scalar(sa.select(Sender))
    assert sender.dkim_private_key.startswith("-----BEGIN PRIVATE KEY-----")


def test_bootstrap_creates_admin_once_and_prints_password_once(app, monkeypatch):
    monkeypatch.delenv("ADMIN_PASSWORD", raising=False)
    monkeypatch.setenv("SEED_DEMO", "0")
    runner = app.test_cli_runner()
    first = runner.invoke(args=["bootstrap"])
    assert first.exit_code == 0, first.output
    assert "password: " in first.output
    second = runner.invoke(args=["bootstrap"])
    assert second.exit_code == 0
    assert second.output == ""
    user = db.session.scalar(sa.select(User))
    assert (user.email, user.is_superuser) == ("admin@example.com", True)
    assert user.memberships[0].project.slug == "default"
    assert count(Contact) == 0


def test_api_keys_create_prints_the_key_once(app):
    from mailapp.access.apikeys import authenticate_api_key

    runner = app.test_cli_runner()
    assert runner.invoke(args=["projects", "create", "acme"]).exit_code == 0
    result = runner.invoke(
        args=[
            "api-keys",
            "create",
            "--project",
            "acme",
            "--scopes",
            "contacts.read,contacts.write",
            "--expires",
            "7",
        ]
    )
    assert result.exit_code == 0, result.output
    key = result.stdout.strip()
    api_key = authenticate_api_key(key).api_key
    assert api_key.scopes == ["contacts.read", "contacts.write"]
    assert api_key.project.slug == "acme"
    assert "expires 20" in result.stderr
    refused = runner.invoke(
        args=["api-keys", "create", "--project", "acme", "--scopes", "contacts.everything"]
    )
    assert refused.exit_code != 0
    assert "unknown scope(s): contacts.everything" in refused.output
    missing = runner.invoke(args=["api-keys", "create", "--project", "nope", "--scopes", "x"])
    assert "no project 'nope'" in missing.output
