"""`flask` commands for operators and scripts; each one calls a service."""

from __future__ import annotations

import json
import os
import sys

import click
import sqlalchemy as sa
from flask import Flask, current_app
from flask.cli import AppGroup

from mailapp import crypto
from mailapp.access.apikeys import create_api_key
from mailapp.access.audit import Actor
from mailapp.access.project_settings import SETTING_HELP, sending_settings, update_sending_settings
from mailapp.access.projects import create_project, get_project_by_slug
from mailapp.access.two_factor import reset_two_factor
from mailapp.access.users import create_user, generate_password, get_user_by_email
from mailapp.errors import ServiceError
from mailapp.extensions import db, get_redis
from mailapp.models import User
from mailapp.runtime.checks import ServiceUnavailable, wait_for_services
from mailapp.seed import DEMO_SLUG, seed_demo

CLI_ACTOR = Actor.system("cli")
EX_TEMPFAIL = 75  # sysexits.h: MTAs defer the delivery and retry
EX_DATAERR = 65  # sysexits.h: the input was bad; MTAs return it, never retry

users_cli = AppGroup("users", help="Back-office users.")
projects_cli = AppGroup("projects", help="Projects (tenants).")
secrets_cli = AppGroup("secrets", help="Keys for SECRET_KEY and ENCRYPTION_KEY.")
api_keys_cli = AppGroup("api-keys", help="API keys for the REST API.")
bounces_cli = AppGroup("bounces", help="Returned mail: bounces, complaints, unsubscribes.")
settings_cli = AppGroup("settings", help="A project's sending rules (quiet hours, caps, ...).")


def init_app(app: Flask) -> None:
    for command in (users_cli, projects_cli, secrets_cli, seed_demo_command, bootstrap, check):
        app.cli.add_command(command)
    app.cli.add_command(api_keys_cli)
    app.cli.add_command(bounces_cli)
    app.cli.add_command(settings_cli)


def _fail(exc: ServiceError) -> click.ClickException:
    db.session.rollback()
    return click.ClickException(str(exc))


@users_cli.command("create")
@click.option("--email", required=True)
@click.option("--role", required=True, help="owner, admin, marketer, analyst or support")
@click.option("--project", "project_slug", required=True, help="the project's slug")
@click.option("--name", default=None)
@click.option("--superuser", is_flag=True, help="an operator who may manage every project")
@click.option("--password-stdin", is_flag=True, help="read the password from standard input")
def create_user_command(
    email: str,
    role: str,
    project_slug: str,
    name: str | None,
    superuser: bool,
    password_stdin: bool,
) -> None:
    """Create a user with a role in a project."""
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    try:
        user = create_user(
            email,
            password,
            role=role,
            project_slug=project_slug,
            name=name,
            is_superuser=superuser,
            actor=CLI_ACTOR,
        )
    except ServiceError as exc:
        raise _fail(exc) from None
    click.echo(f"created user {user.email} ({role} in {project_slug})")


@users_cli.command("reset-two-factor")
@click.argument("email")
def reset_two_factor_command(email: str) -> None:
    """Remove a user's second factor (lost phone and recovery codes); ends their sessions."""
    user = get_user_by_email(email)
    if user is None:
        raise click.ClickException(f"no user {email}")
    try:
        ended = reset_two_factor(user, actor=CLI_ACTOR)
    except ServiceError as exc:
        raise _fail(exc) from None
    click.echo(f"two-factor sign-in removed for {user.email}; {ended} session(s) ended")


@projects_cli.command("create")
@click.argument("slug")
@click.option("--name", default=None)
@click.option("--timezone", default="UTC", help="IANA zone, e.g. Europe/Berlin")
def create_project_command(slug: str, name: str | None, timezone: str) -> None:
    """Create a project."""
    try:
        project = create_project(slug, name=name, timezone=timezone, actor=CLI_ACTOR)
    except ServiceError as exc:
        raise _fail(exc) from None
    click.echo(f"created project {project.slug}")


