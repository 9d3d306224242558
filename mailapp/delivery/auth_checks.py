"""DKIM and DMARC checks over DNS answers (see dns_checks for Finding and the resolver)."""

from __future__ import annotations

import base64
import binascii

from mailapp.delivery.dns_checks import Finding, Resolver, org_domain, unreachable
from mailapp.delivery.dns_lookup import Answer, Status


def _tags(text: str) -> dict[str, str]:
    """A DKIM/DMARC tag list (`k=v; k=v`) as a dict, names lower-cased."""
    tags: dict[str, str] = {}
    for part in text.split(";"):
        name, sep, value = part.partition("=")
        if sep:
            tags.setdefault(name.strip().lower(), value.strip())
    return tags


def _texts(answer: Answer) -> list[str]:
    # The strings of one TXT record are one value, joined without spaces (RFC 6376 3.6.2.2).
    return ["".join(strings) for strings in answer.records]


def _doubled(dns: Resolver, host: str, domain: str) -> str | None:
    """The host with the domain typed twice, when a record sits there (a panel that appends
    the domain to a full name)."""
    doubled = f"{host}.{domain}"
    return doubled if dns.txt(doubled).status == Status.FOUND else None


def _wrong_host(check: str, host: str, doubled: str, domain: str) -> Finding:
    short = host.removesuffix(f".{domain}")
    return Finding(
        check,
        f"{check}_wrong_host",
        "error",
        f"The record was published at {doubled} because your DNS panel adds {domain} by "
        f"itself: rename it to {short} (without {domain}).",
        host,
    )


# DKIM ---------------------------------------------------------------------------------


def check_dkim(
    dns: Resolver, domain: str, selector: str | None, public_key: str | None
) -> list[Finding]:
    """The DKIM record at <selector>._domainkey.<domain> must carry `public_key` (base64)."""
    if not (selector and public_key):
        return [
            Finding(
                "dkim",
                "dkim_no_key",
                "error",
                "The sender has no DKIM key, so its mail is not signed: generate one under "
                "Settings → DKIM keys.",
            )
        ]
    host = f"{selector}._domainkey.{domain}"
    record = f"v=DKIM1; k=rsa; p={public_key}"
    answer = dns.txt(host)
    if answer.status == Status.FAILED:
        return [unreachable("dkim", host)]
    # Every TXT record at a selector's name is meant as (part of) the key.
    texts = _texts(answer)
    if not any("p=" in t or t.lower().startswith("v=dkim1") for t in texts):
        doubled = _doubled(dns, host, domain)
        if doubled:
            return [_wrong_host("dkim", host, doubled, domain)]
        return [
            Finding(
                "dkim",
                "dkim_missing",
                "error",
                f"No DKIM record at {host}, so receivers cannot verify the signature: "
                "publish this TXT record.",
                host,
                record,
            )
        ]
    if len(texts) > 1:
        return [
            Finding(
                "dkim",
                "dkim_split",
                "error",
                f"The DKIM key at {host} is split over {len(texts)} separate TXT records: "
                "delete them and publish the value as one record.",
                host,
                record,
            )
        ]
    text = texts[0]
    if '"' in text or "\\" in text:
        return [_malformed(host, record, "contains quote marks: paste the value without them")]
    published = _tags(text).get("p")
    if published is None:
        return [_malformed(host, record, "has no p= (key) part: publish the whole value")]
    if not published:
        return [
            Finding(
                "dkim",
                "dkim_revoked",
                "error",
                f"The DKIM record at {host} has an empty key (p=), which means the key was "
                "revoked: publish the current key.",
                host,
                record,
            )
        ]
    compact = "".join(published.split())
    try:
        base64.b64decode(compact, validate=True)
    except (binascii.Error, ValueError):
        return [_malformed(host, record, "has a key that is not valid base64 (cut or mistyped)")]
    if compact != public_key:
        return [
            Finding(
                "dkim",
                "dkim_wrong_key",
                "error",
                f"The DKIM record at {host} does not match the sender's key (an old key or "
                "another provider's): publish this value instead.",
                host,
                record,
            )
        ]
    if compact != published:
        return [
            Finding(
                "dkim",
                "dkim_spaces",
                "warning",
                f"The DKIM key at {host} has spaces inside, which some receivers reject: "
                "publish it without spaces.",
                host,
                record,
            )
        ]
    return [Finding("dkim", "dkim_ok", "ok", f"The DKIM record at {host} matches the key.", host)]


def _malformed(host: str, record: str, what: str) -> Finding:
    return Finding(
        "dkim", "dkim_malformed", "error", f"The DKIM record at {host} {what}.", host, record
    )


# DMARC --------------------------------------------------------------------------------


