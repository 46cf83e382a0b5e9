"""The public face of identity: accounts, sign-in, sessions, roles.

Writes leave an event in the outbox (the audit context records them); services never commit.
"""

from __future__ import annotations

import gzip
import hashlib
import re
import secrets
from collections.abc import Sequence
from datetime import timedelta
from functools import cache
from pathlib import Path

import structlog
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from limits import parse
from limits.aio.storage import Storage
from limits.aio.strategies import MovingWindowRateLimiter

from certplatform.identity import repository as repo
from certplatform.identity.contracts import IssuedSession, UserOut
from certplatform.identity.models import AuthSession
from certplatform.identity.principals import revoke_after_commit
from certplatform.kernel.auth import ROLE_TERMS, ROLES, Principal, Role
from certplatform.kernel.db import UnitOfWork, utcnow
from certplatform.kernel.errors import (
    N_,
    Conflict,
    Invalid,
    NotAuthenticated,
    NotFound,
    Terms,
    TooManyRequests,
)
from certplatform.kernel.events import record_event
from certplatform.kernel.mail import Mail, Mailer, send_after_commit
from certplatform.kernel.ratelimit import as_storage
from certplatform.kernel.zones import known_zone

EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
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
        raise Invalid(N_("%(email)s is not an email address."), email=email)
    return email


class WeakPassword(Invalid):
    """A password the policy refuses; `code` tells a client which rule, the message a person."""

    def __init__(self, message: str, code: str) -> None:
        super().__init__(message)
        self.code = code


# NIST SP 800-63B 5.1.1.2: a length floor, a generous ceiling, no composition rules, and a
# check against known-breached passwords and words from the context (here: the email).
MIN_PASSWORD = 10
MAX_PASSWORD = 128
COMMON_PASSWORDS = Path(__file__).parent / "data" / "common-passwords.txt.gz"
SERVICE_WORDS = frozenset({"certplatform", "certplatformpassword"})


@cache
def _common_passwords() -> frozenset[str]:
    with gzip.open(COMMON_PASSWORDS, "rt", encoding="utf-8") as handle:
        return frozenset(line.strip() for line in handle if line.strip())


def _bare(text: str) -> str:
    return "".join(ch for ch in text.casefold() if ch.isalnum())


def check_password(password: str, email: str) -> None:
    """Refuse a password the policy does not allow, with a message that says what to change."""
    if len(password) < MIN_PASSWORD:
        raise WeakPassword("The password needs at least 10 characters.", code="password_too_short")
    if len(password) > MAX_PASSWORD:
        raise WeakPassword(
            "The password is too long (128 characters at most).", code="password_too_long"
        )
    if password.casefold().strip() in _common_passwords() or _bare(password) in SERVICE_WORDS:
        raise WeakPassword(
            "This password is too common; choose one that is harder to guess, "
            "such as a few unrelated words.",
            code="password_too_common",
        )
    # The email, or its name part padded out to the minimum length, is the first guess of
    # anyone who knows the address: what is left without it must still reach the minimum.
    folded = password.casefold()
    for word in {email.casefold(), email.split("@")[0].casefold()}:
        if len(word) >= 3 and word in folded and len(folded.replace(word, "", 1)) < MIN_PASSWORD:
            raise WeakPassword(
                "The password must not be your email address or built from it.",
                code="password_like_email",
            )


def _check_role(role: str) -> Role:
    if role not in ROLES:
        raise Invalid(
            N_("Unknown role %(role)s; choose one of %(roles)s."),
            role=role,
            roles=Terms(ROLE_TERMS[r] for r in ROLES),
        )
    return role


