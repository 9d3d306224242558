"""RFC 5322 / MIME bytes for a rendered message, without the stdlib generator in the hot path.

`email.message.EmailMessage(...).as_bytes()` costs milliseconds per message; here the parts
that never change for a template version and sender (From, Reply-To, List-Id, the MIME
structure and its boundary) are encoded once in a MessageSkeleton, and each recipient only
adds its own headers and its two quoted-printable bodies. Tests parse what this produces
with the stdlib parser, so the two stay in agreement.
"""

from __future__ import annotations

import base64
import binascii
import re
import secrets
from collections.abc import Mapping
from email.utils import formatdate

ADDRESS_HEADERS = frozenset({"from", "to", "cc", "reply-to", "sender"})
_BREAKS = re.compile(r"[\r\n]+")
_ADDR_RE = re.compile(r"^(?P<name>.*?)\s*<(?P<addr>[^<>]+)>\s*$", re.DOTALL)
_SPECIALS = re.compile(r'[()<>\[\]:;@\\,."]')
MAX_LINE = 78  # header lines (RFC 5322 2.1.1)
QP_LINE = 76  # quoted-printable lines (RFC 2045 6.7)


def make_message_id(kind: str, item_id: int, domain: str) -> str:
    """Deterministic: a retried delivery keeps its Message-ID, so receivers can dedupe."""
    return f"<{kind}.{item_id}@{domain.lower()}>"


def format_address(name: str | None, address: str) -> str:
    """`Name <address>` with the name quoted or RFC 2047-encoded as needed."""
    address = _ascii_address(address)
    if not name:
        return address
    name = " ".join(name.split())
    if not name.isascii():
        return f"{encode_word(name)} <{address}>"
    if _SPECIALS.search(name):
        escaped = name.replace("\\", "\\\\").replace('"', '\\"')
        return f'"{escaped}" <{address}>'
    return f"{name} <{address}>"


def _ascii_address(address: str) -> str:
    local, _, domain = address.strip().rpartition("@")
    if not local.isascii():
        raise ValueError(f"non-ASCII local part needs SMTPUTF8: {address!r}")
    if not domain.isascii():
        domain = domain.encode("idna").decode()
    return f"{local}@{domain}"


def encode_word(text: str) -> str:
    """RFC 2047 'B' encoded-words of at most 75 characters, whole characters per word."""
    words, chunk = [], b""
    for char in text:
        encoded = char.encode()
        if len(chunk) + len(encoded) > 45:  # 45 bytes -> 60 base64 chars + 12 = 72
            words.append(chunk)
            chunk = b""
        chunk += encoded
    words.append(chunk)
    return "\r\n ".join(f"=?utf-8?b?{base64.b64encode(w).decode()}?=" for w in words)


def header_line(name: str, value: str) -> str:
    """One header, CRLF-terminated: line breaks removed, non-ASCII encoded, long lines folded."""
    value = " ".join(_BREAKS.split(value)).strip()
    if name.lower() in ADDRESS_HEADERS:
        value = ", ".join(_address(part) for part in _split_addresses(value))
    elif not value.isascii() or "=?" in value:
        # Text that merely looks like an encoded-word must be encoded too, or it decodes.
        return f"{name}: {encode_word(value)}\r\n"
    return _fold(f"{name}: {value}") + "\r\n"


def _split_addresses(value: str) -> list[str]:
    parts, depth, quoted, start = [], 0, False, 0
    for i, char in enumerate(value):
        if char == '"' and (i == 0 or value[i - 1] != "\\"):
            quoted = not quoted
        elif not quoted and char in "<>":
            depth += 1 if char == "<" else -1
        elif char == "," and not quoted and depth == 0:
            parts.append(value[start:i])
            start = i + 1
    parts.append(value[start:])
    return [p.strip() for p in parts if p.strip()]


def _address(value: str) -> str:
    if value.isascii():
        return value
    match = _ADDR_RE.match(value)
    if not match:
        return _ascii_address(value)
    return format_address(match["name"].strip().strip('"'), match["addr"])


def _fold(line: str) -> str:
    """Fold at spaces to keep lines near 78 characters (never splitting a word)."""
    if len(line) <= MAX_LINE:
        return line
    name, first, *words = line.split(" ")
    # The first word stays on the header's line: folding right after "Name:" would add a
    # leading space to the value.
    out, current = [], f"{name} {first}"
    for word in words:
        if len(current) + 1 + len(word) > MAX_LINE:
            out.append(current)
            current = " " + word
        else:
            current = f"{current} {word}"
    out.append(current)
    return "\r\n".join(out)


def _qp(text: str) -> bytes:
    """Quoted-printable with CRLF line ends; '=' never starts a boundary, see below."""
    data = text.replace("\r\n", "\n").replace("\r", "\n").encode()
    return _fit(binascii.b2a_qp(data, quotetabs=False, istext=True)).replace(b"\n", b"\r\n")


def _fit(encoded: bytes, width: int = QP_LINE) -> bytes:
    """Lines of at most `width` characters. binascii.b2a_qp lets a line whose trailing
    white space it escapes reach 78 (RFC 2045 allows 76): those get one more soft break,
    never inside an "=XX" escape."""
    lines = encoded.split(b"\n")
    if max(map(len, lines)) <= width:
        return encoded
    out = []
    for line in lines:
        while len(line) > width:
            cut = width - 1  # room for the "=" of the soft break
            escape = line.rfind(b"=", cut - 2, cut)
            cut = escape if escape >= 0 else cut
            out.append(line[:cut] + b"=")
            line = line[cut:]
        out.append(line)
    return b"\n".join(out)


