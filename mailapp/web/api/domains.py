"""Domains API: the DNS records a sender's domains need, their live check, and the
bulk-sender rules measured for the sender."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from flask import Response, g, jsonify

from mailapp.access.permissions import Permission
from mailapp.delivery.dns_checks import LEVELS
from mailapp.delivery.domain_setup import (
    CHECK_LABELS,
    check_sender_domain,
    current_results,
    records_to_publish,
)
from mailapp.delivery.senders import get_sender
from mailapp.insights.compliance import STATE_WORDS, STATES, sender_compliance
from mailapp.models import Sender
from mailapp.web.api import ERROR, bp, document, require

LEVEL = {"type": "string", "enum": list(LEVELS)}
FINDING = {
    "type": "object",
    "required": ["check", "code", "level", "text"],
    "properties": {
        "check": {"type": "string", "enum": list(CHECK_LABELS)},
        "code": {"type": "string"},
        "level": LEVEL,
        "text": {"type": "string", "description": "what is wrong and the fix, in one sentence"},
        "host": {"type": "string"},
        "record": {"type": "string", "description": "the value to publish at host, if any"},
    },
}
DOMAIN_OUT = {
    "type": "object",
    "required": ["records", "checked_at", "worst", "results", "current"],
    "properties": {
        "records": {
            "type": "array",
            "description": "the DNS records the sender's domains need",
            "items": {
                "type": "object",
                "required": ["purpose", "host", "type", "value"],
                "properties": {
                    "purpose": {"type": "string"},
                    "host": {"type": "string"},
                    "type": {"type": "string"},
                    "value": {"type": "string"},
                },
            },
        },
        "checked_at": {"type": ["string", "null"], "format": "date-time"},
        "worst": {"type": ["string", "null"], "enum": [*LEVELS, None]},
        "results": {"type": "array", "items": FINDING},
        "current": {
            "type": "boolean",
            "description": "false when the key or domains changed since the last check",
        },
    },
}


def domain_json(sender: Sender) -> dict[str, Any]:
    verification = sender.verification or {}
    return {
        "records": [asdict(r) for r in records_to_publish(sender)],
        "checked_at": verification.get("checked_at"),
        "worst": verification.get("worst"),
        "results": verification.get("results") or [],
        "current": current_results(sender) is not None,
    }


@bp.get("/senders/<int:sender_id>/domain")
@document(
    "The records the sender's domains need, and the last DNS check",
    responses={200: DOMAIN_OUT, 404: ERROR},
    tags=["senders"],
)
@require(Permission.SENDERS_MANAGE)
def domain_show(sender_id: int) -> Response:
    return jsonify(domain_json(get_sender(g.project, sender_id)))


@bp.post("/senders/<int:sender_id>/domain/check")
@document(
    "Check the sender's SPF, DKIM, DMARC and bounce MX records in DNS now",
    description="The result is stored with its time; pre-flight blocks a campaign whose DKIM "
    "record does not verify or whose DMARC alignment fails.",
    responses={200: DOMAIN_OUT, 404: ERROR},
    tags=["senders"],
)
@require(Permission.SENDERS_MANAGE)
def domain_check(sender_id: int) -> Response:
    check_sender_domain(g.project, sender_id, actor=g.actor)
    return jsonify(domain_json(get_sender(g.project, sender_id)))


COMPLIANCE_OUT = {
    "type": "object",
    "required": ["lines"],
    "properties": {
        "lines": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["key", "label", "state", "word", "value", "action"],
                "properties": {
                    "key": {
                        "type": "string",
                        "enum": [
                            "spf",
                            "dkim",
                            "dmarc",
                            "one_click",
                            "unsubscribe_honoured",
                            "complaint_rate",
                            "tls",
                        ],
                    },
                    "label": {"type": "string", "description": "the rule in plain words"},
                    "state": {"type": "string", "enum": list(STATES)},
                    "word": {"type": "string", "enum": list(STATE_WORDS.values())},
                    "value": {"type": "string", "description": "what was measured, in words"},
                    "action": {
                        "type": ["string", "null"],
                        "description": "what to do, null when green",
                    },
                },
            },
        },
    },
}


@bp.get("/senders/<int:sender_id>/compliance")
@document(
    "The bulk-sender rules (Gmail and Yahoo, since February 2024) measured for the sender",
    description="SPF, DKIM and DMARC come from the last stored DNS check; the complaint rate "
    "is complaints per delivered message of the sender's campaigns over the last 30 days "
    "(green under 0.1 %, amber up to 0.3 %, red from 0.3 %; amber under 100 delivered).",
    responses={200: COMPLIANCE_OUT, 404: ERROR},
    tags=["senders"],
)
@require(Permission.SENDERS_MANAGE)
def compliance_show(sender_id: int) -> Response:
    sender = get_sender(g.project, sender_id)
    lines = sender_compliance(g.project, sender)
    return jsonify({"lines": [{**line.as_dict(), "word": line.word} for line in lines]})
