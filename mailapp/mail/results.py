"""What a transport answers for one message: an outcome, the server's code and words."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

# "unknown": the connection died after the message data went out, so the server may have
# taken it; retrying could deliver twice, so a person decides (resend action).
Outcome = Literal["sent", "deferred", "failed", "unknown"]


@dataclass(frozen=True)
class SendResult:
    outcome: Outcome
    code: int | None
    reply: str
    # The relay could not take the message (unreachable, closing, its own 4xx at MAIL or
    # after the data), so another relay may: the recipient's address is not in question.
    relay_fault: bool = False

    @property
    def enhanced_code(self) -> str | None:
        """The RFC 3463 code at the start of the reply text, e.g. '5.1.1'."""
        head = self.reply.split(" ", 1)[0]
        parts = head.split(".")
        if len(parts) == 3 and all(p.isdigit() for p in parts) and head[0] in "245":
            return head
        return None