class LoginLimiter:
    """Moving-window limits on sign-in and sign-up (ADR 0011).

    Sign-in failures count per (account, client IP): the strict limit, so a guesser is
    throttled while the owner, from another address, still signs in. Attempts per IP stop
    one address spraying many accounts. Failures per account from all addresses together
    have a high limit that only a guesser with many addresses reaches. Sign-ups count per IP.
    """

    def __init__(
        self,
        per_account: str,
        per_ip: str,
        storage_url: Storage | str = "async+memory://",
        *,
        per_account_ip: str = "5/minute",
        signup_per_ip: str = "10/hour",
    ) -> None:
        self._limiter = MovingWindowRateLimiter(as_storage(storage_url))
        self._account = parse(per_account)
        self._account_ip = parse(per_account_ip)
        self._ip = parse(per_ip)
        self._signup_ip = parse(signup_per_ip)

    async def check(self, email: str, ip: str) -> None:
        if not await self._limiter.hit(self._ip, "login-ip", ip):
            raise TooManyRequests(
                "Too many sign-in attempts from your network; wait a minute and try again.",
                retry_after=await self._retry_after(self._ip, "login-ip", ip),
            )
        if not await self._limiter.test(self._account_ip, "login-account-ip", email, ip):
            raise TooManyRequests(
                "Too many failed sign-ins for this account; wait a minute and try again.",
                retry_after=await self._retry_after(
                    self._account_ip, "login-account-ip", email, ip
                ),
            )
        if not await self._limiter.test(self._account, "login-account", email):
            raise TooManyRequests(
                "This account has too many failed sign-ins from many places; try again later.",
                retry_after=await self._retry_after(self._account, "login-account", email),
            )

    async def failed(self, email: str, ip: str) -> None:
        await self._limiter.hit(self._account_ip, "login-account-ip", email, ip)
        await self._limiter.hit(self._account, "login-account", email)

    async def signed_in(self, email: str, ip: str) -> None:
        """The owner got in from this address: its earlier typos no longer count."""
        await self._limiter.clear(self._account_ip, "login-account-ip", email, ip)

    async def check_signup(self, ip: str) -> None:
        if not await self._limiter.hit(self._signup_ip, "signup-ip", ip):
            raise TooManyRequests(
                "Too many sign-ups from your network; wait a while and try again.",
                retry_after=await self._retry_after(self._signup_ip, "signup-ip", ip),
            )

    async def reset(self) -> None:
        await self._limiter.storage.reset()

    async def _retry_after(self, item: object, *keys: str) -> int:
        stats = await self._limiter.get_window_stats(item, *keys)  # type: ignore[arg-type]
        return max(1, int(stats.reset_time - utcnow().timestamp()) + 1)


async def create_user(
    uow: UnitOfWork, email: str, password: str, *, role: str = "learner", display_name: str = ""
) -> UserOut:
    """Create an account (admins, the CLI, the demo); the email is its unique,
    case-insensitive name, and a taken one is a 409 that says so."""
    email = normalise_email(email)
    check_password(password, email)
    checked_role = _check_role(role)
    user = await _insert_user(uow, email, _hasher.hash(password), checked_role, display_name)
    if user is None:
        raise Conflict(N_("An account for %(email)s already exists."), email=email)
    return user


async def sign_up(
    uow: UnitOfWork,
    limiter: LoginLimiter,
    email: str,
    password: str,
    *,
    ip: str,
    display_name: str = "",
    mailer: Mailer | None = None,
) -> None:
    """Self-service sign-up. The reply is the same whether or not the address is taken
    (no account enumeration); the owner of the address learns which by email (through
    `mailer`, the app's MAIL_BACKEND; without one the mail is only logged)."""
    await limiter.check_signup(ip)
    email = normalise_email(email)
    check_password(password, email)
    # Hash in both cases, so that the reply time does not tell a taken address either.
    password_hash = _hasher.hash(password)
    user = await _insert_user(uow, email, password_hash, "learner", display_name, ip=ip)
    if user is None:
        mail = (
            "Someone tried to create an account with this address. You already have one: "
            "sign in, or change your password if this was not you."
        )
        _mail_after_commit(uow, email, "signup.address_taken", mail, mailer)
    else:
        mail = "Welcome to cert-platform. Your account is ready: sign in with your password."
        _mail_after_commit(uow, email, "signup.welcome", mail, mailer)


SIGN_UP_SUBJECTS = {
    "signup.address_taken": "You already have an account · 이미 계정이 있습니다",
    "signup.welcome": "Welcome to cert-platform · 가입을 환영합니다",
}


def _mail_after_commit(
    uow: UnitOfWork, to: str, template: str, body: str, mailer: Mailer | None = None
) -> None:
    if mailer is not None:
        send_after_commit(uow, mailer, Mail(to, SIGN_UP_SUBJECTS[template], body))
        return

    async def send() -> None:
        # No mail backend exists yet: the message is logged where an operator sees it.
        # A logger per mail: a cached module logger would keep whatever configuration was
        # current at its first use (structlog's cache_logger_on_first_use).
        structlog.get_logger(__name__).warning(
            "identity.mail.not_sent", to=to, template=template, body=body
        )

    uow.after_commit(send)


