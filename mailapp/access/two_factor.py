"""Two-factor sign-in: TOTP (RFC 6238, any authenticator app) and one-time recovery codes.

The TOTP secret is encrypted at rest (EncryptedText, the app's ENCRYPTION_KEY); recovery codes
are stored as SHA-256 hashes (60 random bits each, like API keys: a slow hash adds nothing)
and each works once. A code's time step is remembered so the same code cannot sign in twice.
Wrong codes go through the same backoff as wrong passwords.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

import pyotp
import segno
import sqlalchemy as sa

from mailapp.access import throttle
from mailapp.access.audit import Actor, record_audit
from mailapp.access.login import LoginResult, record_failed_attempt
from mailapp.access.sessions import end_user_sessions, set_session_method, two_factor_required
from mailapp.access.users import verify_password
from mailapp.errors import ServiceError
from mailapp.extensions import db
from mailapp.models import RecoveryCode, User
from mailapp.models.base import utcnow

ISSUER = "mailapp"
RECOVERY_CODES = 10
_CODE_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # no 0/o, 1/l/i to misread
_CODE_LENGTH = 12


def new_secret() -> str:
    """A fresh random TOTP secret (base32, 160 bits)."""
    return pyotp.random_base32(32)


def provisioning_uri(email: str, secret: str) -> str:
    """The otpauth:// URI an authenticator app reads from the QR code."""
    return pyotp.TOTP(secret).provisioning_uri(name=email, issuer_name=ISSUER)


def qr_svg(uri: str) -> str:
    """The URI as an inline SVG QR code, drawn here (no image service, no CDN)."""
    return segno.make(uri, error="m").svg_inline(scale=5, dark="#111", light="#fff")


def _step_matching(secret: str, code: str, last_step: int | None) -> int | None:
    """The time step (now, or one step either side for clock drift) the code is for."""
    code = "".join(code.split())
    if not (code.isdigit() and len(code) == 6):
        return None
    totp = pyotp.TOTP(secret)
    current = totp.timecode(utcnow())
    for step in (current - 1, current, current + 1):
        if hmac.compare_digest(totp.generate_otp(step), code):
            return step if last_step is None or step > last_step else None
    return None


