"""Server-side sessions: a random token in an HttpOnly cookie, its SHA-256 in `web_session`.

A new token is issued at every sign-in (no session fixation); a session ends at sign-out, after
`session_idle_minutes` unused, after `session_max_hours`, or when its user is disabled.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from intake.clock import utcnow
from intake.config import WebConfig
from intake.db import User, WebSession

COOKIE = "secor_session"
SIGNIN_COOKIE = "secor_signin"  # double-submit token of the sign-in form (there is no session yet)
TOUCH_EVERY = timedelta(seconds=60)  # last_seen_at is written at most this often per session
DEVICE_COOKIE = "secor_device"  # a browser that signed in as a user before: its own sign-in throttle
DEVICE_DAYS = 90


@dataclass(frozen=True)
class SignedIn:
    """The user behind a request, with the session's CSRF token."""

    user_id: int
    username: str
    role: str
    csrf_token: str
    session_id: str


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def start_session(session: Session, user: User, old_token: str | None) -> str:
    """A new session for `user` (any session the browser had is ended); returns the cookie's token."""
    if old_token:
        session.execute(delete(WebSession).where(WebSession.id == _digest(old_token)))
    token = secrets.token_urlsafe(32)
    session.add(WebSession(id=_digest(token), user_id=user.id, csrf_token=secrets.token_urlsafe(32)))
    return token


def end_session(session: Session, token: str) -> None:
    session.execute(delete(WebSession).where(WebSession.id == _digest(token)))


def lookup(session: Session, token: str | None, config: WebConfig) -> tuple[SignedIn | None, bool]:
    """The signed-in user for a cookie's token, and whether the session should be touched or removed.

    Returns (None, True) for a session that exists but is expired or whose user is disabled.
    """
    if not token:
        return None, False
    row = session.execute(select(WebSession, User).join(User, User.id == WebSession.user_id)
                          .where(WebSession.id == _digest(token))).first()
    if row is None:
        return None, False
    web_session, user = row
    now = utcnow()
    if (user.disabled or now - web_session.last_seen_at > timedelta(minutes=config.session_idle_minutes)
            or now - web_session.created_at > timedelta(hours=config.session_max_hours)):
        return None, True
    return (SignedIn(user.id, user.username, user.role, web_session.csrf_token, web_session.id),
            now - web_session.last_seen_at > TOUCH_EVERY)


def touch_or_expire(session: Session, session_id: str, alive: bool) -> None:
    """Record activity on a live session, or delete an expired one."""
    if alive:
        row = session.get(WebSession, session_id)
        if row is not None:
            row.last_seen_at = utcnow()
    else:
        session.execute(delete(WebSession).where(WebSession.id == session_id))


def session_id_of(token: str) -> str:
    return _digest(token)


def _device_mac(user: User, issued: str, nonce: str) -> str:
    # Keyed by the user's password hash, a secret only the server holds: a password change (or
    # rehash) forgets every trusted browser, and there is no key to configure.
    key = hashlib.sha256(b"secor-device\0" + user.password_hash.encode()).digest()
    return hmac.new(key, f"{user.username.lower()}\0{issued}\0{nonce}".encode(), hashlib.sha256).hexdigest()


def device_token(user: User) -> str:
    """The cookie that marks this browser as one `user` signed in from."""
    issued, nonce = str(int(time.time())), secrets.token_urlsafe(12)
    return f"{issued}.{nonce}.{_device_mac(user, issued, nonce)}"


def trusted_device(user: User | None, token: str | None) -> str | None:
    """The browser's id when `token` is a valid, unexpired device cookie for `user`, else None."""
    if user is None or not token or token.count(".") != 2:
        return None
    issued, nonce, mac = token.split(".")
    if not issued.isdigit() or time.time() - int(issued) > DEVICE_DAYS * 86400:
        return None
    return nonce if hmac.compare_digest(mac.encode(), _device_mac(user, issued, nonce).encode()) else None