def dmarc_record(from_domain: str) -> str:
    """A first DMARC record: monitor, with reports mailed to the domain."""
    return f"v=DMARC1; p=none; rua=mailto:dmarc-reports@{from_domain}"


def aligned(from_domain: str, other: str, mode: str) -> bool:
    """DMARC identifier alignment: s = the same name, r = the same organisational domain."""
    a, b = from_domain.lower(), other.lower()
    return a == b if mode == "s" else org_domain(a) == org_domain(b)


def _dmarc_lookup(dns: Resolver, from_domain: str) -> tuple[Answer, str, list[str]]:
    """The DMARC answer of the From domain, or of its organisational domain (RFC 7489 6.6.3)."""
    host = f"_dmarc.{from_domain}"
    answer = dns.txt(host)
    records = [t for t in _texts(answer) if t.lower().replace(" ", "").startswith("v=dmarc1")]
    org = org_domain(from_domain)
    if not records and answer.status != Status.FAILED and org != from_domain:
        parent = dns.txt(f"_dmarc.{org}")
        found = [t for t in _texts(parent) if t.lower().replace(" ", "").startswith("v=dmarc1")]
        if found:
            return parent, f"_dmarc.{org}", found
    return answer, host, records


def check_dmarc(
    dns: Resolver, from_domain: str, dkim_domain: str, return_path: str | None
) -> list[Finding]:
    """A DMARC policy for the From domain, and our DKIM d= or Return-Path aligned with it."""
    record = dmarc_record(from_domain)
    answer, host, records = _dmarc_lookup(dns, from_domain)
    if answer.status == Status.FAILED:
        return [unreachable("dmarc", host)]
    findings: list[Finding] = []
    tags: dict[str, str] = {}
    if not records:
        doubled = _doubled(dns, host, from_domain)
        if doubled:
            findings.append(_wrong_host("dmarc", host, doubled, from_domain))
        else:
            findings.append(
                Finding(
                    "dmarc",
                    "dmarc_missing",
                    "error",
                    f"{from_domain} has no DMARC record, which Gmail and Yahoo require of bulk "
                    f"senders: publish this TXT record at _dmarc.{from_domain}.",
                    f"_dmarc.{from_domain}",
                    record,
                )
            )
    elif len(records) > 1:
        findings.append(
            Finding(
                "dmarc",
                "dmarc_several",
                "error",
                f"{host} has {len(records)} DMARC records and receivers then ignore them all: "
                "keep one.",
                host,
                record,
            )
        )
    else:
        tags = _tags(records[0])
        policy = (tags.get("sp") if host != f"_dmarc.{from_domain}" else None) or tags.get("p")
        if policy not in ("none", "quarantine", "reject"):
            findings.append(
                Finding(
                    "dmarc",
                    "dmarc_malformed",
                    "error",
                    f"The DMARC record at {host} has no valid policy (p=none, quarantine or "
                    "reject): publish this record.",
                    host,
                    record,
                )
            )
        elif policy == "none" and not tags.get("rua"):
            findings.append(
                Finding(
                    "dmarc",
                    "dmarc_no_reports",
                    "warning",
                    f"The DMARC record at {host} has p=none and no rua= address, so nothing is "
                    f"protected and nobody gets reports: add rua=mailto:dmarc-reports@"
                    f"{from_domain}.",
                    host,
                    record,
                )
            )
        else:
            findings.append(
                Finding("dmarc", "dmarc_ok", "ok", f"DMARC policy p={policy} at {host}.", host)
            )
    findings.append(_alignment(from_domain, dkim_domain, return_path, tags))
    return findings


def _alignment(
    from_domain: str, dkim_domain: str, return_path: str | None, tags: dict[str, str]
) -> Finding:
    adkim = tags.get("adkim", "r").lower()[:1]
    aspf = tags.get("aspf", "r").lower()[:1]
    dkim_ok = aligned(from_domain, dkim_domain, adkim)
    spf_ok = bool(return_path) and aligned(from_domain, return_path or "", aspf)
    if dkim_ok or spf_ok:
        through = " and ".join(
            w for w, ok in (("the DKIM signature", dkim_ok), ("the Return-Path", spf_ok)) if ok
        )
        return Finding(
            "dmarc",
            "dmarc_aligned",
            "ok",
            f"Mail from {from_domain} lines up with {through} under its own domain, as DMARC "
            "requires.",
        )
    strict = "exactly " if adkim == "s" else "under the same domain as "
    return Finding(
        "dmarc",
        "dmarc_alignment",
        "error",
        f"Mail from {from_domain} would fail DMARC: it is signed for {dkim_domain} and returns "
        f"to {return_path or 'no bounce domain'}, neither {strict}{from_domain}; set the "
        "sender's domain to the From address's domain"
        + (" (or relax adkim=s to adkim=r)." if adkim == "s" else "."),
    )
