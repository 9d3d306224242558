"""A small authoritative DNS server on 127.0.0.1 (UDP and TCP), built on dnslib.

Zones are given as records, each with an optional TTL after the value (60 s when not given):
`{"name.": [("TXT", ["string", ...]), ("MX", (10, "host.")), ("CNAME", "host.")]}`.
A name not in the zone answers NXDOMAIN, a name without the asked type NOERROR with no
answer (NODATA), and a name listed in `broken` answers SERVFAIL (a server failure).
Records can be changed while it runs (`server.zone[...] = ...`).
"""

from __future__ import annotations

import socket

from dnslib import CNAME, MX, QTYPE, RCODE, RR, TXT, DNSRecord
from dnslib.server import BaseResolver, DNSServer


def _rdata(rtype: str, value: object) -> object:
    if rtype == "TXT":
        strings = [value] if isinstance(value, str) else list(value)  # type: ignore[arg-type]
        # A string longer than 255 bytes cannot be sent: cut it, as DNS panels do.
        return TXT(
            [s[i : i + 255].encode() for s in strings for i in range(0, max(len(s), 1), 255)]
        )
    if rtype == "MX":
        preference, host = value  # type: ignore[misc]
        return MX(host, preference)
    if rtype == "CNAME":
        return CNAME(value)
    raise ValueError(f"unsupported record type {rtype}")


class ZoneResolver(BaseResolver):
    def __init__(self, zone: dict[str, list[tuple]], broken: set[str]) -> None:
        self.zone = zone
        self.broken = broken

    def resolve(self, request: DNSRecord, handler: object) -> DNSRecord | None:
        reply = request.reply()
        name = str(request.q.qname).lower()
        if name in self.broken:
            reply.header.rcode = RCODE.SERVFAIL
            return reply
        rtype = QTYPE[request.q.qtype]
        if name not in self.zone:
            reply.header.rcode = RCODE.NXDOMAIN
            return reply
        for kind, value, *ttl in self.zone[name]:
            if kind == rtype:
                rdata, seconds = _rdata(kind, value), ttl[0] if ttl else 60
                reply.add_answer(RR(name, getattr(QTYPE, kind), rdata=rdata, ttl=seconds))
        return reply


def _free_port() -> int:
    # A port free for both UDP and TCP.
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
            udp.bind(("127.0.0.1", 0))
            port = udp.getsockname()[1]
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp:
                try:
                    tcp.bind(("127.0.0.1", port))
                except OSError:
                    continue
            return port


class DnsServer:
    """`with DnsServer(zone) as server:` serves `zone` at server.address ("127.0.0.1:port")."""

    def __init__(self, zone: dict | None = None, broken: set[str] | None = None) -> None:
        self.zone: dict[str, list[tuple[str, object]]] = {}
        self.broken: set[str] = set()
        self.resolver = ZoneResolver(self.zone, self.broken)
        self.set(zone or {}, broken or set())
        self.port = _free_port()
        self.servers = [
            DNSServer(self.resolver, address="127.0.0.1", port=self.port, tcp=tcp, logger=_Quiet())
            for tcp in (False, True)
        ]

    def set(self, zone: dict, broken: set[str] | None = None) -> None:
        """Serve these records from now on (names with or without the final dot)."""
        self.zone.clear()
        self.zone.update({n.lower().rstrip(".") + ".": list(rs) for n, rs in zone.items()})
        self.broken.clear()
        self.broken.update(n.lower().rstrip(".") + "." for n in broken or ())

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def __enter__(self) -> DnsServer:
        for server in self.servers:
            server.start_thread()
        return self

    def __exit__(self, *_: object) -> None:
        for server in self.servers:
            server.stop()
            server.server.server_close()


class _Quiet:
    """dnslib's logger interface, silent (each query would print a line)."""

    def __getattr__(self, _name: str) -> object:
        return lambda *_a, **_k: None
