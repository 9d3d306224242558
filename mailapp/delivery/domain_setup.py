"""A sender's domain set-up: the records to publish, the live check, its stored result.

`check_sender_domain` runs every check against DNS (the resolver the configuration names),
stores the findings with their time in `Sender.verification`
(`{"checked_at": iso, "results": [finding, ...], "worst": level}`) and, when a check got
worse than the previous time, raises a `dns_worse` alert for the project's owners.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from urllib.parse import urlsplit

import sqlalchemy as sa
from flask import current_app

from mailapp.access.audit import Actor, record_audit
from mailapp.alerts.raising import raise_dns_worse
from mailapp.delivery.auth_checks import check_dkim, check_dmarc, dmarc_record
from mailapp.delivery.dns_checks import (
    LEVELS,
    Finding,
    Resolver,
    check_bounce_mx,
    check_spf,
    spf_record,
    worst,
)
from mailapp.delivery.dns_lookup import Lookup
from mailapp.delivery.senders import dkim_dns_record, dkim_public_key, get_sender
from mailapp.delivery.tracking_dns import check_tracking_cname
from mailapp.errors import NotFound
from mailapp.extensions import db
from mailapp.models import Project, Sender
from mailapp.models.base import utcnow

CHECK_LABELS = {
    "spf": "Sender authorisation (SPF)",
    "dkim": "Signature (DKIM)",
    "dmarc": "Domain policy (DMARC)",
    "bounce": "Bounce handling (MX)",
    "tracking": "Tracking links (CNAME)",
}


@dataclass(frozen=True)
class Record:
    """One DNS record the sender's domain needs: where, which type, what value."""

    purpose: str
    host: str
    type: str
    value: str


def our_spf() -> list[str]:
    """The SPF mechanisms naming our sending servers (SPF_INCLUDE)."""
    value = current_app.config.get("SPF_INCLUDE") or []
    return value.split() if isinstance(value, str) else list(value)


def tracking_target() -> str:
    """The host a tracking domain's CNAME names: TRACKING_CNAME_TARGET, else BASE_URL's."""
    config = current_app.config
    return config.get("TRACKING_CNAME_TARGET") or urlsplit(config["BASE_URL"]).hostname or ""


def from_domain(sender: Sender) -> str:
    return sender.from_email.rpartition("@")[2].lower()


def setup_fingerprint(sender: Sender) -> str:
    """What a check's result is valid for: the domains, selector and public key it checked."""
    key = dkim_public_key(sender.dkim_private_key) if sender.dkim_private_key else ""
    parts = (sender.domain, sender.bounce_domain, from_domain(sender), sender.dkim_selector, key)
    parts += (sender.tracking_domain,)
    return hashlib.sha256("|".join(p or "" for p in parts).encode()).hexdigest()[:16]


def current_results(sender: Sender) -> tuple[str, list[dict]] | None:
    """(checked at, findings) of the last check, None when it never ran or the sender's
    domains or key changed since (the result is then about another set-up)."""
    verification = sender.verification or {}
    if not verification.get("results") or verification.get("checked_for") != setup_fingerprint(
        sender
    ):
        return None
    return verification["checked_at"][:16].replace("T", " "), verification["results"]


def records_to_publish(sender: Sender) -> list[Record]:
    """The records a marketer copies into the DNS panel of the sender's domains."""
    return_path = sender.bounce_domain or sender.domain
    records = [Record("SPF", return_path, "TXT", spf_record(our_spf()))]
    if sender.dkim_selector and sender.dkim_private_key:
        records.append(
            Record(
                "DKIM",
                f"{sender.dkim_selector}._domainkey.{sender.domain}",
                "TXT",
                dkim_dns_record(sender.dkim_private_key),
            )
        )
    fd = from_domain(sender)
    records.append(Record("DMARC", f"_dmarc.{fd}", "TXT", dmarc_record(fd)))
    mx_host = current_app.config.get("BOUNCE_MX_HOST")
    if sender.bounce_domain and mx_host:
        records.append(Record("Bounces", sender.bounce_domain, "MX", f"10 {mx_host}."))
    if sender.tracking_domain:
        records.append(
            Record("Tracking links", sender.tracking_domain, "CNAME", f"{tracking_target()}.")
        )
    return records


def run_checks(sender: Sender, dns: Resolver) -> list[Finding]:
    """Every check of the sender's domains, against `dns`."""
    return_path = sender.bounce_domain or sender.domain
    return [
        *check_spf(dns, return_path, our_spf()),
        *check_dkim(
            dns,
            sender.domain,
            sender.dkim_selector,
            dkim_public_key(sender.dkim_private_key) if sender.dkim_private_key else None,
        ),
        *check_dmarc(dns, from_domain(sender), sender.domain, sender.bounce_domain),
        *check_bounce_mx(dns, sender.bounce_domain, current_app.config.get("BOUNCE_MX_HOST")),
        *check_tracking_cname(dns, sender.tracking_domain, tracking_target()),
    ]


def _per_check(results: list[dict]) -> dict[str, str]:
    levels: dict[str, list[str]] = {}
    for r in results:
        levels.setdefault(r["check"], []).append(r["level"])
    return {check: worst(found) for check, found in levels.items()}


def got_worse(old: list[dict], new: list[dict]) -> list[str]:
    """The checks whose level is worse now than in the previous result."""
    before, after = _per_check(old), _per_check(new)
    return [
        c
        for c, level in after.items()
        if c in before and LEVELS.index(level) > LEVELS.index(before[c])
    ]


def check_sender_domain(
    project: Project, sender_id: int, *, actor: Actor | None = None, dns: Resolver | None = None
) -> dict:
    """Check the sender's DNS now, store the result with its time, alert if it got worse."""
    sender = get_sender(project, sender_id)
    findings = run_checks(sender, dns or Lookup.from_config())
    previous = (sender.verification or {}).get("results") or []
    results = [f.as_dict() for f in findings]
    verification = {
        "checked_at": utcnow().isoformat(),
        "results": results,
        "worst": worst([f.level for f in findings]),
        "checked_for": setup_fingerprint(sender),
    }
    sender.verification = verification
    if actor is not None:
        record_audit(
            actor,
            "sender.dns_check",
            project_id=project.id,
            obj=sender,
            context={"worst": verification["worst"]},
        )
    db.session.commit()
    worse = got_worse(previous, results)
    if worse:
        problems = " ".join(
            r["text"] for r in results if r["check"] in worse and r["level"] != "ok"
        )
        raise_dns_worse(
            project,
            sender.domain,
            f"The DNS set-up of {sender.domain} got worse "
            f"({', '.join(CHECK_LABELS[c] for c in worse)}): {problems}",
        )
    return verification


def senders_to_check() -> list[tuple[int, int]]:
    """(project id, sender id) of every sender with a domain, for the periodic re-check."""
    rows = db.session.execute(
        sa.select(Sender.project_id, Sender.id).where(Sender.domain != "").order_by(Sender.id)
    )
    return [(p, s) for p, s in rows]


def recheck_sender(project_id: int, sender_id: int) -> dict | None:
    """The scheduled re-check of one sender (None when it is gone)."""
    project = db.session.get(Project, project_id)
    if project is None:
        return None
    try:
        return check_sender_domain(project, sender_id)
    except NotFound:
        return None
