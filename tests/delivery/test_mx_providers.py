"""Provider groups from MX records served by a real DNS server on 127.0.0.1, through the
production Lookup, cached in the real Redis."""

from __future__ import annotations

import socket
import threading

import pytest
import redis

from mailapp.delivery import mx_providers
from mailapp.delivery.dns_lookup import Lookup
from mailapp.delivery.mx_providers import (
    KEY,
    PAUSED_KEY,
    MxGrouper,
    group_label,
    metric_label,
    provider_of_mx,
)

ZONE = {
    "shop.test": [("MX", (1, "aspmx.l.google.com.")), ("MX", (5, "alt1.aspmx.l.google.com."))],
    "firm.test": [("MX", (0, "firm-test.mail.protection.outlook.com."), 7200)],
    "club.test": [
        ("MX", (20, "backup.other.net."), 3 * 86400),
        ("MX", (10, "mx1.hostingco.net."), 3 * 86400),
    ],
    "bare.test": [("TXT", ["v=spf1 -all"])],
}


@pytest.fixture
def client(redis_url):
    mx_providers.forget_local()
    client = redis.Redis.from_url(redis_url)
    yield client
    # Look-ups a group stopped waiting for finish in the background: let them, then close.
    for thread in threading.enumerate():
        if thread.name.startswith("mx-lookup"):
            thread.join()
    client.close()
    mx_providers.forget_local()


@pytest.fixture
def grouper(client, dns_server):
    dns_server.set(ZONE)
    return MxGrouper(client, Lookup(dns_server.address, timeout=1.0), 1.0)


def test_custom_domains_group_by_the_provider_of_their_mx(grouper):
    assert grouper.groups(["shop.test", "FIRM.test.", "club.test", "gmail.com"]) == {
        "shop.test": "google",
        "firm.test": "microsoft",
        # the preferred host's registered domain, not the backup's
        "club.test": "mx:hostingco.net",
        # a free-mail name needs no look-up (it is not in the test zone)
        "gmail.com": "google",
    }
    assert grouper.group_of("Ann@Shop.test") == "google"
    assert metric_label("mx:hostingco.net") == "other"
    assert metric_label("google") == "google"
    assert group_label("mx:hostingco.net") == "Mail servers of hostingco.net"


def test_known_mx_hosts_of_each_provider():
    cases = {
        "mx01.mail.icloud.com": "apple",
        "mail.protonmail.ch": "proton",
        "mx00.emig.gmx.net": "gmx",
        "mx-ha02.web.de": "gmx",
        "mxs.mail.ru": "mailru",
        "mx.yandex.net": "yandex",
        "mta5.am0.yahoodns.net": "yahoo",
        "smtp.google.com": "google",
        "mx.example.co.uk": "mx:example.co.uk",
    }
    for host, group in cases.items():
        assert provider_of_mx([(10, host)]) == group
    assert provider_of_mx([(0, "")]) is None  # null MX: the domain takes no mail


def test_answers_are_kept_for_their_ttl_clamped_shared_through_redis(grouper, client, dns_server):
    grouper.groups(["shop.test", "firm.test", "club.test"])
    assert 290 < client.ttl(KEY + "shop.test") <= 300  # 60 s record: at least 5 minutes
    assert 7190 < client.ttl(KEY + "firm.test") <= 7200
    assert 86390 < client.ttl(KEY + "club.test") <= 86400  # 3 days: at most one
    # The provider moves: this process and the other workers keep the answer until it expires.
    dns_server.set({"shop.test": [("MX", (10, "mx.yandex.net."))]})
    assert grouper.group_of("a@shop.test") == "google"
    mx_providers.forget_local()  # another worker: through Redis
    assert grouper.group_of("a@shop.test") == "google"
    client.delete(KEY + "shop.test")
    assert grouper.group_of("a@shop.test") == "google"  # this process's minute
    mx_providers.forget_local()
    assert grouper.group_of("a@shop.test") == "yandex"


def test_missing_or_failing_names_fall_back_to_the_name_and_are_kept_briefly(
    grouper, client, dns_server
):
    dns_server.broken.add("down.test.")
    assert grouper.groups(["nowhere.test", "down.test", "bare.test"]) == {
        "nowhere.test": "mx:nowhere.test",
        "down.test": "mx:down.test",
        "bare.test": "mx:bare.test",  # no MX: mail goes to the domain itself
    }
    for name in ("nowhere.test", "down.test", "bare.test"):
        assert 0 < client.ttl(KEY + name) <= 300
    # Cached negative: a record published now is seen only when that entry expires.
    dns_server.set({**ZONE, "nowhere.test": [("MX", (10, "aspmx.l.google.com."))]})
    mx_providers.forget_local()
    assert grouper.group_of("x@nowhere.test") == "mx:nowhere.test"


def test_a_resolver_that_never_answers_is_asked_once_then_not_at_all(client):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as silent:
        silent.bind(("127.0.0.1", 0))
        silent.setblocking(False)
        grouper = MxGrouper(client, Lookup(f"127.0.0.1:{silent.getsockname()[1]}", 0.3), 0.3)
        domains = [f"d{i}.test" for i in range(40)]
        groups = grouper.groups(domains)
        assert groups == {d: f"mx:{d}" for d in domains}
        assert client.exists(PAUSED_KEY)  # every worker skips look-ups for a minute
        assert _questions(silent) > 0
        assert grouper.groups([f"e{i}.test" for i in range(40)])["e1.test"] == "mx:e1.test"
        assert _questions(silent) == 0  # paused: nobody asked the silent resolver again


def _questions(server: socket.socket) -> int:
    """How many DNS questions reached the server since the last call."""
    count = 0
    while True:
        try:
            server.recv(4096)
        except BlockingIOError:
            return count
        count += 1


def test_grouping_off_uses_names_only(client, dns_server):
    dns_server.set(ZONE)
    grouper = MxGrouper(client, None, 1.0)
    assert grouper.groups(["shop.test", "hotmail.fr"]) == {
        "shop.test": "mx:shop.test",
        "hotmail.fr": "microsoft",
    }
    assert not client.exists(KEY + "shop.test")