def _new_recovery_codes(user: User) -> list[str]:
    db.session.execute(sa.delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    codes = []
    for _ in range(RECOVERY_CODES):
        raw = "".join(secrets.choice(_CODE_ALPHABET) for _ in range(_CODE_LENGTH))
        codes.append(f"{raw[:4]}-{raw[4:8]}-{raw[8:]}")
        db.session.add(RecoveryCode(user_id=user.id, code_hash=_code_hash(raw)))
    return codes


def _code_hash(code: str) -> str:
    normalized = "".join(ch for ch in code.lower() if ch.isalnum())
    return hashlib.sha256(normalized.encode()).hexdigest()


def enable_two_factor(
    user: User, secret: str, code: str, *, actor: Actor, session_token: str | None = None
) -> list[str]:
    """Turn two-factor on once the person typed a code from their app; returns the recovery
    codes (shown once). Other sessions end; this one counts as signed in with two factors."""
    if user.two_factor_enabled:
        raise ServiceError("code: two-factor sign-in is already on")
    step = _step_matching(secret, code, None)
    if step is None:
        raise ServiceError(
            "code: that code does not match; type the current code shown by your app"
            " (and check that your phone's clock is right)"
        )
    user.totp_secret = secret
    user.totp_enabled_at = utcnow()
    user.totp_last_step = step
    codes = _new_recovery_codes(user)
    ended = end_user_sessions(user.id, "two-factor turned on", keep_token=session_token)
    if session_token:
        set_session_method(session_token, "password+totp")
    record_audit(
        actor,
        "user.two_factor_enable",
        project_id=None,
        obj=user,
        context={"recovery_codes": len(codes), "sessions_ended": ended},
    )
    db.session.commit()
    return codes


def verify_second_factor(
    user: User, code: str, *, ip: str | None, device: str | None = None, now: float | None = None
) -> LoginResult:
    """Check a TOTP code or a recovery code of a user who passed the password step."""
    found = throttle.counters("code", user.email, ip, device=device)
    wait = throttle.wait_seconds(found, now=now)
    if wait:
        return LoginResult(None, wait)
    step = _step_matching(user.totp_secret or "", code, user.totp_last_step)
    if step is not None:
        user.totp_last_step = step
        db.session.commit()
        throttle.clear(c.key for c in found if c.rule is not throttle.ADDRESS)
        return LoginResult(user, method="password+totp")
    if _use_recovery_code(user, code, ip=ip):
        throttle.clear(c.key for c in found if c.rule is not throttle.ADDRESS)
        return LoginResult(user, method="password+recovery")
    return record_failed_attempt(found, user.email, user, ip=ip, step="code", now=now)


def _use_recovery_code(user: User, code: str, *, ip: str | None) -> bool:
    # One UPDATE decides: two requests racing with the same code cannot both succeed.
    used = db.session.execute(
        sa.update(RecoveryCode)
        .where(
            RecoveryCode.user_id == user.id,
            RecoveryCode.code_hash == _code_hash(code),
            RecoveryCode.used_at.is_(None),
        )
        .values(used_at=utcnow())
        .execution_options(synchronize_session=False)
    ).rowcount
    if not used:
        return False
    record_audit(
        Actor(label=user.email, user_id=user.id, ip=ip),
        "user.recovery_code_used",
        project_id=None,
        obj=user,
        context={"left": recovery_codes_left(user)},
    )
    db.session.commit()
    return True


def recovery_codes_left(user: User) -> int:
    """How many unused recovery codes the person has."""
    return db.session.scalar(
        sa.select(sa.func.count())
        .select_from(RecoveryCode)
        .where(RecoveryCode.user_id == user.id, RecoveryCode.used_at.is_(None))
    )


def regenerate_recovery_codes(user: User, password: str, *, actor: Actor) -> list[str]:
    """New recovery codes (the old ones stop working), after the password is confirmed."""
    if not user.two_factor_enabled:
        raise ServiceError("two-factor sign-in is not turned on")
    if not verify_password(user, password):
        raise ServiceError("password: the password is wrong")
    codes = _new_recovery_codes(user)
    record_audit(actor, "user.recovery_codes_regenerate", project_id=None, obj=user)
    db.session.commit()
    return codes


def disable_two_factor(user: User, password: str, *, actor: Actor) -> None:
    """Turn two-factor off after the password is confirmed, unless a project requires it."""
    if not user.two_factor_enabled:
        return
    if two_factor_required(user.id):
        raise ServiceError(
            "a project you work in requires two-factor sign-in: it cannot be turned off"
        )
    if not verify_password(user, password):
        raise ServiceError("password: the password is wrong")
    user.totp_secret = None
    user.totp_enabled_at = None
    user.totp_last_step = None
    db.session.execute(sa.delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    record_audit(actor, "user.two_factor_disable", project_id=None, obj=user)
    db.session.commit()


def reset_two_factor(user: User, *, actor: Actor) -> int:
    """An operator's way back in for someone who lost their phone and recovery codes: the
    second factor is removed and every session ends (they set it up again at sign-in if a
    project requires it). Returns how many sessions ended."""
    if not user.two_factor_enabled:
        raise ServiceError(f"{user.email} has no two-factor sign-in to reset")
    user.totp_secret = None
    user.totp_enabled_at = None
    user.totp_last_step = None
    db.session.execute(sa.delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    ended = end_user_sessions(user.id, "two-factor reset")
    record_audit(
        actor,
        "user.two_factor_reset",
        project_id=None,
        obj=user,
        context={"email": user.email, "sessions_ended": ended},
    )
    db.session.commit()
    return ended
