"""Each domain check against a real DNS server on 127.0.0.1, through the production Lookup."""

from __future__ import annotations

import socket

import pytest

from mailapp.delivery.auth_checks import aligned, check_dkim, check_dmarc
from mailapp.delivery.dns_checks import check_bounce_mx, check_spf, org_domain
from mailapp.delivery.dns_lookup import Lookup, Status
from mailapp.delivery.senders import dkim_public_key, generate_dkim_key
from tests.support.dns_zones import BOUNCE_MX, OUR_SPF, good_zone

KEY = generate_dkim_key()
OTHER_KEY = generate_dkim_key()
PUB = dkim_public_key(KEY)
DKIM_HOST = "sel1._domainkey.example.com"


@pytest.fixture
def dns(dns_server):
    dns_server.set(good_zone(KEY))
    return Lookup(dns_server.address, timeout=2.0)


def codes(findings):
    return [(f.code, f.level) for f in findings]


def spf(dns):
    return codes(check_spf(dns, "bounces.example.com", OUR_SPF))


def dkim(dns):
    return codes(check_dkim(dns, "example.com", "sel1", PUB))


def dmarc(dns, dkim_domain="example.com", return_path="bounces.example.com"):
    return codes(check_dmarc(dns, "example.com", dkim_domain, return_path))


def test_lookup_tells_nxdomain_nodata_and_failure_apart(dns, dns_server):
    dns_server.zone["broken.example.com."] = [("TXT", ["x"])]
    dns_server.broken.add("broken.example.com.")
    assert dns.txt("nothing.example.com").status == Status.NXDOMAIN
    assert dns.txt("_spf.relay.test").status == Status.FOUND
    assert dns.mx("_spf.relay.test").status == Status.NODATA
    assert dns.txt("broken.example.com").status == Status.FAILED


def test_a_resolver_that_never_answers_is_a_timeout_warning():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as silent:
        silent.bind(("127.0.0.1", 0))
        dns = Lookup(f"127.0.0.1:{silent.getsockname()[1]}", timeout=0.3)
        assert dns.txt("example.com").status == Status.FAILED
        assert spf(dns) == [("spf_unreachable", "warning")]


def test_good_zone_passes_every_check(dns):
    assert spf(dns) == [("spf_ok", "ok")]
    assert dkim(dns) == [("dkim_ok", "ok")]
    assert dmarc(dns) == [("dmarc_ok", "ok"), ("dmarc_aligned", "ok")]
    assert codes(check_bounce_mx(dns, "bounces.example.com", BOUNCE_MX)) == [("bounce_ok", "ok")]


# SPF


@pytest.mark.parametrize(
    ("records", "expected"),
    [
        ([], [("spf_missing", "error")]),
        (
            [("TXT", ["v=spf1 include:_spf.relay.test ~all"]), ("TXT", ["v=spf1 -all"])],
            [("spf_several", "error")],
        ),
        ([("TXT", ["v=spf1 include:_spf.relay.test +all"])], [("spf_pass_all", "error")]),
        ([("TXT", ["v=spf1 include:_spf.relay.test all"])], [("spf_pass_all", "error")]),
        ([("TXT", ["v=spf1 include:_spf.relay.test ?all"])], [("spf_neutral_all", "warning")]),
        (
            [("TXT", ["v=spf1 include:_spf.relay.test include:_spf.gone.test ~all"])],
            [("spf_include_broken", "error")],
        ),
        (
            [("TXT", ["v=spf1 include:_spf.other.test ~all"])],
            [("spf_include_broken", "error"), ("spf_not_ours", "error")],
        ),
        # Unrelated TXT records (site verification) are not SPF records.
        (
            [("TXT", ["google-site-verification=abc"]), ("TXT", ["v=spf1 ", "-all"])],
            [("spf_not_ours", "error")],
        ),
    ],
)
def test_spf_findings(dns, dns_server, records, expected):
    dns_server.zone["bounces.example.com."] = [("MX", (10, BOUNCE_MX)), *records]
    assert spf(dns) == expected


def test_spf_counts_lookups_through_nested_includes(dns, dns_server):
    # 1 include at the top, each nested record has a, mx and one more include: 1 + 4*3 = 13.
    chain = [f"n{i}.spf.test" for i in range(4)]
    dns_server.zone["bounces.example.com."] = [
        ("TXT", [f"v=spf1 include:{chain[0]} include:_spf.relay.test -all"])
    ]
    for here, nxt in zip(chain, [*chain[1:], "_spf.relay.test"], strict=True):
        dns_server.zone[f"{here}."] = [("TXT", [f"v=spf1 a mx include:{nxt} -all"])]
    found = check_spf(dns, "bounces.example.com", OUR_SPF)
    assert codes(found) == [("spf_too_many_lookups", "error")]
    assert "needs 14 DNS look-ups" in found[0].text


def test_spf_finds_our_address_inside_a_range(dns, dns_server):
    assert codes(check_spf(dns, "_spf.relay.test", ["ip4:203.0.113.7"])) == [("spf_ok", "ok")]
    assert codes(check_spf(dns, "_spf.relay.test", ["ip4:198.51.100.7"])) == [
        ("spf_not_ours", "error")
    ]


def test_spf_missing_gives_the_record_to_publish(dns, dns_server):
    del dns_server.zone["bounces.example.com."]
    (finding,) = check_spf(dns, "bounces.example.com", OUR_SPF)
    assert finding.record == "v=spf1 include:_spf.relay.test ~all"
    assert finding.host == "bounces.example.com"


# DKIM


