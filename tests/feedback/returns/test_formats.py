"""The recipient and the reason in each non-standard layout, on messages written here.

Each message follows its vendor's layout (the shape of the text, not any real report's
words); the corpus measures the whole (tests/feedback/returns/test_corpus_figures.py).
"""

from __future__ import annotations

import json

import pytest

from mailapp.feedback.returns.bounces import (
    AUTO_REPLY,
    COMPLAINT,
    HARD,
    SOFT,
    UNKNOWN,
    parse_report,
)

HEAD = "From: MAILER-DAEMON@mx.example.net\r\nTo: bounces+x@mail.example.com\r\n"


def mail(headers: str, body: str) -> bytes:
    return (headers + "\r\n" + body.replace("\n", "\r\n")).encode()


def plain(subject: str, body: str, sender: str = "MAILER-DAEMON@mx.example.net") -> bytes:
    return mail(f"From: {sender}\r\nTo: news@shop.example\r\nSubject: {subject}\r\n", body)


ORIGINAL = "From: news@shop.example\nTo: ada@example.org\nSubject: Spring news\n\nHello\n"

CASES = {
    "dragonfly": (
        plain(
            "Mail delivery failed",
            "This is the DragonFly Mail Agent v0.13 at mta.shop.example.\n\n"
            "There was an error delivering your mail to <ada@example.org>.\n\n"
            "mx.example.org [192.0.2.1] did not like our RCPT TO:\n"
            "550 5.1.1 <ada@example.org>: Recipient address rejected: User unknown\n\n"
            "Original message follows.\n\n" + ORIGINAL,
        ),
        "ada@example.org",
        HARD,
        "user_unknown",
    ),
    "old sendmail transcript": (
        plain(
            "Returned mail: Host unknown",
            "   ----- Transcript of session follows -----\n"
            "550 example.org (smtp)... 550 Host unknown\n"
            "554 <ada@example.org>... 550 Host unknown (Authoritative answer from name server)\n"
            "\n   ----- Unsent message follows -----\n" + ORIGINAL,
        ),
        "ada@example.org",
        HARD,
        "host_unknown",
    ),
    "amazon workmail": (
        plain(
            "Delivery Status Notification (Failure)",
            "An error occurred while trying to deliver the mail to the following recipients:\n"
            "ada@example.org\n\nTechnical report:\n\nReporting-MTA: dsn; a1.smtp-out.example\n\n"
            "Action: failed\nFinal-Recipient: rfc822; ada@example.org\n"
            "Diagnostic-Code: smtp; 552 5.2.2 <ada@example.org>... Mailbox full\n"
            "Status: 5.2.2\n",
            sender="MAILER-DAEMON@us-west-2.awsapps.example",
        ),
        "ada@example.org",
        SOFT,
        "mailbox_full",
    ),
    "kddi au": (
        plain(
            "Mail System Error - Returned Mail",
            "Your mail sent on: Thu, 29 Apr 2021 10:00:00 +0900\n"
            "     Could not be delivered to: <ada@ezweb.example.jp>\n"
            "     As their mailbox is full.\n",
            sender="postmaster@au.example.jp",
        ),
        "ada@ezweb.example.jp",
        SOFT,
        "mailbox_full",
    ),
    "mfilter": (
        plain(
            "failure notice",
            "以下のメールアドレスへの送信に失敗しました。\nada@example.org\n\n"
            "-------server message\n550 5.1.1 <ada@example.org>: Recipient address rejected: "
            "User unknown in local recipient table\n-------SMTP command\nDATA\n"
            "-------original message\n" + ORIGINAL,
        ),
        "ada@example.org",
        HARD,
        "user_unknown",
    ),
    "lotus notes": (
        plain(
            "Undeliverable message",
            "------- Failure Reasons  --------\n\nUser ada (ada@example.org) not listed in "
            "Domino Directory\nada@example.org\n\n------- Returned Message --------\n" + ORIGINAL,
            sender="Postmaster@notes.example.org",
        ),
        "ada@example.org",
        HARD,
        "user_unknown",
    ),
    "opensmtpd": (
        plain(
            "Delivery status notification: error",
            "    Hi!\n\n    This is the MAILER-DAEMON, please DO NOT REPLY to this e-mail.\n\n"
            "    An error has occurred while attempting to deliver a message for\n"
            "    the following list of recipients:\n\n"
            "ada@example.org: 550 5.1.1 <ada@example.org>: Recipient address rejected: "
            "User unknown\nbob@example.org: 552 5.2.2 <bob@example.org>: Mailbox full\n\n"
            "    Below is a copy of the original message:\n\n" + ORIGINAL,
        ),
        "ada@example.org",
        HARD,
        "user_unknown",
    ),
    "office 365": (
        plain(
            "Undeliverable: Spring news",
            "Delivery has failed to these recipients or groups:\n\n"
            "ada@example.org<mailto:ada@example.org>\nThe email address you entered couldn't be "
            "found.\n\nDiagnostic information for administrators:\n\nGenerating server: "
            "AM0PR01.prod.outlook.example\n\nada@example.org\nRemote Server returned '550 "
            "5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient not found by SMTP address lookup'"
            "\n\nOriginal message headers:\n\n" + ORIGINAL,
            sender="postmaster@outlook.example",
        ),
        "ada@example.org",
        HARD,
        "user_unknown",
    ),
    "interscan rcpt dialogue": (
        plain(
            "Mail could not be delivered",
            "Sent <<< RCPT TO:<ada@example.org>\nReceived >>> 550 5.7.1 <ada@example.org>... "
            "Relaying denied\n",
            sender='"InterScan MSS" <postmaster@gw.example.org>',
        ),
        "ada@example.org",
        SOFT,
        "relay_denied",
    ),
    "exchange recipient name not recognized": (
        plain(
            "Undeliverable: Spring news",
            "Your message\n\n  To:      ada@example.org\n  Subject: Spring news\n\n"
            "did not reach the following recipient(s):\n\n"
            "ada@EXAMPLE.ORG on Thu, 29 Apr 2021 10:00:00 +0000\n"
            "    The recipient name is not recognized\n",
            sender="System Administrator <postmaster@example.org>",
        ),
        "ada@EXAMPLE.ORG",
        HARD,
        "user_unknown",
    ),
    "a bounce that names nobody but returns the original": (
        mail(
            HEAD + "Subject: Undeliverable mail\r\nMIME-Version: 1.0\r\n"
            'Content-Type: multipart/mixed; boundary="b"\r\n',
            "--b\nContent-Type: text/plain\n\nMessage could not be delivered to mobile.\n"
            "Error: No valid recipients for this message\n\n--b\n"
            "Content-Type: message/rfc822\n\n" + ORIGINAL + "\n--b--\n",
        ),
        "ada@example.org",
        HARD,
        "user_unknown",
    ),
}


