"""Messages from the skeleton parse with the stdlib parser; every DKIM signature verifies."""

import email
import email.policy
import random

import dkim
import pytest

from mailapp.delivery.senders import dkim_dns_record, generate_dkim_key
from mailapp.mail.dkim import SIGNED_HEADERS, DkimSigner
from mailapp.mail.mime import MessageSkeleton, format_address, make_message_id

NAMES = ["Ann", "Zoë Öztürk", 'Doe, "Jo"', "李小龍", "Ωmega 🚀", "O'Brien (Sales)", ""]
SUBJECTS = [
    "Hello",
    "Grüße aus Köln \u2013 50 % Rabatt",
    "🚀 " + "Lift-off " * 20,
    "A" * 150,
    "=?utf-8?q?not-an-encoded-word?=",
    "Tabs\tand  double  spaces",
]
BODY_LINES = [
    "Plain line",
    "Trailing spaces   ",
    ".starts with a dot",
    "--=_mailapp_ looks like a boundary",
    "Ünïcödé ✓ " * 12,
    "x" * 300,
    "\ttabbed",
    "",
    "From the start",
]


@pytest.fixture(scope="module")
def key() -> str:
    return generate_dkim_key()


def dnsfunc_for(key: str):
    record = dkim_dns_record(key).encode()

    def dnsfunc(name, timeout=5):
        assert name in (b"s1._domainkey.example.com.", "s1._domainkey.example.com.")
        return record

    return dnsfunc


def body(rng: random.Random) -> str:
    return "\n".join(rng.choice(BODY_LINES) for _ in range(rng.randint(1, 30)))


