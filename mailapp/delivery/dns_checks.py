"""The domain checks: SPF, DKIM, DMARC and the bounce domain's MX, over DNS answers.

Each check takes a `Resolver` (anything with `txt(name)` and `mx(name)`: production passes
`dns_lookup.Lookup`) and answers Findings: a stable code, a level (ok, warning, error), one
sentence a marketer understands saying what is wrong and how to fix it, and the record to
publish where one would fix it. Nothing here reads the database or the configuration.
"""

from __future__ import annotations

import ipaddress
from dataclasses import asdict, dataclass
from typing import Protocol

from mailapp.delivery.dns_lookup import Answer, Status

LEVELS = ("ok", "warning", "error")
SPF_LOOKUP_LIMIT = 10  # RFC 7208 4.6.4: more DNS-querying terms is a permanent error
SPF_COUNTED = ("include", "a", "mx", "ptr", "exists", "redirect")
# Public suffixes of two labels, for the organisational domain (no full list on purpose:
# a sending domain under any other one is read as the last two labels).
TWO_LABEL_SUFFIXES = {
    "co.uk", "org.uk", "ac.uk", "gov.uk", "com.au", "net.au", "org.au", "co.nz", "co.jp",
    "com.br", "com.mx", "co.za", "co.in", "com.tr", "com.cn", "com.sg", "com.hk",
}  # fmt: skip


class Resolver(Protocol):
    def txt(self, name: str) -> Answer: ...
    def mx(self, name: str) -> Answer: ...
    def cname(self, name: str) -> Answer: ...


@dataclass(frozen=True)
class Finding:
    check: str  # spf, dkim, dmarc, bounce, tracking
    code: str
    level: str
    text: str
    host: str = ""  # where the record lives (or should)
    record: str = ""  # the value to publish there, when publishing one fixes it

    def as_dict(self) -> dict:
        return asdict(self)


def worst(levels: list[str]) -> str:
    """The worst of some levels (ok when none)."""
    return max(levels, key=LEVELS.index, default="ok")


def org_domain(domain: str) -> str:
    """The organisational domain (RFC 7489 3.2): the registrable part of a name."""
    labels = domain.lower().rstrip(".").split(".")
    keep = 3 if ".".join(labels[-2:]) in TWO_LABEL_SUFFIXES else 2
    return ".".join(labels[-keep:])


def unreachable(check: str, host: str) -> Finding:
    return Finding(
        check,
        f"{check}_unreachable",
        "warning",
        f"The DNS servers of {host} did not answer in time; nothing could be checked, "
        "try again later.",
        host,
    )


def _spf_records(answer: Answer) -> list[str]:
    texts = ["".join(strings) for strings in answer.records]
    return [t for t in texts if t.lower() == "v=spf1" or t.lower().startswith("v=spf1 ")]


# SPF ----------------------------------------------------------------------------------


def _spf_walk(
    dns: Resolver, domain: str, seen: set[str], terms: list[str], broken: list[str]
) -> int:
    """Count the DNS-querying terms under `domain`'s SPF record, collecting every term and
    the included names without exactly one SPF record (which fail the whole record)."""
    if domain in seen:
        return 0
    seen.add(domain)
    answer = dns.txt(domain)
    records = _spf_records(answer)
    if len(records) != 1:
        if answer.status != Status.FAILED:
            broken.append(domain)
        return 0
    count = 0
    for term in records[0].split()[1:]:
        terms.append(term.lower())
        name = term.lstrip("+-~?").split(":", 1)[0].split("=", 1)[0].split("/", 1)[0].lower()
        if name not in SPF_COUNTED:
            continue
        count += 1
        if name in ("include", "redirect"):
            target = term.split(":" if name == "include" else "=", 1)[-1]
            count += _spf_walk(dns, target.lower(), seen, terms, broken)
    return count


def _authorised(ours: str, terms: list[str]) -> bool:
    """Whether one of our mechanisms (include:x, ip4:net, ip6:net) is in the record tree."""
    ours = ours.lower()
    if ours in terms or f"+{ours}" in terms:
        return True
    kind, _, value = ours.partition(":")
    if kind not in ("ip4", "ip6"):
        return False
    try:
        wanted = ipaddress.ip_network(value, strict=False)
    except ValueError:
        return False
    for term in terms:
        name, _, net = term.lstrip("+").partition(":")
        if name == kind:
            try:
                if wanted.subnet_of(ipaddress.ip_network(net, strict=False)):  # type: ignore[arg-type]
                    return True
            except (ValueError, TypeError):
                continue
    return False


