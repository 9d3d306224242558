"""Which mail provider receives a recipient domain's mail, read from the domain's MX hosts.

Receivers throttle per mail server, not per domain name: a company on Google Workspace is
Google's to throttle, like gmail.com. So rate-limit groups are providers (google,
microsoft, yahoo, apple, proton, gmx, mailru, yandex) or, for any other server,
"mx:<registered domain of the preferred MX host>" (mx1.hostingco.net -> mx:hostingco.net).

Well-known free-mail names map without a look-up. Answers are kept in Redis (shared by
the workers) for the record's TTL clamped to [5 min, 1 day] and for a minute in the
process; a name that does not exist or a failed look-up is kept 5 minutes and grouped by
name ("mx:<domain>"). A group of rows waits at most one DNS timeout for its look-ups, done
in parallel; when the resolver is that slow, look-ups pause for a minute (shared): a DNS
failure never stops a send, it only groups by name for a while.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import wait as wait_for

import redis
from flask import current_app

from mailapp.delivery.dns_checks import org_domain
from mailapp.delivery.dns_lookup import Lookup, Status

# Provider -> MX host suffixes (aspmx.l.google.com, x.mail.protection.outlook.com, ...).
PROVIDER_MX = {
    "google": ("google.com", "googlemail.com"),
    "microsoft": ("outlook.com", "hotmail.com", "outlook.office365.com"),
    "yahoo": ("yahoodns.net", "yahoo.com", "aol.com"),
    "apple": ("icloud.com", "me.com", "mac.com"),
    "proton": ("protonmail.ch", "proton.me"),
    "gmx": ("gmx.net", "gmx.com", "web.de"),
    "mailru": ("mail.ru",),
    "yandex": ("yandex.net", "yandex.ru"),
}
# Provider -> recipient domain names needing no look-up ("x." = x under any suffix).
PROVIDER_NAMES = {
    "google": ("gmail.com", "googlemail.com"),
    "microsoft": ("outlook.", "hotmail.", "live.", "msn.com", "windowslive.com"),
    "yahoo": ("yahoo.", "ymail.com", "rocketmail.com", "aol.com", "aim.com"),
    "apple": ("icloud.com", "me.com", "mac.com"),
    "proton": ("protonmail.com", "protonmail.ch", "proton.me", "pm.me"),
    "gmx": ("gmx.", "web.de"),
    "mailru": ("mail.ru", "inbox.ru", "list.ru", "bk.ru"),
    "yandex": ("yandex.", "ya.ru"),
}
PROVIDER_LABELS = {
    "google": "Google",
    "microsoft": "Microsoft",
    "yahoo": "Yahoo/AOL",
    "apple": "Apple iCloud",
    "proton": "Proton",
    "gmx": "GMX/Web.de",
    "mailru": "Mail.ru",
    "yandex": "Yandex",
}
MIN_TTL, MAX_TTL = 300, 86400
NEGATIVE_TTL = 300
LOCAL_TTL = 60.0  # the process's copy: a changed record reaches every worker within this
LOCAL_MAX = 20_000
PAUSE_SECONDS = 60  # look-ups skipped after one group waited a whole DNS timeout
PARALLEL = 8
KEY = "mx:group:"
PAUSED_KEY = "mx:lookups-paused"

_local: dict[str, tuple[str, float]] = {}
_local_lock = threading.Lock()


def provider_by_name(domain: str) -> str | None:
    """The provider of a well-known free-mail domain name, without DNS."""
    for provider, names in PROVIDER_NAMES.items():
        for name in names:
            if domain == name or (name.endswith(".") and domain.startswith(name)):
                return provider
    return None


def name_group(domain: str) -> str:
    """The group from the name alone: a known provider, else "mx:<domain>"."""
    domain = domain.lower().rstrip(".")
    return provider_by_name(domain) or f"mx:{domain}"


def provider_of_mx(hosts: list[tuple[int, str]]) -> str | None:
    """The group of a domain whose MX records are these (preference, host) pairs; None for
    a domain that accepts no mail (null MX, RFC 7505)."""
    hosts = sorted((p, h) for p, h in hosts if h)
    for _, host in hosts:
        for provider, suffixes in PROVIDER_MX.items():
            if any(host == s or host.endswith("." + s) for s in suffixes):
                return provider
    return f"mx:{org_domain(hosts[0][1])}" if hosts else None


def metric_label(group: str) -> str:
    """The provider, or "other" for every "mx:*" group: metrics keep few labels."""
    return "other" if group.startswith("mx:") else group


def group_label(group: str) -> str:
    """A group in plain words, for the back office."""
    if group.startswith("mx:"):
        return f"Mail servers of {group[3:]}"
    return PROVIDER_LABELS.get(group, group)


def forget_local() -> None:
    """Empty the process's copy (tests serve different zones under the same names)."""
    with _local_lock:
        _local.clear()


