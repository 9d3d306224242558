"""The pre-flight lines that read the sender's last DNS check (domain_setup)."""

from __future__ import annotations

from mailapp.delivery.checklist import Check
from mailapp.delivery.domain_setup import current_results
from mailapp.models import Sender


def dkim_check(sender: Sender) -> Check:
    """Blocked without a key, or when the last DNS check found the record wrong; a check
    that never ran only asks for one (campaigns of projects that never ran it still go)."""
    if not (sender.dkim_selector and sender.dkim_private_key):
        return Check(
            "dkim", False, True, "the sender has no DKIM key: add one under Settings → DKIM keys"
        )
    if (sender.verification or {}).get("results") and current_results(sender) is None:
        return Check(
            "dkim",
            False,
            False,
            "the sender's domain or DKIM key changed since its last DNS check: "
            "run Check now under Settings → Domain set-up",
        )
    when, results = current_results(sender) or ("", [])
    found = [r for r in results if r["check"] == "dkim"]
    if not found:
        return Check(
            "dkim",
            True,
            True,
            "signed with the sender's DKIM key; its DNS record was never checked: "
            "run Check now under Settings → Domain set-up",
        )
    bad = next((r for r in found if r["level"] != "ok"), None)
    if bad is None:
        return Check("dkim", True, True, f"the DKIM record matches the key (checked {when} UTC)")
    return Check("dkim", False, bad["level"] == "error", f"{bad['text']} (checked {when} UTC)")


# Findings that stop a launch: mail DMARC rejects, or whose links (unsubscribe included)
# lead nowhere.
BLOCKING = {"dmarc_alignment", "tracking_missing", "tracking_elsewhere", "tracking_wrong_host"}


def dns_checks(sender: Sender) -> list[Check]:
    """SPF, DMARC and the tracking domain from the last DNS check: a DMARC alignment failure
    or a tracking domain that does not lead to us blocks, the rest warns. Nothing when the
    domain was never checked."""
    when, results = current_results(sender) or ("", [])
    checks = []
    for name in ("spf", "dmarc", "tracking"):
        found = [r for r in results if r["check"] == name]
        if not found:
            continue
        blocking = [r for r in found if r["code"] in BLOCKING]
        problems = blocking or [r for r in found if r["level"] != "ok"]
        text = " ".join(r["text"] for r in problems or found) + f" (checked {when} UTC)"
        checks.append(Check(name, not problems, bool(blocking), text))
    return checks
