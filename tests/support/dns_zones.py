"""Test zones for the domain checks: one good set-up, and the settings that match it."""

from __future__ import annotations

from mailapp.delivery.senders import dkim_dns_record, dkim_txt_strings

OUR_SPF = ["include:_spf.relay.test"]
BOUNCE_MX = "bounce-in.relay.test"


def good_zone(private_key: str, domain: str = "example.com", selector: str = "sel1") -> dict:
    """Every record a sender news@<domain> (bounces.<domain>, selector) needs, published right."""
    return {
        f"bounces.{domain}": [
            ("TXT", ["v=spf1 include:_spf.relay.test ~all"]),
            ("MX", (10, f"{BOUNCE_MX}.")),
        ],
        "_spf.relay.test": [("TXT", ["v=spf1 ip4:203.0.113.0/24 -all"])],
        # A 2048-bit key is longer than one TXT string: published as one record of two strings.
        f"{selector}._domainkey.{domain}": [
            ("TXT", dkim_txt_strings(dkim_dns_record(private_key)))
        ],
        f"_dmarc.{domain}": [("TXT", [f"v=DMARC1; p=quarantine; rua=mailto:dmarc@{domain}"])],
    }