def test_dkim_missing_and_the_doubled_host_name(dns, dns_server):
    good = dns_server.zone.pop(f"{DKIM_HOST}.")
    assert dkim(dns) == [("dkim_missing", "error")]
    dns_server.zone[f"{DKIM_HOST}.example.com."] = good
    (finding,) = check_dkim(dns, "example.com", "sel1", PUB)
    assert finding.code == "dkim_wrong_host"
    assert "sel1._domainkey (without example.com)" in finding.text


@pytest.mark.parametrize(
    ("strings", "expected"),
    [
        (lambda r: [r.replace(PUB, dkim_public_key(OTHER_KEY))], ("dkim_wrong_key", "error")),
        (lambda r: [f'"{r[:200]}" "{r[200:]}"'], ("dkim_malformed", "error")),
        (lambda r: [r.replace(PUB, PUB[:100] + " " + PUB[100:])], ("dkim_spaces", "warning")),
        (lambda r: [r.replace(PUB, PUB[:-5] + "!!!!=")], ("dkim_malformed", "error")),
        (lambda _r: ["v=DKIM1; k=rsa; p="], ("dkim_revoked", "error")),
        (lambda _r: ["v=DKIM1; k=rsa"], ("dkim_malformed", "error")),
    ],
)
def test_dkim_findings(dns, dns_server, strings, expected):
    record = f"v=DKIM1; k=rsa; p={PUB}"
    dns_server.zone[f"{DKIM_HOST}."] = [("TXT", strings(record))]
    assert dkim(dns) == [expected]


def test_dkim_split_over_two_records(dns, dns_server):
    record = f"v=DKIM1; k=rsa; p={PUB}"
    dns_server.zone[f"{DKIM_HOST}."] = [("TXT", [record[:250]]), ("TXT", [record[250:]])]
    assert dkim(dns) == [("dkim_split", "error")]


def test_dkim_without_a_key(dns):
    assert codes(check_dkim(dns, "example.com", None, None)) == [("dkim_no_key", "error")]


# DMARC


def test_dmarc_missing_falls_back_to_the_organisational_domain(dns, dns_server):
    assert codes(check_dmarc(dns, "news.example.com", "example.com", None))[0] == (
        "dmarc_ok",
        "ok",
    )
    del dns_server.zone["_dmarc.example.com."]
    assert dmarc(dns)[0] == ("dmarc_missing", "error")


def test_dmarc_on_the_doubled_host_name(dns, dns_server):
    dns_server.zone["_dmarc.example.com.example.com."] = dns_server.zone.pop("_dmarc.example.com.")
    assert dmarc(dns)[0] == ("dmarc_wrong_host", "error")


@pytest.mark.parametrize(
    ("records", "expected"),
    [
        ([("TXT", ["v=DMARC1; p=none"])], ("dmarc_no_reports", "warning")),
        ([("TXT", ["v=DMARC1; p=none; rua=mailto:d@example.com"])], ("dmarc_ok", "ok")),
        (
            [("TXT", ["v=DMARC1; p=reject"]), ("TXT", ["v=DMARC1; p=none"])],
            ("dmarc_several", "error"),
        ),
        ([("TXT", ["v=DMARC1; p=maybe"])], ("dmarc_malformed", "error")),
    ],
)
def test_dmarc_policy_findings(dns, dns_server, records, expected):
    dns_server.zone["_dmarc.example.com."] = records
    assert dmarc(dns)[0] == expected


def test_dmarc_alignment_relaxed_and_strict(dns, dns_server):
    # Relaxed: a subdomain bounce domain and the same DKIM domain align.
    assert dmarc(dns)[-1] == ("dmarc_aligned", "ok")
    # Signed for another domain, returning to another: fails.
    assert dmarc(dns, "esp.test", "bounces.esp.test")[-1] == ("dmarc_alignment", "error")
    # Only the Return-Path aligns: still passes (DKIM OR SPF).
    assert dmarc(dns, "esp.test")[-1] == ("dmarc_aligned", "ok")
    # Strict: the bounce subdomain no longer aligns, a DKIM signature of a subdomain neither.
    dns_server.zone["_dmarc.example.com."] = [
        ("TXT", ["v=DMARC1; p=reject; adkim=s; aspf=s; rua=mailto:d@example.com"])
    ]
    assert dmarc(dns, "mail.example.com")[-1] == ("dmarc_alignment", "error")
    assert dmarc(dns, "example.com")[-1] == ("dmarc_aligned", "ok")


def test_alignment_rules():
    assert aligned("example.com", "bounces.example.com", "r")
    assert not aligned("example.com", "bounces.example.com", "s")
    assert not aligned("shop.co.uk", "other.co.uk", "r")
    assert org_domain("a.b.shop.co.uk") == "shop.co.uk"


# Bounce domain


def test_bounce_domain_findings(dns, dns_server):
    assert codes(check_bounce_mx(dns, None, BOUNCE_MX)) == [("bounce_not_set", "error")]
    dns_server.zone["bounces.example.com."] = [("MX", (10, "mx.elsewhere.test."))]
    assert codes(check_bounce_mx(dns, "bounces.example.com", BOUNCE_MX)) == [
        ("bounce_mx_elsewhere", "error")
    ]
    dns_server.zone["bounces.example.com."] = [("TXT", ["v=spf1 -all"])]
    (missing,) = check_bounce_mx(dns, "bounces.example.com", BOUNCE_MX)
    assert (missing.code, missing.record) == ("bounce_mx_missing", f"10 {BOUNCE_MX}.")
