import pytest

from mailapp.tokens import BadToken
from mailapp.urls import LinkSigner, read_click, read_single, read_verp

SECRET = "s3cret"
signer = LinkSigner(SECRET, "https://mail.example.com")


def token_of(url: str) -> str:
    return url.rsplit("/", 1)[1]


def test_click_open_unsubscribe_round_trip():
    assert read_click(SECRET, token_of(signer.click_url(77, 3))) == (77, 3)
    assert read_single(SECRET, "open", token_of(signer.open_url(77))) == 77
    assert read_single(SECRET, "unsubscribe", token_of(signer.unsubscribe_url(77))) == 77
    assert signer.click_url(77, 3).startswith("https://mail.example.com/t/c/")


def test_tokens_do_not_cross_purposes_or_kinds():
    with pytest.raises(BadToken):
        read_single(SECRET, "unsubscribe", token_of(signer.open_url(77)))
    message_signer = LinkSigner(SECRET, "https://m", kind="message")
    with pytest.raises(BadToken):
        read_single(SECRET, "open", token_of(message_signer.open_url(77)))
    assert read_single(SECRET, "open", token_of(message_signer.open_url(77)), "message") == 77


def test_verp_address_maps_back_even_lower_cased():
    address = signer.verp_address(123456, "bounces.example.com")
    assert address.startswith("bounces+")
    assert address.endswith("@bounces.example.com")
    assert len(address.split("@")[0]) <= 64
    assert read_verp(SECRET, address.upper()) == ("delivery", 123456)
    message_address = LinkSigner(SECRET, "https://m", kind="message").verp_address(9, "b.example")
    assert read_verp(SECRET, f"<{message_address}>") == ("message", 9)
    assert read_verp(SECRET, "someone@example.com") is None
    assert read_verp(SECRET, "bounces+1-aaaaaaaaaaaaaaaa@b.example") is None


def test_view_url_round_trip_per_kind_and_purpose():
    url = signer.view_url(77)
    assert url.startswith("https://mail.example.com/v/")
    assert read_single(SECRET, "view", token_of(url)) == 77
    message_url = LinkSigner(SECRET, "https://m", kind="message").view_url(77)
    assert read_single(SECRET, "view", token_of(message_url), "message") == 77
    for wrong in (
        lambda: read_single(SECRET, "view", token_of(message_url)),
        lambda: read_single(SECRET, "view", token_of(signer.unsubscribe_url(77))),
        lambda: read_single(SECRET, "unsubscribe", token_of(url)),
        lambda: read_single(SECRET, "open", token_of(url)),
        lambda: read_single("other", "view", token_of(url)),
    ):
        with pytest.raises(BadToken):
            wrong()
