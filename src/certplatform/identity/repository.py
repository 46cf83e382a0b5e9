"""Every query of the identity context."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import bindparam, delete, func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from certplatform.identity.models import AccountToken, AuthSession, User
from certplatform.kernel.db import new_id, utcnow


async def user_by_email(session: AsyncSession, email: str) -> User | None:
    return await session.scalar(select(User).where(User.email == email))


async def user_by_id(session: AsyncSession, user_id: str) -> User | None:
    return await session.get(User, user_id)


async def display_names(session: AsyncSession, user_ids: list[str]) -> dict[str, str]:
    query = select(User.id, User.display_name).where(User.id.in_(user_ids))
    return {row.id: row.display_name for row in await session.execute(query)}


async def set_time_zone(session: AsyncSession, user_id: str, name: str | None) -> None:
    await session.execute(update(User).where(User.id == user_id).values(time_zone=name))


async def list_users(
    session: AsyncSession, *, role: str | None, limit: int, offset: int
) -> list[User]:
    query = select(User).order_by(User.created_at, User.email).limit(limit).offset(offset)
    if role:
        query = query.where(User.role == role)
    return list((await session.scalars(query)).all())


async def count_users(session: AsyncSession) -> int:
    return int(await session.scalar(select(func.count()).select_from(User)) or 0)


# Every authenticated request runs this, so it is built once with bind parameters.
_SESSION_WITH_USER = (
    select(AuthSession, User)
    .join(User, User.id == AuthSession.user_id)
    .where(
        AuthSession.token_hash == bindparam("token_hash"),
        AuthSession.expires_at > bindparam("now"),
    )
)


async def session_with_user(
    session: AsyncSession, token_hash: str, now: datetime
) -> tuple[AuthSession, User] | None:
    params = {"token_hash": token_hash, "now": now}
    row = (await session.execute(_SESSION_WITH_USER, params)).first()
    return (row[0], row[1]) if row else None


async def delete_session(session: AsyncSession, session_id: str) -> None:
    await session.execute(delete(AuthSession).where(AuthSession.id == session_id))


async def delete_sessions_of(session: AsyncSession, user_id: str, *, keep: str | None) -> int:
    """End the user's sessions and tokens except `keep`; returns how many ended."""
    query = delete(AuthSession).where(AuthSession.user_id == user_id)
    if keep is not None:
        query = query.where(AuthSession.id != keep)
    result = await session.execute(query)
    return int(getattr(result, "rowcount", 0) or 0)


async def insert_user_unless_taken(
    session: AsyncSession, *, email: str, password_hash: str, role: str, display_name: str
) -> str | None:
    """Insert an account; None, and no error, when the email is taken already."""
    dialect_insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    statement = (
        dialect_insert(User)
        .values(
            id=new_id(),
            email=email,
            password_hash=password_hash,
            role=role,
            display_name=display_name,
            created_at=utcnow(),
        )
        .on_conflict_do_nothing(index_elements=[User.email])
        .returning(User.id)
    )
    return (await session.execute(statement)).scalar_one_or_none()


async def add_token(
    session: AsyncSession,
    *,
    token_hash: str,
    user_id: str,
    purpose: str,
    expires_at: datetime,
    new_email: str | None = None,
) -> None:
    session.add(
        AccountToken(
            id=new_id(),
            token_hash=token_hash,
            user_id=user_id,
            purpose=purpose,
            new_email=new_email,
            expires_at=expires_at,
            created_at=utcnow(),
        )
    )
    await session.flush()


async def live_token(
    session: AsyncSession, token_hash: str, purpose: str, now: datetime
) -> AccountToken | None:
    """The token if it is unused and unexpired (a read for the page; `spend_token` decides)."""
    return await session.scalar(
        select(AccountToken).where(
            AccountToken.token_hash == token_hash,
            AccountToken.purpose == purpose,
            AccountToken.used_at.is_(None),
            AccountToken.expires_at > now,
        )
    )


async def spend_token(
    session: AsyncSession, token_hash: str, purpose: str, now: datetime
) -> tuple[str, str | None] | None:
    """Mark the token used if it is unused and unexpired, in one statement: of two
    concurrent uses, one updates the row and the other finds it used (PostgreSQL waits for
    the row lock and re-checks; SQLite runs one write at a time). Returns (user id, new
    email) of the spent token, or None."""
    row = (
        await session.execute(
            update(AccountToken)
            .where(
                AccountToken.token_hash == token_hash,
                AccountToken.purpose == purpose,
                AccountToken.used_at.is_(None),
                AccountToken.expires_at > now,
            )
            .values(used_at=now)
            .returning(AccountToken.user_id, AccountToken.new_email)
        )
    ).first()
    return (row[0], row[1]) if row else None


async def spend_tokens_of(session: AsyncSession, user_id: str, purpose: str, now: datetime) -> int:
    """Spend every unused token of the user for `purpose` (a password change ends resets)."""
    result = await session.execute(
        update(AccountToken)
        .where(
            AccountToken.user_id == user_id,
            AccountToken.purpose == purpose,
            AccountToken.used_at.is_(None),
        )
        .values(used_at=now)
    )
    return int(getattr(result, "rowcount", 0) or 0)


async def set_email_unless_taken(session: AsyncSession, user_id: str, email: str) -> bool:
    """Give the account this address unless another account holds it; False then."""
    taken = select(User.id).where(User.email == email).exists()
    result = await session.execute(
        update(User).where(User.id == user_id, ~taken).values(email=email)
    )
    return bool(getattr(result, "rowcount", 0))
