"""The public URLs and the VERP address a message carries, and reading them back.

One place fixes their shape, shared by rendering (which writes them), the tracking,
unsubscribe and bounce paths (which read them). BASE_URL below is the sender's tracking
domain (https://links.example.com) when it has one:

    click        {BASE_URL}/t/c/<token(delivery, link)>
    open pixel   {BASE_URL}/t/o/<token(delivery)>
    unsubscribe  {BASE_URL}/u/<token(delivery)>
    web copy     {BASE_URL}/v/<token(delivery)>   (the "view in browser" page)
    VERP         bounces+<token(delivery)>@<bounce domain>

Campaign mail names a Delivery; transactional mail names a Message (purposes prefixed "m-").
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from flask import current_app

from mailapp.tokens import BadToken, make_token, read_token

Kind = Literal["delivery", "message"]
VERP_RE = re.compile(r"^bounces\+(?P<token>[a-z0-9-]+)@", re.IGNORECASE)


def _purpose(kind: Kind, name: str) -> str:
    return name if kind == "delivery" else f"m-{name}"


@dataclass(frozen=True)
class LinkSigner:
    """Builds signed URLs; made once per batch so the hot path reads no config."""

    secret: str
    base_url: str
    kind: Kind = "delivery"

    @classmethod
    def from_app(cls, kind: Kind = "delivery", tracking_domain: str | None = None) -> LinkSigner:
        """Links on BASE_URL, or on a sender's tracking domain (always https) when it has one."""
        base = f"https://{tracking_domain}" if tracking_domain else current_app.config["BASE_URL"]
        return cls(current_app.config["SECRET_KEY"], base, kind)

    def click_url(self, item_id: int, link_id: int) -> str:
        token = make_token(self.secret, _purpose(self.kind, "click"), item_id, link_id)
        return f"{self.base_url}/t/c/{token}"

    def open_url(self, item_id: int) -> str:
        return (
            f"{self.base_url}/t/o/{make_token(self.secret, _purpose(self.kind, 'open'), item_id)}"
        )

    def unsubscribe_url(self, item_id: int) -> str:
        token = make_token(self.secret, _purpose(self.kind, "unsubscribe"), item_id)
        return f"{self.base_url}/u/{token}"

    def view_url(self, item_id: int) -> str:
        return f"{self.base_url}/v/{make_token(self.secret, _purpose(self.kind, 'view'), item_id)}"

    def verp_address(self, item_id: int, bounce_domain: str) -> str:
        token = make_token(self.secret, _purpose(self.kind, "verp"), item_id)
        return f"bounces+{token}@{bounce_domain}"


def read_click(secret: str, token: str, kind: Kind = "delivery") -> tuple[int, int]:
    """(delivery or message id, link id) of a click token; BadToken when forged."""
    item_id, link_id = read_token(secret, _purpose(kind, "click"), token, count=2)
    return item_id, link_id


def read_single(secret: str, name: str, token: str, kind: Kind = "delivery") -> int:
    """The id an open, unsubscribe, view or VERP token names; BadToken when forged."""
    return read_token(secret, _purpose(kind, name), token, count=1)[0]


def read_verp(secret: str, address: str) -> tuple[Kind, int] | None:
    """Which delivery or message a bounce address names, or None for a foreign address."""
    match = VERP_RE.match(address.strip().strip("<>"))
    if not match:
        return None
    for kind in ("delivery", "message"):
        try:
            return kind, read_single(secret, "verp", match["token"], kind)
        except BadToken:
            continue
    return None