@secrets_cli.command("generate-key")
def generate_key() -> None:
    """Print a new key suitable for ENCRYPTION_KEY."""
    click.echo(crypto.generate_key())


@click.command("seed-demo")
@click.option("--owner-email", default=None, help="make this user the demo project's owner")
def seed_demo_command(owner_email: str | None) -> None:
    """Create or complete the demo project (idempotent)."""
    owner = get_user_by_email(owner_email) if owner_email else None
    if owner_email and owner is None:
        raise click.ClickException(f"no user {owner_email}")
    project = seed_demo(owner=owner, actor=CLI_ACTOR)
    click.echo(f"demo project ready: {project.slug}")


@click.command("bootstrap")
def bootstrap() -> None:
    """First start of `make run`: an admin user (password printed once) and the demo."""
    if db.session.scalar(sa.select(sa.func.count()).select_from(User)):
        return
    email = os.environ.get("ADMIN_EMAIL") or "admin@example.com"
    given = os.environ.get("ADMIN_PASSWORD")
    password = given or generate_password()
    if os.environ.get("SEED_DEMO", "1") != "0":
        slug = seed_demo(owner=None, actor=CLI_ACTOR).slug
    else:
        slug = create_project("default", name="Default", actor=CLI_ACTOR).slug
    try:
        user = create_user(
            email, password, role="owner", project_slug=slug, is_superuser=True, actor=CLI_ACTOR
        )
    except ServiceError as exc:
        raise _fail(exc) from None
    banner = f"admin user {user.email} (owner of project {slug!r})"
    if given:
        click.echo(f"created {banner}")
    else:
        click.echo(f"\n  created {banner}\n  password: {password}\n  (shown once)\n")
    if slug == DEMO_SLUG:
        click.echo("demo project seeded (skip with SEED_DEMO=0)")


@click.command("check")
@click.option("--wait", default=0.0, help="seconds to keep trying before giving up")
def check(wait: float) -> None:
    """Exit non-zero with one line naming what is unreachable (database, Redis)."""
    try:
        wait_for_services(current_app.config, get_redis(), wait)
    except ServiceUnavailable as exc:
        raise click.ClickException(str(exc)) from None
    click.echo("database and redis reachable")


@api_keys_cli.command("create")
@click.option("--project", "project_slug", required=True, help="the project's slug")
@click.option("--scopes", required=True, help="comma-separated permissions, e.g. contacts.read")
@click.option("--expires", "expires_days", type=int, default=None, help="days until it expires")
@click.option("--name", default="cli", show_default=True, help="who or what uses the key")
def create_api_key_command(
    project_slug: str, scopes: str, expires_days: int | None, name: str
) -> None:
    """Create an API key and print it once (only its hash is stored)."""
    try:
        project = get_project_by_slug(project_slug)
        api_key, key = create_api_key(
            project.id, name, scopes.split(","), expires_in_days=expires_days, actor=CLI_ACTOR
        )
    except ServiceError as exc:
        raise _fail(exc) from None
    expiry = api_key.expires_at.isoformat() if api_key.expires_at else "never"
    click.echo(
        f"created API key {api_key.prefix}… for {project.slug} "
        f"(scopes {', '.join(api_key.scopes)}; expires {expiry})",
        err=True,
    )
    click.echo(key)