# Marks a per-recipient value (a click or pixel URL) in a body given to MessageSkeleton: the
# encoder puts a soft line break on each side of it, so the text around it is encoded once
# per skeleton, not once per recipient. The marks never reach the message.
SLOT = "\x00"


def _soft(piece: str) -> bytes:
    """A piece of a line, quoted-printable, ending in a soft line break ("=" CRLF)."""
    encoded = binascii.b2a_qp(piece.encode(), quotetabs=False, istext=True)
    if len(encoded) == len(piece) < QP_LINE:  # nothing to escape (a click URL): as it is
        return encoded + b"=\r\n"
    # The last line gets the "=" of the soft break: it may hold 75 characters, not 76.
    head, newline, last = encoded.rpartition(b"\n")
    encoded = _fit(head) + newline + _fit(last, QP_LINE - 1)
    return encoded.replace(b"\n", b"\r\n") + b"=\r\n"


class _LineEncoder:
    """Quoted-printable that remembers what every recipient shares.

    Quoted-printable encodes each line on its own, so a text is the CRLF-joined encoding of
    its lines. The text is cut at its SLOT marks into blocks, with a soft line break after
    each block but the last (a line starts afresh there, and decoding joins it back):
    - a block seen before (the newsletter between two tracked links) is remembered whole;
    - a block that differs per recipient (it holds a first name) is encoded line by line,
      and its lines shared by everyone are remembered;
    - a recipient's own value (the URL between two marks) is encoded each time.
    A block is remembered the second time it is seen, so blocks seen once (those with a
    name) do not push the others out. The memory is bounded: when full it starts over.
    """

    def __init__(self, limit: int = 4096) -> None:
        self.limit = limit
        self._lines: dict[str, bytes] = {}
        self._blocks: dict[tuple[str, bool], bytes] = {}
        self._seen: set[int] = set()

    def __call__(self, text: str) -> bytes:
        if max(len(self._lines), len(self._blocks), len(self._seen)) > self.limit:
            self._lines.clear()
            self._blocks.clear()
            self._seen.clear()
        if "\r" in text:
            text = text.replace("\r\n", "\n").replace("\r", "\n")
        blocks = self._blocks
        pieces = text.split(SLOT)
        last = len(pieces) - 1
        out = []
        for i, piece in enumerate(pieces):
            if i % 2 and i != last:
                out.append(_soft(piece))
                continue
            key = (piece, i != last)
            encoded = blocks.get(key)
            if encoded is None:
                encoded = self._block(piece, soft=i != last)
                if hash(key) in self._seen:
                    blocks[key] = encoded
                else:
                    self._seen.add(hash(key))
            out.append(encoded)
        # The last line has no line end of its own (empty when the text ends with one).
        return b"".join(out)[:-2]

    def _block(self, block: str, *, soft: bool) -> bytes:
        lines = self._lines
        *whole, end = block.split("\n")
        out = []
        for line in whole:
            encoded = lines.get(line)
            if encoded is None:
                # Encoded with its line end, exactly as within the whole text.
                encoded = lines[line] = _qp(line + "\n")
            out.append(encoded)
        out.append(_soft(end) if soft else _qp(end + "\n"))
        return b"".join(out)


class MessageSkeleton:
    """The constant part of a message, encoded once; render() fills in one recipient."""

    def __init__(
        self,
        from_name: str | None,
        from_email: str,
        *,
        reply_to: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        constant = {"From": format_address(from_name, from_email)}
        if reply_to:
            constant["Reply-To"] = reply_to
        constant.update(headers or {})
        # "=_" can never occur in quoted-printable text, so the boundary never does either.
        self.boundary = f"=_mailapp_{secrets.token_hex(12)}"
        self._constant = "".join(header_line(k, v) for k, v in constant.items()).encode()
        self._mime = (
            "MIME-Version: 1.0\r\n"
            f'Content-Type: multipart/alternative; boundary="{self.boundary}"\r\n\r\n'
        ).encode()
        part = "Content-Type: text/{}; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable"
        self._text_head = f"--{self.boundary}\r\n{part.format('plain')}\r\n\r\n".encode()
        self._html_head = f"\r\n--{self.boundary}\r\n{part.format('html')}\r\n\r\n".encode()
        self._end = f"\r\n--{self.boundary}--\r\n".encode()
        self._qp = _LineEncoder()

    @classmethod
    def for_sender(
        cls, sender: object, headers: Mapping[str, str] | None = None
    ) -> MessageSkeleton:
        """A skeleton with the sender's From and Reply-To, plus constant headers (List-Id ...)."""
        return cls(
            getattr(sender, "from_name", None),
            sender.from_email,  # type: ignore[attr-defined]
            reply_to=getattr(sender, "reply_to", None),
            headers=headers,
        )

    def render(self, headers: Mapping[str, str], html: str, text: str) -> bytes:
        """The whole message: these headers (To, Subject, Message-ID ...) and both parts."""
        own = "".join(header_line(k, v) for k, v in headers.items())
        if "Date" not in headers:
            own += f"Date: {formatdate(usegmt=True)}\r\n"
        return b"".join(
            (
                self._constant,
                own.encode(),
                self._mime,
                self._text_head,
                self._qp(text),
                self._html_head,
                self._qp(html),
                self._end,
            )
        )
