"""The public face of identity: accounts, sign-in, sessions, roles.

Writes leave an event in the outbox (the audit context records them); services never commit.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from datetime import timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from limits import parse
from limits.aio.strategies import MovingWindowRateLimiter
from limits.storage import storage_from_string
from sqlalchemy.exc import IntegrityError

from certplatform.identity import repository as repo
from certplatform.identity.contracts import IssuedSession, UserOut
from certplatform.identity.models import AuthSession, User
from certplatform.kernel.auth import ROLES, Principal, Role
from certplatform.kernel.db import UnitOfWork, utcnow
from certplatform.kernel.errors import (
    Conflict,
    Invalid,
    NotAuthenticated,
    NotFound,
    TooManyRequests,
)
from certplatform.kernel.events import record_event

EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
MIN_PASSWORD = 8
_hasher = PasswordHasher()
# A hash to verify against when the account does not exist, so timing does not tell.
_DUMMY_HASH = _hasher.hash("not-a-real-password")


def use_fast_hashing() -> None:
    """Cheap argon2 parameters for the test suite only."""
    global _hasher, _DUMMY_HASH
    _hasher = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    _DUMMY_HASH = _hasher.hash("not-a-real-password")


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def normalise_email(email: str) -> str:
    email = email.strip().lower()
    if not EMAIL_RE.match(email) or len(email) > 254:
        raise Invalid(f"'{email}' is not an email address.")
    return email


def _check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise Invalid(f"The password needs at least {MIN_PASSWORD} characters.")
    if len(password) > 1024:
        raise Invalid("The password is too long (1024 characters at most).")


def _check_role(role: str) -> Role:
    if role not in ROLES:
        raise Invalid(f"Unknown role '{role}'; choose one of {', '.join(ROLES)}.")
    return role


class LoginLimiter:
    """Moving-window limits on sign-in: failures per account, attempts per client IP."""

    def __init__(self, per_account: str, per_ip: str, storage_url: str = "async+memory://"):
        self._limiter = MovingWindowRateLimiter(storage_from_string(storage_url))
        self._account = parse(per_account)
        self._ip = parse(per_ip)

    async def check(self, email: str, ip: str) -> None:
        if not await self._limiter.hit(self._ip, "login-ip", ip):
            raise TooManyRequests(
                "Too many sign-in attempts from your network; wait a minute and try again.",
                retry_after=await self._retry_after(self._ip, "login-ip", ip),
            )
        if not await self._limiter.test(self._account, "login-account", email):
            raise TooManyRequests(
                "Too many failed sign-ins for this account; wait a minute and try again.",
                retry_after=await self._retry_after(self._account, "login-account", email),
            )

    async def reset(self) -> None:
        await self._limiter.storage.reset()

    async def failed(self, email: str) -> None:
        await self._limiter.hit(self._account, "login-account", email)

    async def _retry_after(self, item: object, *keys: str) -> int:
        stats = await self._limiter.get_window_stats(item, *keys)  # type: ignore[arg-type]
        return max(1, int(stats.reset_time - utcnow().timestamp()) + 1)


async def create_user(
    uow: UnitOfWork, email: str, password: str, *, role: str = "learner", display_name: str = ""
) -> UserOut:
    """Create an account; the email is its unique, case-insensitive name."""
    email = normalise_email(email)
    _check_password(password)
    checked_role = _check_role(role)
    if await repo.user_by_email(uow.session, email):
        raise Conflict(f"An account for {email} already exists.")
    user = User(
        email=email,
        password_hash=_hasher.hash(password),
        role=checked_role,
        display_name=(display_name.strip() or email.split("@")[0])[:100],
        created_at=utcnow(),
    )
    uow.session.add(user)
    try:
        await uow.session.flush()
    except IntegrityError as exc:
        raise Conflict(f"An account for {email} already exists.") from exc
    record_event(
        uow.session,
        "certplatform.identity.user.created.v1",
        {"user_id": user.id, "email": email, "role": checked_role},
    )
    return UserOut.model_validate(user)


async def sign_in(
    uow: UnitOfWork,
    limiter: LoginLimiter,
    email: str,
    password: str,
    *,
    kind: str,
    ip: str,
    days: int,
) -> IssuedSession:
    """Check the password and open a session (`kind` cookie or bearer)."""
    try:
        email = normalise_email(email)
    except Invalid as exc:
        raise NotAuthenticated("Wrong email or password.") from exc
    await limiter.check(email, ip)
    user = await repo.user_by_email(uow.session, email)
    password_ok = _verify(user.password_hash if user else _DUMMY_HASH, password)
    if user is None or not password_ok:
        await limiter.failed(email)
        record_event(
            uow.session, "certplatform.identity.login.failed.v1", {"email": email, "ip": ip}
        )
        raise NotAuthenticated("Wrong email or password.")
    if not user.is_active:
        raise NotAuthenticated("This account is disabled.")
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = _hasher.hash(password)
    token = secrets.token_urlsafe(32)
    csrf = secrets.token_urlsafe(24) if kind == "cookie" else None
    expires = utcnow() + timedelta(days=days)
    uow.session.add(
        AuthSession(
            token_hash=token_hash(token),
            user_id=user.id,
            kind=kind,
            csrf_token=csrf,
            expires_at=expires,
            created_at=utcnow(),
        )
    )
    record_event(
        uow.session,
        "certplatform.identity.login.succeeded.v1",
        {"user_id": user.id, "email": email, "ip": ip, "kind": kind},
    )
    return IssuedSession(
        token=token, csrf_token=csrf, expires_at=expires, user=UserOut.model_validate(user)
    )


def _verify(stored: str, password: str) -> bool:
    try:
        return _hasher.verify(stored, password)
    except (VerificationError, InvalidHashError):
        return False


async def principal_for_token(uow: UnitOfWork, token: str, via: str) -> Principal | None:
    found = await repo.session_with_user(uow.session, token_hash(token), utcnow())
    if found is None:
        return None
    auth_session, user = found
    if auth_session.kind != via or not user.is_active:
        return None
    return Principal(
        user_id=user.id,
        email=user.email,
        role=_check_role(user.role),
        display_name=user.display_name,
        via="cookie" if via == "cookie" else "bearer",
        session_id=auth_session.id,
        csrf_token=auth_session.csrf_token,
    )


async def sign_out(uow: UnitOfWork, principal: Principal) -> None:
    await repo.delete_session(uow.session, principal.session_id)
    record_event(uow.session, "certplatform.identity.logout.v1", {"user_id": principal.user_id})


async def change_password(uow: UnitOfWork, principal: Principal, current: str, new: str) -> None:
    """Replace the password and end every other session of the account."""
    user = await repo.user_by_id(uow.session, principal.user_id)
    if user is None or not _verify(user.password_hash, current):
        raise Invalid("The current password is wrong.")
    _check_password(new)
    user.password_hash = _hasher.hash(new)
    await repo.delete_sessions_of(uow.session, user.id)
    record_event(uow.session, "certplatform.identity.password.changed.v1", {"user_id": user.id})


async def get_user(uow: UnitOfWork, user_id: str) -> UserOut:
    user = await repo.user_by_id(uow.session, user_id)
    if user is None:
        raise NotFound("No such user.")
    return UserOut.model_validate(user)


async def find_user(uow: UnitOfWork, email: str) -> UserOut | None:
    user = await repo.user_by_email(uow.session, normalise_email(email))
    return UserOut.model_validate(user) if user else None


async def list_users(
    uow: UnitOfWork, *, role: str | None = None, limit: int = 100, offset: int = 0
) -> list[UserOut]:
    rows = await repo.list_users(uow.session, role=role, limit=limit, offset=offset)
    return [UserOut.model_validate(u) for u in rows]


async def set_role(uow: UnitOfWork, actor: Principal, user_id: str, role: str) -> UserOut:
    """Change a user's role (admins only); the change is audited."""
    new_role = _check_role(role)
    user = await repo.user_by_id(uow.session, user_id)
    if user is None:
        raise NotFound("No such user.")
    if user.id == actor.user_id and new_role != "admin":
        raise Conflict("You cannot remove your own admin role.")
    old = user.role
    user.role = new_role
    record_event(
        uow.session,
        "certplatform.identity.role.changed.v1",
        {"user_id": user.id, "by": actor.user_id, "from": old, "to": new_role},
    )
    return UserOut.model_validate(user)