@bounces_cli.command("ingest")
@click.option("--maildir", type=click.Path(exists=True, file_okay=False), default=None)
@click.option("--mbox", type=click.Path(exists=True, dir_okay=False), default=None)
@click.option(
    "--recipient",
    default=None,
    help="envelope recipient (default: $ORIGINAL_RECIPIENT or $RECIPIENT from the MTA)",
)
def bounces_ingest(maildir: str | None, mbox: str | None, recipient: str | None) -> None:
    """Ingest one message on stdin (MTA pipe), or a Maildir's unread messages, or an mbox."""
    from mailapp.feedback.inbound import ingest_message
    from mailapp.feedback.mailboxes import ingest_maildir, ingest_mbox
    from mailapp.feedback.returns.codes import NOT_MAIL

    if maildir and mbox:
        raise click.UsageError("give --maildir or --mbox, not both")
    if maildir:
        click.echo(f"ingested {ingest_maildir(maildir, actor=CLI_ACTOR)} messages")
    elif mbox:
        click.echo(f"ingested {ingest_mbox(mbox, actor=CLI_ACTOR)} messages")
    else:
        raw = sys.stdin.buffer.read()
        if not raw.strip():
            click.echo("Error: no message on standard input", err=True)
            sys.exit(EX_DATAERR)
        envelope = recipient or os.environ.get("ORIGINAL_RECIPIENT") or os.environ.get("RECIPIENT")
        try:
            inbound = ingest_message(
                raw, source="pipe", actor=CLI_ACTOR, envelope_recipient=envelope
            )
        except Exception:
            # Reading never fails (any message is kept, unknown if need be): this is the
            # database or another outage. EX_TEMPFAIL: the MTA keeps the message and retries.
            current_app.logger.exception("could not ingest the message; asking the MTA to retry")
            sys.exit(EX_TEMPFAIL)
        if inbound.classification == NOT_MAIL:
            # Kept for an operator, but refused for good: retrying would not make it mail.
            click.echo(f"inbound message {inbound.id}: not an e-mail message", err=True)
            sys.exit(EX_DATAERR)
        shown = f"{inbound.classification} ({inbound.reason})" if inbound.reason else ""
        click.echo(f"inbound message {inbound.id}: {shown or inbound.classification}")


@bounces_cli.command("poll")
def bounces_poll() -> None:
    """Ingest new messages from BOUNCE_MAILBOX_URL (IMAP or POP3) once."""
    from mailapp.feedback.mailboxes import poll_mailbox

    url = current_app.config.get("BOUNCE_MAILBOX_URL")
    if not url:
        raise click.ClickException("BOUNCE_MAILBOX_URL is not set")
    try:
        count = poll_mailbox(url, actor=CLI_ACTOR)
    except ServiceError as exc:
        raise _fail(exc) from None
    click.echo(f"ingested {count} messages")


@settings_cli.command("show")
@click.option("--project", "project_slug", required=True, help="the project's slug")
def settings_show_command(project_slug: str) -> None:
    """Print each sending rule, its value and what it does."""
    try:
        project = get_project_by_slug(project_slug)
    except ServiceError as exc:
        raise _fail(exc) from None
    for key, value in sending_settings(project).items():
        shown = "none" if value is None else json.dumps(value)
        click.echo(f"{key} = {shown}")
        click.echo(f"    {SETTING_HELP[key]}")


@settings_cli.command("set")
@click.option("--project", "project_slug", required=True, help="the project's slug")
@click.argument("assignments", nargs=-1, required=True)
def settings_set_command(project_slug: str, assignments: tuple[str, ...]) -> None:
    """Change rules, e.g. `quiet_hours_start=21:00 quiet_hours_end=08:00 frequency_cap_7d=3`
    (an empty value clears an optional rule); one wrong value changes nothing."""
    changes: dict[str, str] = {}
    for item in assignments:
        key, sep, value = item.partition("=")
        if not sep:
            raise click.BadParameter(f"{item!r}: write key=value", param_hint="ASSIGNMENTS")
        changes[key.strip()] = value
    try:
        project = get_project_by_slug(project_slug)
        changed = update_sending_settings(project, changes, actor=CLI_ACTOR)
    except ServiceError as exc:
        raise _fail(exc) from None
    for key, change in changed.items():
        click.echo(f"{key}: {json.dumps(change['old'])} -> {json.dumps(change['new'])}")
    if not changed:
        click.echo("nothing changed")
