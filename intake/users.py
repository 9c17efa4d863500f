"""Workbench accounts: argon2id password hashes, add / list / disable / change password, sign-in checks."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from intake.clock import utcnow
from intake.db import SignInAttempt, User, WebSession

MIN_PASSWORD_LENGTH = 12
_hasher = PasswordHasher()  # argon2id with argon2-cffi's RFC 9106 low-memory profile
# Compared against when the user is unknown, so that the answer takes as long as for a real user.
_DUMMY_HASH = _hasher.hash("no such user: constant-time sign-in")


class UserError(Exception):
    """A user command that cannot be done; the message says why in one line."""


def password_problem(username: str, password: str) -> str | None:
    """Why `password` is too weak, or None."""
    if len(password) < MIN_PASSWORD_LENGTH:
        return f"password too weak: use at least {MIN_PASSWORD_LENGTH} characters"
    if username.lower() in password.lower() or len(set(password)) < 5:
        return "password too weak: it contains the user name or repeats too few characters"
    return None


def add_user(session: Session, username: str, role: str, password: str) -> User:
    """Create an account; raises UserError if the name is taken or the password too weak."""
    username = username.strip()
    if not username or len(username) > 100 or any(c.isspace() for c in username):
        raise UserError(f"invalid user name {username!r}")
    if session.scalar(select(User.id).where(func.lower(User.username) == username.lower())) is not None:
        raise UserError(f"user {username} exists")
    problem = password_problem(username, password)
    if problem:
        raise UserError(problem)
    user = User(username=username, role=role, password_hash=_hasher.hash(password))
    session.add(user)
    session.flush()
    return user


def find_user(session: Session, username: str) -> User | None:
    return session.scalar(select(User).where(func.lower(User.username) == username.strip().lower()))


def set_password(session: Session, username: str, password: str) -> None:
    """Change a password and sign the user out everywhere; raises UserError."""
    user = _existing(session, username)
    problem = password_problem(user.username, password)
    if problem:
        raise UserError(problem)
    user.password_hash = _hasher.hash(password)
    session.execute(delete(WebSession).where(WebSession.user_id == user.id))


def disable_user(session: Session, username: str) -> None:
    """Disable an account and end its sessions; raises UserError if unknown."""
    user = _existing(session, username)
    user.disabled = True
    session.execute(delete(WebSession).where(WebSession.user_id == user.id))


def _existing(session: Session, username: str) -> User:
    user = find_user(session, username)
    if user is None:
        raise UserError(f"no user {username}")
    return user


def check_password(session: Session, username: str, password: str) -> User | None:
    """The enabled user with this name and password, else None (in about the same time either way)."""
    user = find_user(session, username)
    try:
        _hasher.verify(user.password_hash if user is not None else _DUMMY_HASH, password)
    except (VerificationError, InvalidHashError):
        return None
    if user is None or user.disabled:
        return None
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = _hasher.hash(password)
    return user


@dataclass(frozen=True)
class SignInThrottle:
    """Failed sign-ins slow the next try down; they never lock anyone out (issue 24)."""

    window: timedelta  # failures older than this are forgotten
    free_per_source: int  # failures per user name and source (address, or trusted browser) before waits start
    free_per_name: int  # failures per user name from all untrusted browsers before waits start
    max_delay: timedelta  # the wait doubles from 1 s per further failure up to this

    def delay(self, failures: int, free: int) -> timedelta:
        beyond = failures - free
        if beyond <= 0:
            return timedelta(0)
        return min(timedelta(seconds=2 ** min(beyond - 1, 30)), self.max_delay)


TRUSTED_SOURCE = "device:"  # a failure's source when the browser had signed in as that user before


def sign_in_wait(session: Session, username: str, source: str, throttle: SignInThrottle,
                 now: datetime | None = None) -> timedelta:
    """How long a sign-in as `username` from `source` must still wait before its password is checked.

    Failures count per (name, source); those from untrusted sources also count per name, so that
    guesses spread over many addresses stay slow. A trusted browser's source is its own, so nobody
    else's failures delay it."""
    now = now or utcnow()
    name = username.strip().lower()
    recent = (SignInAttempt.username == name, SignInAttempt.at > now - throttle.window)
    waits = [timedelta(0)]
    scopes = [(SignInAttempt.address == source, throttle.free_per_source)]
    if not source.startswith(TRUSTED_SOURCE):
        scopes.append((SignInAttempt.address.not_like(TRUSTED_SOURCE + "%"), throttle.free_per_name))
    for scope, free in scopes:
        failures, last = session.execute(select(func.count(SignInAttempt.id), func.max(SignInAttempt.at))
                                         .where(*recent, scope)).one()
        if last is not None:
            waits.append(last + throttle.delay(failures or 0, free) - now)
    return max(waits)


def record_failed_sign_in(session: Session, username: str, source: str) -> None:
    session.add(SignInAttempt(username=username.strip().lower()[:100], address=source[:100]))