@pytest.mark.parametrize("layout", sorted(CASES))
def test_each_layout_names_its_failed_recipient_and_reason(layout):
    raw, address, classification, reason = CASES[layout]
    report = parse_report(raw)
    failed = {r.address: r for r in report.failed()}
    assert address in failed, f"{layout}: found {sorted(failed)}"
    assert (failed[address].classification, failed[address].reason) == (classification, reason)
    # Addresses of the quoted original and of the report itself never count as failed.
    assert not {"news@shop.example", "bounces+x@mail.example.com"} & set(failed)


def test_opensmtpd_reads_each_recipient_by_its_own_line():
    report = parse_report(CASES["opensmtpd"][0])
    reasons = {r.address: r.reason for r in report.failed()}
    assert reasons == {"ada@example.org": "user_unknown", "bob@example.org": "mailbox_full"}


def test_dsn_recipients_not_parted_by_a_blank_line_are_each_read():
    fields = (
        "Reporting-MTA: dns; omr.example.net\n\n"
        "Final-Recipient: rfc822; ada@example.org\nAction: failed\nStatus: 5.2.2\n"
        "Diagnostic-Code: smtp; 550 5.2.2 <ada@example.org>... Mailbox Full\n"
        "Final-Recipient: rfc822; bob@example.org\nAction: failed\nStatus: 5.1.1\n"
        "Diagnostic-Code: smtp; 550 5.1.1 <bob@example.org>... User Unknown\n"
    )
    raw = mail(
        HEAD + "Subject: Undelivered Mail\r\nMIME-Version: 1.0\r\nContent-Type: multipart/report;"
        ' report-type=delivery-status; boundary="b"\r\n',
        f"--b\nContent-Type: text/plain\n\nFailed.\n--b\nContent-Type: message/delivery-status"
        f"\n\n{fields}\n--b--\n",
    )
    report = parse_report(raw)
    assert [(r.address, r.classification) for r in report.failed()] == [
        ("ada@example.org", SOFT),
        ("bob@example.org", HARD),
    ]


