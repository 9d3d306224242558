"""The tracking domain's check: a sender's own host name for links must be a CNAME to us.

Links, the open pixel and the unsubscribe page of a sender with a tracking domain
(links.example.com) point there; unless that name leads to this service, every link in its
mail is dead. The CNAME must name our host (TRACKING_CNAME_TARGET, else BASE_URL's host).
"""

from __future__ import annotations

from mailapp.delivery.dns_checks import Finding, Resolver, unreachable
from mailapp.delivery.dns_lookup import Status


def check_tracking_cname(dns: Resolver, host: str | None, target: str) -> list[Finding]:
    """Findings for a sender's tracking host name; none when it has none."""
    if not host:
        return []
    record = f"{target}."
    answer = dns.cname(host)
    if answer.status == Status.FAILED:
        return [unreachable("tracking", host)]
    if answer.missing:
        domain = host.partition(".")[2]
        doubled = f"{host}.{domain}"
        if domain and dns.cname(doubled).status == Status.FOUND:
            return [
                Finding(
                    "tracking",
                    "tracking_wrong_host",
                    "error",
                    f"The CNAME was published at {doubled} because your DNS panel adds "
                    f"{domain} by itself: rename it to {host.removesuffix(f'.{domain}')} "
                    f"(without {domain}).",
                    host,
                    record,
                )
            ]
        return [
            Finding(
                "tracking",
                "tracking_missing",
                "error",
                f"{host} has no CNAME record, so every link, the open pixel and the "
                "unsubscribe link in this sender's mail would not open: publish this CNAME.",
                host,
                record,
            )
        ]
    pointed = answer.records[0]
    if pointed != target.lower().rstrip("."):
        return [
            Finding(
                "tracking",
                "tracking_elsewhere",
                "error",
                f"{host} points to {pointed}, not to us ({target}), so links in this "
                "sender's mail would open someone else's site: change the CNAME to this value.",
                host,
                record,
            )
        ]
    return [
        Finding(
            "tracking",
            "tracking_ok",
            "ok",
            f"Links on {host} reach us ({target}). Serve HTTPS for {host} too: links use https://.",
            host,
        )
    ]
