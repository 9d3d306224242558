"""DNS look-ups for the domain checks: the one module that talks to dnspython.

The resolver is configuration (DNS_RESOLVER "host" or "host:port", empty = the system's),
so the tests point the same code at their own authoritative server. Every answer says
whether the name does not exist, exists without records of the type, or could not be
asked (timeout, server failure): the checks explain each differently.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

import dns.exception
import dns.resolver
from flask import current_app


class Status(StrEnum):
    FOUND = "found"
    NXDOMAIN = "nxdomain"  # the name does not exist at all
    NODATA = "nodata"  # the name exists, but has no record of this type
    FAILED = "failed"  # timeout or server failure: nothing known


@dataclass(frozen=True)
class Answer:
    status: Status
    # TXT: each record's character strings as published (not joined); MX: (preference, host).
    records: list = field(default_factory=list)
    # Seconds the answer may be kept (the record set's TTL); None when nothing was found.
    ttl: int | None = None

    @property
    def missing(self) -> bool:
        return self.status in (Status.NXDOMAIN, Status.NODATA)


def _resolver(address: str | None, timeout: float) -> dns.resolver.Resolver:
    if not address:
        resolver = dns.resolver.Resolver()
    else:
        resolver = dns.resolver.Resolver(configure=False)
        host, _, port = address.rpartition(":") if address.count(":") == 1 else (address, "", "")
        resolver.nameservers = [host or address]
        if port:
            resolver.port = int(port)
    resolver.timeout = resolver.lifetime = timeout
    # Answers must be fresh after a marketer fixes a record: no cache here.
    resolver.cache = None
    return resolver


class Lookup:
    """Asks one resolver; `txt`/`mx`/`cname` never raise, they answer an Answer."""

    def __init__(self, address: str | None = None, timeout: float = 3.0) -> None:
        self.resolver = _resolver(address, timeout)

    @classmethod
    def from_config(cls) -> Lookup:
        """The resolver the configuration names (DNS_RESOLVER, DNS_TIMEOUT)."""
        config = current_app.config
        return cls(config.get("DNS_RESOLVER"), float(config.get("DNS_TIMEOUT", 3.0)))

    def _ask(self, name: str, rdtype: str) -> tuple[Status, list, int | None]:
        try:
            answer = self.resolver.resolve(name.rstrip(".") + ".", rdtype, raise_on_no_answer=False)
        except dns.resolver.NXDOMAIN:
            return Status.NXDOMAIN, [], None
        except (dns.exception.Timeout, dns.resolver.NoNameservers, dns.exception.DNSException):
            return Status.FAILED, [], None
        if answer.rrset is None:
            return Status.NODATA, [], None
        return Status.FOUND, list(answer.rrset), answer.rrset.ttl

    def txt(self, name: str) -> Answer:
        """The TXT records at `name`, each as its list of strings."""
        status, rows, ttl = self._ask(name, "TXT")
        strings = [[s.decode("utf-8", "replace") for s in r.strings] for r in rows]
        return Answer(status, strings, ttl)

    def mx(self, name: str) -> Answer:
        """The MX records at `name` as (preference, host without the final dot), with their TTL."""
        status, rows, ttl = self._ask(name, "MX")
        return Answer(
            status,
            sorted((r.preference, r.exchange.to_text().rstrip(".").lower()) for r in rows),
            ttl,
        )

    def cname(self, name: str) -> Answer:
        """The CNAME target at `name` (one at most), without the final dot."""
        status, rows, ttl = self._ask(name, "CNAME")
        return Answer(status, [r.target.to_text().rstrip(".").lower() for r in rows], ttl)