def test_a_dsn_whose_multipart_boundary_is_missing_is_read_from_its_text():
    raw = mail(
        HEAD + "Subject: Returned mail\r\nMIME-Version: 1.0\r\nContent-Type: multipart/report;"
        ' report-type=delivery-status; boundary="never-used"\r\n',
        "   ----- The following addresses had permanent fatal errors -----\n<ada@example.org>\n\n"
        "   ----- Transcript of session follows -----\nmail.local: unknown user: ada\n"
        "554 <ada@example.org>... Service unavailable\n\nReporting-MTA: dns; mx.example.net\n\n"
        "Final-Recipient: RFC822; <ada@example.org>\nAction: failed\nStatus: 5.5.0\n",
    )
    [recipient] = parse_report(raw).failed()
    assert (recipient.address, recipient.classification, recipient.reason) == (
        "ada@example.org",
        HARD,
        "user_unknown",
    )


def test_ses_notifications_by_mail_bounce_and_complaint():
    bounce = {
        "notificationType": "Bounce",
        "bounce": {
            "bounceType": "Permanent",
            "bouncedRecipients": [
                {"emailAddress": "ada@example.org", "status": "5.1.1",
                 "diagnosticCode": "smtp; 550 5.1.1 user unknown"}
            ],
        },
    }  # fmt: skip
    envelope = {"Type": "Notification", "Message": json.dumps(bounce)}
    # Mailers fold long lines on the way ("!" newline space); the reader undoes it.
    text = json.dumps(envelope)
    folded = text[:60] + "!\n " + text[60:]
    report = parse_report(plain("AWS Notification Message", folded, "no-reply@sns.example"))
    [recipient] = report.failed()
    assert (recipient.address, recipient.classification, recipient.reason) == (
        "ada@example.org",
        HARD,
        "user_unknown",
    )
    complaint = {
        "notificationType": "Complaint",
        "complaint": {"complainedRecipients": [{"emailAddress": "bob@example.org"}],
                      "complaintFeedbackType": "abuse"},
    }  # fmt: skip
    report = parse_report(plain("AWS Notification", json.dumps(complaint), "no-reply@sns.example"))
    assert report.classification == COMPLAINT
    assert [r.address for r in report.recipients] == ["bob@example.org"]


def test_a_complaint_names_every_original_recipient():
    raw = mail(
        "From: fbl@isp.example\r\nTo: abuse@shop.example\r\nSubject: Abuse Report\r\n"
        "MIME-Version: 1.0\r\nContent-Type: multipart/report; report-type=feedback-report; "
        'boundary="b"\r\n',
        "--b\nContent-Type: text/plain\n\nA complaint.\n--b\n"
        "Content-Type: message/feedback-report\n\nFeedback-Type: abuse\n"
        "Original-Rcpt-To: ada@example.org\nOriginal-Rcpt-To: bob@example.org\n\n--b--\n",
    )
    report = parse_report(raw)
    assert report.classification == COMPLAINT
    assert [r.address for r in report.recipients] == ["ada@example.org", "bob@example.org"]


def test_an_auto_reply_names_who_replied():
    raw = plain("Out of office", "I am away.", sender="Ada <ada@example.org>")
    raw = raw.replace(b"Subject:", b"Auto-Submitted: auto-replied\r\nSubject:")
    report = parse_report(raw)
    assert report.classification == AUTO_REPLY
    assert [r.address for r in report.recipients] == ["ada@example.org"]
    assert report.failed() == ()


def test_a_bounce_that_names_no_address_gets_a_verdict_from_its_words():
    # With VERP the delivery is known anyway: the words still say what happened.
    report = parse_report(
        plain("Delivery failure", "Your message was blocked using zen.spamhaus.example.\n")
    )
    assert (report.classification, report.recipients, report.reason) == (
        SOFT,
        (),
        "policy_blocked",
    )
    plain_mail = plain("hello", "Just saying hi.", sender="someone@example.org")
    assert parse_report(plain_mail).classification == UNKNOWN