class MxGrouper:
    """Groups recipient domains by provider; `groups` never raises for DNS trouble."""

    def __init__(self, client: redis.Redis, lookup: Lookup | None, timeout: float) -> None:
        self.client = client
        self.lookup = lookup  # None: MX grouping is off, names only
        self.timeout = timeout

    @classmethod
    def from_config(cls, client: redis.Redis) -> MxGrouper:
        """MX_GROUPING on: look-ups through the configured resolver (DNS_RESOLVER)."""
        config = current_app.config
        lookup = Lookup.from_config() if config.get("MX_GROUPING") else None
        return cls(client, lookup, float(config.get("DNS_TIMEOUT", 3.0)))

    def group_of(self, address: str) -> str:
        """The group of one recipient address."""
        return self.by_address([address])[address]

    def by_address(self, addresses: list[str]) -> dict[str, str]:
        """Each address's group, resolving each distinct domain once."""
        groups = self.groups(_domain(a) for a in addresses)
        return {a: groups[_domain(a)] for a in addresses}

    def groups(self, domains: Iterable[str]) -> dict[str, str]:
        """Each distinct domain's group: names, process copy, Redis, then DNS in parallel."""
        found: dict[str, str] = {}
        unknown = []
        for domain in {d.lower().rstrip(".") for d in domains}:
            if self.lookup is None or provider_by_name(domain):
                found[domain] = name_group(domain)
            else:
                unknown.append(domain)
        if not unknown:
            return found
        now = time.monotonic()
        with _local_lock:
            cached = {d: _local[d][0] for d in unknown if d in _local and _local[d][1] > now}
        found.update(cached)
        unknown = [d for d in unknown if d not in cached]
        if not unknown:
            return found
        stored = self.client.mget([KEY + d for d in unknown])
        for domain, value in zip(unknown, stored, strict=True):
            if value is not None:
                found[domain] = value.decode()
                _keep_local(domain, found[domain])
        missing = [d for d, v in zip(unknown, stored, strict=True) if v is None]
        if missing:
            found.update(self._resolve(missing))
        return found

    def _resolve(self, domains: list[str]) -> dict[str, str]:
        fallback = {d: name_group(d) for d in domains}
        if self.client.exists(PAUSED_KEY):
            return fallback
        pool = ThreadPoolExecutor(min(PARALLEL, len(domains)), thread_name_prefix="mx-lookup")
        futures = {pool.submit(self._resolve_one, d): d for d in domains}
        done, late = wait_for(futures, timeout=self.timeout + 0.5)
        # Look-ups still running finish in the background and keep their answer.
        pool.shutdown(wait=False, cancel_futures=True)
        if late:
            self.client.set(PAUSED_KEY, 1, ex=PAUSE_SECONDS)
        return fallback | {futures[f]: f.result() for f in done if f.exception() is None}

    def _resolve_one(self, domain: str) -> str:
        answer = self.lookup.mx(domain)
        found = provider_of_mx(answer.records) if answer.status == Status.FOUND else None
        if found is not None:
            group, ttl = found, min(max(answer.ttl or MIN_TTL, MIN_TTL), MAX_TTL)
        elif answer.status == Status.NODATA:
            # No MX: mail goes to the domain's own address (RFC 5321 5.1).
            group, ttl = f"mx:{org_domain(domain)}", NEGATIVE_TTL
        else:
            group, ttl = name_group(domain), NEGATIVE_TTL
        # Only a cache: the send meets Redis errors on its own path.
        with contextlib.suppress(redis.RedisError):
            self.client.set(KEY + domain, group, ex=ttl)
        _keep_local(domain, group)
        return group


def _domain(address: str) -> str:
    return address.rpartition("@")[2].lower().rstrip(".")


def _keep_local(domain: str, group: str) -> None:
    with _local_lock:
        if len(_local) >= LOCAL_MAX:
            _local.clear()  # rare, and Redis still has every answer
        _local[domain] = (group, time.monotonic() + LOCAL_TTL)
