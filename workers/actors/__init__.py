"""Every actor module; `dramatiq workers.actors` imports them all through here."""

from workers import broker  # noqa: F401 - the broker must exist before any actor
from workers.actors import (
    audience,
    maintenance,
    sending,  # noqa: F401
)

__all__ = ["audience", "maintenance"]
