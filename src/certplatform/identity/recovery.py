"""Account mail (ADR 25): password reset by a mailed link, and an address change confirmed
from the new address.

A link carries a random secret; the table keeps only its HMAC under SECRET_KEY, so neither
a copy of the table nor the key alone yields a working link. A link is spent by the one
UPDATE that checks it is unused and unexpired (used twice at once, it works once), and
every open reset link of an account is spent when its password changes.

A reset request gets the same reply whether or not the address has an account; the limit
per address counts every address asked for, and past it no more mail is sent (the reply
stays the same), so neither the reply nor a 429 tells which addresses exist.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import timedelta

from limits.aio.storage import Storage
from sqlalchemy.exc import IntegrityError

from certplatform.identity import repository as repo
from certplatform.identity import service
from certplatform.identity.principals import revoke_after_commit
from certplatform.kernel.auth import Principal
from certplatform.kernel.db import UnitOfWork, utcnow
from certplatform.kernel.errors import Conflict, Invalid, TooManyRequests
from certplatform.kernel.events import record_event
from certplatform.kernel.mail import Mail, Mailer, send_after_commit
from certplatform.kernel.ratelimit import RateLimit
from certplatform.kernel.settings import Settings

RESET = "reset"
EMAIL = "email"
LINK_SPENT = "This link has expired or was used already; ask for a new one."
ADDRESS_TAKEN = "That address now belongs to another account; the change was not made."
SAME_ADDRESS = "That is already your address."
TOO_MANY_RESETS = "Too many password-reset requests from your network; wait a while and try again."
TOKEN_BYTES = 32
MAX_TOKEN = 128  # longer than any secret this module makes (43 characters)


class RecoveryLimits:
    """Reset requests per client IP (a 429), and mails per account (silently capped)."""

    def __init__(self, settings: Settings, storage: Storage | str) -> None:
        self.per_ip = RateLimit(settings.recovery_limit_ip, "recovery-ip", storage)
        self.per_account = RateLimit(settings.recovery_limit_account, "recovery-account", storage)

    async def account_may_mail(self, key: str) -> bool:
        try:
            await self.per_account.hit(key, "")
        except TooManyRequests:  # the cap is reached; the reply stays the same
            return False
        return True

    async def reset(self) -> None:
        await self.per_ip.reset()
        await self.per_account.reset()


def _hash(secret_key: str, purpose: str, token: str) -> str:
    return hmac.new(secret_key.encode(), f"{purpose}:{token}".encode(), hashlib.sha256).hexdigest()


async def _issue(
    uow: UnitOfWork,
    settings: Settings,
    *,
    user_id: str,
    purpose: str,
    lifetime: timedelta,
    new_email: str | None = None,
) -> str:
    token = secrets.token_urlsafe(TOKEN_BYTES)
    await repo.add_token(
        uow.session,
        token_hash=_hash(settings.secret_key, purpose, token),
        user_id=user_id,
        purpose=purpose,
        expires_at=utcnow() + lifetime,
        new_email=new_email,
    )
    return token


async def request_password_reset(
    uow: UnitOfWork,
    settings: Settings,
    limits: RecoveryLimits,
    mailer: Mailer,
    email: str,
    *,
    ip: str,
    site: str,
) -> None:
    """Mail a reset link if the address has an account; the caller says the same either way.
    `site` is the address links start with (PUBLIC_URL, or the request's own)."""
    await limits.per_ip.hit(ip, TOO_MANY_RESETS)
    email = service.normalise_email(email)
    user = await repo.user_by_email(uow.session, email)
    if not await limits.account_may_mail(email) or user is None or not user.is_active:
        return
    token = await _issue(
        uow,
        settings,
        user_id=user.id,
        purpose=RESET,
        lifetime=timedelta(minutes=settings.password_reset_minutes),
    )
    link = f"{site.rstrip('/')}/password/reset/{token}"
    body = (
        "Someone, probably you, asked to reset the password of your cert-platform account.\n\n"
        f"Choose a new password here (the link works once, for {settings.password_reset_minutes}"
        f" minutes):\n{link}\n\n"
        "If it was not you, ignore this mail: your password stays as it is.\n\n"
        "cert-platform 비밀번호 재설정 요청이 있었습니다. 위 링크에서 새 비밀번호를 정하세요. "
        "요청하지 않았다면 이 메일을 무시하세요.\n"
    )
    send_after_commit(uow, mailer, Mail(email, "Reset your password · 비밀번호 재설정", body))
    record_event(
        uow.session,
        "certplatform.identity.password_reset.requested.v1",
        {"user_id": user.id, "ip": ip},
    )


async def reset_link_is_live(uow: UnitOfWork, settings: Settings, token: str) -> bool:
    if not token or len(token) > MAX_TOKEN:
        return False
    found = await repo.live_token(
        uow.session, _hash(settings.secret_key, RESET, token), RESET, utcnow()
    )
    return found is not None


async def reset_password(
    uow: UnitOfWork, settings: Settings, mailer: Mailer, token: str, new_password: str
) -> str:
    """Set a new password from a reset link, spend the link (and any other reset link of the
    account), end every session of the account. Returns the account's address."""
    if not token or len(token) > MAX_TOKEN:
        raise Invalid(LINK_SPENT)
    digest = _hash(settings.secret_key, RESET, token)
    live = await repo.live_token(uow.session, digest, RESET, utcnow())
    if live is None:
        raise Invalid(LINK_SPENT)
    user = await repo.user_by_id(uow.session, live.user_id)
    if user is None:
        raise Invalid(LINK_SPENT)
    service.check_password(new_password, user.email)  # a weak one spends nothing
    # The check above only reads: this write decides, so a second use at once finds it spent.
    if await repo.spend_token(uow.session, digest, RESET, utcnow()) is None:
        raise Invalid(LINK_SPENT)
    await service.set_password_and_end_sessions(uow, user.id, new_password, keep=None)
    body = (
        "The password of your cert-platform account was reset, and every session signed out. "
        "If it was not you, reset it again now and tell us.\n\n"
        "cert-platform 계정의 비밀번호가 재설정되어 모든 세션이 로그아웃되었습니다.\n"
    )
    send_after_commit(uow, mailer, Mail(user.email, "Password changed · 비밀번호 변경됨", body))
    record_event(uow.session, "certplatform.identity.password_reset.done.v1", {"user_id": user.id})
    return user.email


async def request_email_change(
    uow: UnitOfWork,
    settings: Settings,
    limits: RecoveryLimits,
    mailer: Mailer,
    principal: Principal,
    new_email: str,
    current_password: str,
    *,
    site: str,
) -> None:
    """Mail a confirmation link to the new address and a notice to the current one. A
    taken address gets a notice instead of a link, and the reply is the same, so the form
    cannot be used to learn which addresses have accounts."""
    user = await repo.user_by_id(uow.session, principal.user_id)
    if user is None or not service.verify_password(user.password_hash, current_password):
        raise Invalid("The current password is wrong.")
    new_email = service.normalise_email(new_email)
    if new_email == user.email:
        raise Invalid(SAME_ADDRESS)
    if not await limits.account_may_mail(f"change:{user.id}"):
        return
    if await repo.user_by_email(uow.session, new_email) is not None:
        body = (
            "Someone asked to move another cert-platform account to this address, which "
            "already has an account; nothing was changed.\n\n"
            "이미 계정이 있는 이 주소로 다른 계정의 주소 변경이 요청되었습니다. "
            "변경되지 않았습니다.\n"
        )
        send_after_commit(uow, mailer, Mail(new_email, "Address in use · 사용 중인 주소", body))
        return
    token = await _issue(
        uow,
        settings,
        user_id=user.id,
        purpose=EMAIL,
        lifetime=timedelta(hours=settings.email_change_hours),
        new_email=new_email,
    )
    link = f"{site.rstrip('/')}/email/confirm/{token}"
    confirm = (
        "Confirm that this address should become the address of your cert-platform account "
        f"(the link works once, for {settings.email_change_hours} hours):\n{link}\n\n"
        "If you did not ask for this, ignore this mail.\n\n"
        "위 링크에서 이 주소를 cert-platform 계정 주소로 확인하세요.\n"
    )
    send_after_commit(
        uow, mailer, Mail(new_email, "Confirm your new address · 새 주소 확인", confirm)
    )
    notice = (
        f"Someone signed in to your cert-platform account asked to change its address to "
        f"{new_email}. It changes only when that address confirms. If it was not you, change "
        "your password now.\n\n"
        f"계정 주소를 {new_email}(으)로 바꾸는 요청이 있었습니다. "
        "본인이 아니면 비밀번호를 바꾸세요.\n"
    )
    send_after_commit(
        uow, mailer, Mail(user.email, "Address change requested · 주소 변경 요청", notice)
    )
    record_event(
        uow.session, "certplatform.identity.email_change.requested.v1", {"user_id": user.id}
    )


async def confirm_email_change(
    uow: UnitOfWork, settings: Settings, mailer: Mailer, token: str
) -> str:
    """Spend the link and give the account its new address; returns the new address."""
    if not token or len(token) > MAX_TOKEN:
        raise Invalid(LINK_SPENT)
    spent = await repo.spend_token(
        uow.session, _hash(settings.secret_key, EMAIL, token), EMAIL, utcnow()
    )
    if spent is None or spent[1] is None:
        raise Invalid(LINK_SPENT)
    user_id, new_email = spent[0], spent[1]
    user = await repo.user_by_id(uow.session, user_id)
    if user is None:
        raise Invalid(LINK_SPENT)
    old_email = user.email
    try:
        # A savepoint: a sign-up taking the address at this moment fails only this step.
        async with uow.session.begin_nested():
            changed = await repo.set_email_unless_taken(uow.session, user_id, new_email)
    except IntegrityError:
        changed = False
    if not changed:
        raise Conflict(ADDRESS_TAKEN)
    await repo.spend_tokens_of(uow.session, user_id, EMAIL, utcnow())
    await repo.spend_tokens_of(uow.session, user_id, RESET, utcnow())  # mailed to the old one
    await revoke_after_commit(uow, user_id)  # remembered sessions carry the address
    notice = (
        f"The address of your cert-platform account is now {new_email}. If it was not you, "
        "contact us.\n\n"
        f"계정 주소가 {new_email}(으)로 바뀌었습니다.\n"
    )
    send_after_commit(uow, mailer, Mail(old_email, "Address changed · 주소 변경됨", notice))
    record_event(
        uow.session,
        "certplatform.identity.email_change.done.v1",
        {"user_id": user_id, "from": old_email, "to": new_email},
    )
    return new_email