async def _insert_user(
    uow: UnitOfWork,
    email: str,
    password_hash: str,
    role: Role,
    display_name: str,
    *,
    ip: str | None = None,
) -> UserOut | None:
    """Insert the account unless the address is taken (None then): one statement, so two
    sign-ups racing for one address cannot both win nor fail the transaction."""
    user_id = await repo.insert_user_unless_taken(
        uow.session,
        email=email,
        password_hash=password_hash,
        role=role,
        display_name=(display_name.strip() or email.split("@")[0])[:100],
    )
    if user_id is None:
        return None
    user = await repo.user_by_id(uow.session, user_id)
    assert user is not None  # inserted by this transaction a moment ago
    payload: dict[str, object] = {"user_id": user.id, "email": email, "role": role}
    if ip is not None:
        payload["ip"] = ip
    record_event(uow.session, "certplatform.identity.user.created.v1", payload)
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
        await limiter.failed(email, ip)
        record_event(
            uow.session, "certplatform.identity.login.failed.v1", {"email": email, "ip": ip}
        )
        raise NotAuthenticated("Wrong email or password.")
    if not user.is_active:
        raise NotAuthenticated("This account is disabled.")
    await limiter.signed_in(email, ip)
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
        time_zone=user.time_zone,
        expires_at=auth_session.expires_at,
    )


async def sign_out(uow: UnitOfWork, principal: Principal) -> None:
    await repo.delete_session(uow.session, principal.session_id)
    await revoke_after_commit(uow, principal.user_id)
    record_event(uow.session, "certplatform.identity.logout.v1", {"user_id": principal.user_id})


async def set_time_zone(uow: UnitOfWork, principal: Principal, name: str | None) -> None:
    """Show times in this zone (an IANA name such as Asia/Seoul); None follows the browser."""
    if name is not None and known_zone(name) is None:
        raise Invalid("Choose a time zone from the list.")
    await repo.set_time_zone(uow.session, principal.user_id, name)
    await revoke_after_commit(uow, principal.user_id)  # remembered sessions carry the zone


async def change_password(uow: UnitOfWork, principal: Principal, current: str, new: str) -> None:
    """Replace the password and end every other session and bearer token of the account;
    the session that made the change stays signed in."""
    user = await repo.user_by_id(uow.session, principal.user_id)
    if user is None or not _verify(user.password_hash, current):
        raise Invalid("The current password is wrong.")
    check_password(new, user.email)
    await set_password_and_end_sessions(uow, user.id, new, keep=principal.session_id)


def verify_password(stored: str, password: str) -> bool:
    return _verify(stored, password)


async def set_password_and_end_sessions(
    uow: UnitOfWork, user_id: str, new: str, *, keep: str | None
) -> None:
    """Store a new (already checked) password, end the account's sessions but `keep`, and
    spend every open reset link of the account: a link mailed before the change must not
    undo it (ADR 25)."""
    user = await repo.user_by_id(uow.session, user_id)
    assert user is not None  # the callers found it in this transaction
    user.password_hash = _hasher.hash(new)
    ended = await repo.delete_sessions_of(uow.session, user.id, keep=keep)
    await repo.spend_tokens_of(uow.session, user.id, "reset", utcnow())
    await revoke_after_commit(uow, user.id)
    record_event(
        uow.session,
        "certplatform.identity.password.changed.v1",
        {"user_id": user.id, "sessions_ended": ended},
    )


async def get_user(uow: UnitOfWork, user_id: str) -> UserOut:
    user = await repo.user_by_id(uow.session, user_id)
    if user is None:
        raise NotFound("No such user.")
    return UserOut.model_validate(user)


async def display_names(uow: UnitOfWork, user_ids: Sequence[str]) -> dict[str, str]:
    """Public names of many accounts in one query (threads, queues); emails stay private.
    An account without a display name is shown by the start of its id."""
    ids = list(dict.fromkeys(user_ids))
    found = await repo.display_names(uow.session, ids) if ids else {}
    return {uid: name or f"#{uid[:6]}" for uid, name in found.items()}


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
    await revoke_after_commit(uow, user.id)
    record_event(
        uow.session,
        "certplatform.identity.role.changed.v1",
        {"user_id": user.id, "by": actor.user_id, "from": old, "to": new_role},
    )
    return UserOut.model_validate(user)