def spf_record(ours: list[str]) -> str:
    """The SPF record to publish: our mechanisms, everything else soft-failed."""
    return " ".join(["v=spf1", *ours, "~all"])


def check_spf(dns: Resolver, domain: str, ours: list[str]) -> list[Finding]:
    """SPF of the Return-Path domain: one record, at most 10 look-ups, a strict end, us in it."""
    record = spf_record(ours)
    answer = dns.txt(domain)
    if answer.status == Status.FAILED:
        return [unreachable("spf", domain)]
    records = _spf_records(answer)
    if not records:
        return [
            Finding(
                "spf",
                "spf_missing",
                "error",
                f"{domain} has no SPF record, so receivers cannot tell our servers may send "
                "for it: publish this TXT record.",
                domain,
                record,
            )
        ]
    if len(records) > 1:
        return [
            Finding(
                "spf",
                "spf_several",
                "error",
                f"{domain} has {len(records)} SPF records and receivers then ignore them all: "
                "merge them into one TXT record.",
                domain,
                record,
            )
        ]
    findings: list[Finding] = []
    terms: list[str] = []
    broken: list[str] = []
    lookups = _spf_walk(dns, domain, set(), terms, broken)
    if broken:
        findings.append(
            Finding(
                "spf",
                "spf_include_broken",
                "error",
                f"The SPF record of {domain} includes {', '.join(broken)}, which has no "
                "single SPF record, so the whole record fails: remove or correct that include.",
                domain,
            )
        )
    if lookups > SPF_LOOKUP_LIMIT:
        findings.append(
            Finding(
                "spf",
                "spf_too_many_lookups",
                "error",
                f"The SPF record of {domain} needs {lookups} DNS look-ups, more than the 10 "
                "receivers allow, so it fails: remove includes you no longer use.",
                domain,
            )
        )
    top = [t.lower() for t in records[0].split()[1:]]
    if "+all" in top or "all" in top:
        findings.append(
            Finding(
                "spf",
                "spf_pass_all",
                "error",
                f"The SPF record of {domain} ends in +all, which lets anybody send as you: "
                "end it with ~all or -all.",
                domain,
            )
        )
    elif "?all" in top:
        findings.append(
            Finding(
                "spf",
                "spf_neutral_all",
                "warning",
                f"The SPF record of {domain} ends in ?all, which protects nothing: "
                "end it with ~all or -all.",
                domain,
            )
        )
    missing = [m for m in ours if not _authorised(m, terms)]
    if missing:
        findings.append(
            Finding(
                "spf",
                "spf_not_ours",
                "error",
                f"The SPF record of {domain} does not name our sending servers "
                f"({' '.join(missing)}): add {' '.join(missing)} before the final all.",
                domain,
                record,
            )
        )
    return findings or [
        Finding("spf", "spf_ok", "ok", f"{domain} has one SPF record naming our servers.", domain)
    ]


# Bounce domain -------------------------------------------------------------------------


def check_bounce_mx(dns: Resolver, bounce_domain: str | None, mx_host: str | None) -> list[Finding]:
    """The Return-Path domain must receive mail where `flask bounces ingest` reads it."""
    if not bounce_domain:
        return [
            Finding(
                "bounce",
                "bounce_not_set",
                "error",
                "The sender has no bounce (Return-Path) domain, so returned mail is lost: "
                "set one on the sender, e.g. bounces.<your domain>.",
            )
        ]
    record = f"10 {mx_host}." if mx_host else ""
    answer = dns.mx(bounce_domain)
    if answer.status == Status.FAILED:
        return [unreachable("bounce", bounce_domain)]
    if answer.missing:
        return [
            Finding(
                "bounce",
                "bounce_mx_missing",
                "error",
                f"{bounce_domain} has no MX record, so bounces cannot reach us and bad "
                "addresses keep being mailed: publish this MX record.",
                bounce_domain,
                record,
            )
        ]
    hosts = [host for _, host in answer.records]
    if mx_host and mx_host.lower().rstrip(".") not in hosts:
        return [
            Finding(
                "bounce",
                "bounce_mx_elsewhere",
                "error",
                f"The MX record of {bounce_domain} points to {', '.join(hosts)}, not to our "
                f"bounce server {mx_host}: change it to this MX record.",
                bounce_domain,
                record,
            )
        ]
    return [
        Finding(
            "bounce",
            "bounce_ok",
            "ok",
            f"Bounces to {bounce_domain} reach {', '.join(hosts)}.",
            bounce_domain,
        )
    ]