def test_many_messages_parse_and_verify(key):
    rng = random.Random(5)  # noqa: S311 - reproducible test data
    dnsfunc = dnsfunc_for(key)
    signer = DkimSigner("example.com", "s1", key)
    skeleton = MessageSkeleton(
        "Shop Ünited, Inc.",
        "news@example.com",
        reply_to=format_address("Support Team", "help@example.com"),
        headers={"List-Id": "Spring <spring.example.com>", "Feedback-ID": "7:12:campaign:mailapp"},
    )
    for i in range(150):
        name, subject = rng.choice(NAMES), rng.choice(SUBJECTS)
        text = body(rng)
        html = f"<html><body><p>{body(rng)}</p>\r\n<p>{text}</p></body></html>"
        headers = {
            "To": format_address(name, f"user{i}@exämple.org"),
            "Subject": subject,
            "Message-ID": make_message_id("delivery", i, "example.com"),
            "List-Unsubscribe": f"<https://mail.test/u/{'t' * 40}{i}>, "
            f"<mailto:unsubscribe+{i}@bounces.example.com?subject=unsubscribe>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        }
        raw = signer.sign(skeleton.render(headers, html, text))

        assert dkim.verify(raw, dnsfunc=dnsfunc), f"message {i} does not verify"
        assert all(len(line) <= 998 for line in raw.split(b"\r\n"))
        assert b"\n" not in raw.replace(b"\r\n", b"")
        message = email.message_from_bytes(raw, policy=email.policy.default)
        assert not message.defects
        assert message["Subject"] == subject.strip()
        assert message["To"].addresses[0].addr_spec == f"user{i}@xn--exmple-cua.org"
        assert message["To"].addresses[0].display_name == " ".join(name.split())
        assert message["From"].addresses[0].display_name == "Shop Ünited, Inc."
        assert message["Reply-To"].addresses[0].addr_spec == "help@example.com"
        assert message["Message-ID"] == f"<delivery.{i}@example.com>"
        assert message.get_content_type() == "multipart/alternative"
        plain, rich = message.get_body(("plain",)), message.get_body(("html",))
        assert plain.get_content().replace("\r\n", "\n") == text
        assert rich.get_content().replace("\r\n", "\n") == html.replace("\r\n", "\n")


def test_signature_covers_the_list_headers_and_breaks_on_tampering(key):
    skeleton = MessageSkeleton("Shop", "news@example.com", headers={"List-Id": "<l.example.com>"})
    raw = DkimSigner("example.com", "s1", key).sign(
        skeleton.render(
            {
                "To": "ann@example.org",
                "Subject": "Hi",
                "Message-ID": make_message_id("message", 9, "Example.com"),
                "List-Unsubscribe": "<https://mail.test/u/x>",
                "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
            },
            "<p>Hi</p>",
            "Hi",
        )
    )
    signature = email.message_from_bytes(raw)["DKIM-Signature"]
    signed = signature.split("h=")[1].split(";")[0].split(":")
    assert set(signed) == {h.lower() for h in SIGNED_HEADERS} - {"reply-to", "feedback-id"}
    dnsfunc = dnsfunc_for(key)
    assert dkim.verify(raw, dnsfunc=dnsfunc)
    for before, after in (
        (b"List-Unsubscribe-Post: List-Unsubscribe=One-Click", b"List-Unsubscribe-Post: x"),
        (b"Subject: Hi", b"Subject: Ho"),
        (b"<p>Hi</p>", b"<p>Ho</p>"),
    ):
        assert not dkim.verify(raw.replace(before, after), dnsfunc=dnsfunc)
    # Relaxed canonicalization: re-folding and whitespace changes in transit are fine.
    assert dkim.verify(raw.replace(b"Subject: Hi", b"Subject:   Hi  "), dnsfunc=dnsfunc)


def test_bare_line_feeds_are_signed_as_sent(key):
    raw = DkimSigner("example.com", "s1", key).sign(
        b"From: a@example.com\nTo: b@example.org\nSubject: x\n\nline one  \nline two\n\n\n"
    )
    assert b"\n" not in raw.replace(b"\r\n", b"")
    assert dkim.verify(raw, dnsfunc=dnsfunc_for(key))


def test_refuses_non_rsa_keys():
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ed25519

    pem = ed25519.Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    with pytest.raises(ValueError, match="RSA"):
        DkimSigner("example.com", "s1", pem)


def test_header_values_cannot_inject_headers():
    raw = MessageSkeleton("Shop", "news@example.com").render(
        {"To": "a@example.org", "Subject": "Hi\r\nBcc: victim@example.org"}, "<p>x</p>", "x"
    )
    message = email.message_from_bytes(raw, policy=email.policy.default)
    assert message["Bcc"] is None
    assert message["Subject"] == "Hi Bcc: victim@example.org"


def test_rendered_tracked_messages_parse_and_verify(key):
    from mailapp.content.htmlprep import sanitize_html
    from mailapp.content.links import add_open_pixel, rewrite_links
    from mailapp.content.rendering import compile_content, render_content, template_context
    from mailapp.models import TemplateVersion

    html = sanitize_html(
        "<style>td { font-family: Arial }</style><table><tr><td>"
        "<p>Grüezi {{ contact.first_name | default('Freund') }} aus {{ contact.attributes.city }}"
        '</p><a href="https://shop.example/ä?x=1&y=2">Angebot</a> '
        '<a href="{{ unsubscribe_url }}">Abmelden</a></td></tr></table>'
    )
    version = TemplateVersion(
        id=None,
        subject="Für {{ contact.first_name }} 🎁",
        preheader=None,
        html=html,
        text=None,
        locale="de",
        locale_variants={},
    )
    compiled = compile_content(version)
    skeleton = MessageSkeleton("Laden Müller", "news@example.com")
    signer = DkimSigner("example.com", "s1", key)
    dnsfunc = dnsfunc_for(key)
    names = ["Zoë", "Ørjan", "<b>Bob</b>", "李", "", "Ann-Marie  O'Neil"]
    for i, name in enumerate(names * 5):
        context = template_context(
            {"first_name": name, "email": f"u{i}@example.org", "attributes": {"city": "Zürich"}},
            unsubscribe_url=f"https://mail.test/u/{i}",
            view_url="https://mail.test/v",
        )
        rendered = render_content(compiled, context)
        body = rewrite_links(
            rendered.html, lambda pos, _url, i=i: f"https://mail.test/t/c/{i}-{pos}"
        )
        body = add_open_pixel(body, f"https://mail.test/t/o/{i}")
        raw = signer.sign(
            skeleton.render(
                {
                    "To": format_address(name, f"u{i}@example.org"),
                    "Subject": rendered.subject,
                    "Message-ID": make_message_id("delivery", i, "example.com"),
                },
                body,
                rendered.text,
            )
        )
        assert dkim.verify(raw, dnsfunc=dnsfunc)
        message = email.message_from_bytes(raw, policy=email.policy.default)
        assert not message.defects
        assert message["Subject"] == rendered.subject
        shown = message.get_body(("html",)).get_content()
        assert f"https://mail.test/t/c/{i}-0" in shown
        assert f"https://mail.test/t/o/{i}" in shown
        assert "aus Zürich" in shown
        assert "<b>Bob</b>" not in shown
        text = message.get_body(("plain",)).get_content()
        assert "Angebot (https://shop.example/ä?x=1&y=2)" in text


def test_line_by_line_quoted_printable_matches_the_whole_text_encoding():
    import quopri

    from mailapp.mail.mime import _LineEncoder, _qp

    encode = _LineEncoder(limit=8)  # small: the memory starts over several times
    pieces = ["a", " ", "\t", "\n", "\r\n", "\r", ".", "=", "ü", "x" * 90, "=?", "  \n", "☃"]
    texts = [
        "".join(pieces[(i * 7 + j * 3) % len(pieces)] for j in range(i % 40)) for i in range(400)
    ]
    for text in [*texts, "", "\n", ".\n", "trailing  ", "line\n" * 3]:
        encoded = encode(text)
        assert quopri.decodestring(encoded) == quopri.decodestring(_qp(text)), text
        if text == "" or text.endswith(("\n", "\r")):
            assert encoded == _qp(text), text
    assert len(encode._lines) <= 9


def test_marked_values_are_encoded_apart_and_decode_to_the_text_without_marks():
    import quopri

    from mailapp.mail.mime import SLOT, _LineEncoder

    encode = _LineEncoder(limit=16)
    rng = random.Random(7)  # noqa: S311 - reproducible test data
    alphabet = ["a", " ", "\t", "=", "ü", ".", "x" * 70, "☃", "=3D", "\n"]
    for i in range(300):
        parts = []
        for _ in range(rng.randint(0, 6)):
            parts.append("".join(rng.choice(alphabet) for _ in range(rng.randint(0, 12))))
            parts.append(f"{SLOT}https://mail.test/t/c/{i}-{rng.randint(0, 10**9)}{SLOT}")
        parts.append("".join(rng.choice(alphabet) for _ in range(rng.randint(0, 12))))
        text = "".join(parts)
        encoded = encode(text)
        assert b"\x00" not in encoded
        assert all(len(line) <= 76 for line in encoded.split(b"\r\n")), text
        assert all(not line.endswith((b" ", b"\t")) for line in encoded.split(b"\r\n"))
        decoded = quopri.decodestring(encoded).decode().replace("\r\n", "\n")
        assert decoded == text.replace(SLOT, ""), text
    # The text around the marked values is encoded once and remembered.
    encode = _LineEncoder()
    around = ("Hello,\n" + "ü " * 60 + '<a href="', '">read</a>\nBye ')
    for i in range(3):
        text = f"{around[0]}{SLOT}https://mail.test/t/c/{i}{SLOT}{around[1]}"
        decoded = quopri.decodestring(encode(text)).decode().replace("\r\n", "\n")
        assert decoded == text.replace(SLOT, "")
    assert set(encode._blocks) == {(around[0], True), (around[1], False)}
