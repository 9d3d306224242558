"""Bounce parsing and classification on real messages no one on this project wrote."""

from __future__ import annotations

import csv

import pytest

from mailapp.feedback.returns.bounces import (
    AUTO_REPLY,
    COMPLAINT,
    DELAY,
    HARD,
    SOFT,
    UNKNOWN,
    parse_report,
)
from tests.support.corpus import FLANKER, FLUFL


def flufl_labels() -> list[tuple[str, frozenset[str], bool]]:
    """labels.csv, one entry per file (a file tried by two detectors lists both rows)."""
    merged: dict[str, tuple[set[str], bool]] = {}
    with open(FLUFL / "labels.csv", newline="") as handle:
        for row in csv.DictReader(handle):
            addresses, _ = merged.setdefault(row["file"], (set(), row["temporary"] == "True"))
            addresses.update(row["expected_addresses"].split())
    return [(name, frozenset(addrs), temp) for name, (addrs, temp) in merged.items()]


def label_id(value: object) -> str:
    """A test id that is the same in every process: xdist's workers must collect the same ids,
    and a frozenset's order follows the process's string-hash seed."""
    return str(sorted(value)) if isinstance(value, frozenset) else str(value)


@pytest.mark.parametrize(("name", "expected", "temporary"), flufl_labels(), ids=label_id)
def test_flufl_sample_yields_exactly_the_labelled_addresses(name, expected, temporary):
    report = parse_report((FLUFL / name).read_bytes())
    failed = {r.address for r in report.failed()}
    delayed = {r.address for r in report.recipients if r.classification == DELAY}
    if temporary:
        # A delay warning names its addresses but is not a failure.
        assert (delayed, failed) == (expected, set())
        assert report.classification == DELAY
    else:
        assert failed == expected


def test_flufl_corpus_is_all_there():
    assert len(flufl_labels()) == 101


FLANKER_CLASSES = {
    # Action: failed after days of retries for a transient reason: not delivered, not the
    # address's fault -> soft (a delay warning proper is Action: delayed, as in no-mx.eml).
    "bounce/delayed.eml": (SOFT, "foo@example.com", "4.0.0"),
    "bounce/delayed-broken.eml": (SOFT, "demo@example.com", "4.2.2"),
    "bounce/no-mx.eml": (DELAY, "user@example.com", "4.4.4"),
    "bounce/mailbox-full.eml": (SOFT, "user@aol.com", "5.2.2"),
    "bounce/gmail-invalid-address.eml": (HARD, "awfawfawfawfawfaw@someserverhere.com", "5.1.0"),
    "bounce/gmail-no-dns.eml": (HARD, "user@example.comm", None),
    "bounce/office365.eml": (HARD, "noname@example.com", "5.1.10"),
    "bounce/zed.eml": (
        HARD,
        "asdfasdfasdfasdfasdfasdfewrqertrtyrthsfgdfgadfqeadvxzvz@gmail.com",
        "5.1.1",
    ),
    # "Delivery failed 10 attempts" says nothing of why: unknown, never guessed.
    "bounce/broken-mime.eml": (UNKNOWN, "info@example.net", None),
    "complaints/aol.eml": (COMPLAINT, "redacted@aol.com", None),
    "complaints/yahoo.eml": (COMPLAINT, "user@yahoo.com", None),
}


@pytest.mark.parametrize("name", sorted(FLANKER_CLASSES))
def test_flanker_sample_gets_the_class_its_name_says(name):
    classification, address, status = FLANKER_CLASSES[name]
    report = parse_report((FLANKER / name).read_bytes())
    assert report.classification == classification
    assert [r.address for r in report.recipients] == [address]
    assert report.status == status


def test_every_flanker_sample_is_covered():
    on_disk = {str(p.relative_to(FLANKER)) for p in FLANKER.rglob("*.eml")}
    assert on_disk == set(FLANKER_CLASSES)


def test_original_code_and_text_are_kept():
    report = parse_report((FLANKER / "bounce/mailbox-full.eml").read_bytes())
    assert report.diagnostic == "smtp; 552 5.2.2 E4.12 user MAILBOX FULL"
    office = parse_report((FLANKER / "bounce/office365.eml").read_bytes())
    assert "RESOLVER.ADR.RecipientNotFound" in office.diagnostic


def test_arf_complaint_keeps_feedback_fields_and_the_original():
    report = parse_report((FLANKER / "complaints/yahoo.eml").read_bytes())
    assert report.feedback["feedback-type"] == "abuse"
    assert report.feedback["original-mail-from"] == "<bounce+705f77.d4a-user=yahoo.com@example.com>"
    assert report.original["Subject"] == "Some subject"


def test_a_report_quoted_inside_a_forwarded_message_is_not_ours():
    # dsn_16 forwards an older delay report for another address inside its returned message.
    report = parse_report((FLUFL / "data/dsn_16.txt").read_bytes())
    assert [(r.address, r.classification) for r in report.recipients] == [
        ("hishealinghand@pastors.com", HARD)
    ]


def test_auto_reply_is_not_a_bounce():
    raw = (
        b"From: Ada <ada@example.org>\r\nTo: bounces+abc@mail.example.com\r\n"
        b"Subject: Out of office\r\nAuto-Submitted: auto-replied\r\n\r\n"
        b"I am away until Monday. Your message to ada@example.org will be read then.\r\n"
    )
    report = parse_report(raw)
    assert report.classification == AUTO_REPLY
    assert report.failed() == ()


def test_plain_mail_is_unknown():
    raw = b"From: someone@example.org\r\nSubject: hello\r\n\r\nJust saying hi.\r\n"
    assert parse_report(raw).classification == UNKNOWN
