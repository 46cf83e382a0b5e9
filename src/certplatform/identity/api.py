"""Identity REST routes: sign-up, sign-in (cookie or bearer), sign-out, me, users and roles."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import BaseModel, Field

from certplatform.identity import service
from certplatform.identity.contracts import IssuedSession, UserOut
from certplatform.identity.principals import PrincipalCache
from certplatform.kernel.auth import Principal, Role, UoW, require, signed_in
from certplatform.kernel.bounds import INT32_MAX, Id
from certplatform.kernel.db import UnitOfWork
from certplatform.kernel.errors import AppError
from certplatform.kernel.net import client_ip
from certplatform.kernel.settings import Settings

SESSION_COOKIE = "cp_session"
# The one reply to every accepted sign-up, new address or taken: it must not tell them apart.
SIGN_UP_MESSAGE = "Check your email to finish signing up."
router = APIRouter(prefix="/api/v1", tags=["identity"])


class Credentials(BaseModel):
    email: str = Field(max_length=254)
    password: str = Field(max_length=1024)


class SignUp(Credentials):
    display_name: str = Field(default="", max_length=100)


class SignUpOut(BaseModel):
    status: str = "pending"
    message: str = SIGN_UP_MESSAGE


class LoginOut(BaseModel):
    user: UserOut
    csrf_token: str | None
    expires_at: str


class TokenOut(BaseModel):
    access_token: str
    token_type: str = "bearer"  # noqa: S105 - the OAuth token type, not a secret
    expires_at: str
    user: UserOut


class PasswordChange(BaseModel):
    current_password: str = Field(max_length=1024)
    new_password: str = Field(max_length=1024)


class RoleChange(BaseModel):
    role: Role


async def authenticate(request: Request, uow: UnitOfWork) -> Principal | None:
    """Bearer token from the Authorization header, else the session cookie."""
    header = request.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        token, via = header[7:].strip(), "bearer"
    else:
        token, via = request.cookies.get(SESSION_COOKIE, ""), "cookie"
    if not token:
        return None
    return await remembered_principal(request.app.state.principals, uow, token, via)


async def remembered_principal(
    cache: PrincipalCache, uow: UnitOfWork, token: str, via: str
) -> Principal | None:
    """The token's principal from this process's memory, else from the database."""
    principal = cache.get(token, via)
    if principal is None:
        principal = await service.principal_for_token(uow, token, via)
        if principal is not None:
            cache.put(token, via, principal)
    return principal


def set_session_cookie(response: Response, settings: Settings, token: str) -> None:
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=settings.session_days * 86400,
        httponly=True,
        secure=settings.cookie_secure,
        samesite="lax",
        path="/",
    )


async def _sign_in(
    request: Request, uow: UnitOfWork, body: Credentials, kind: str
) -> IssuedSession:
    settings: Settings = request.app.state.settings
    try:
        return await service.sign_in(
            uow,
            request.app.state.login_limiter,
            body.email,
            body.password,
            kind=kind,
            ip=client_ip(request),
            days=settings.session_days,
        )
    except AppError:
        await uow.commit()  # the failed attempt stays on record for the audit log
        raise


@router.post("/accounts", status_code=202, response_model=SignUpOut)
async def sign_up(
    body: SignUp,
    request: Request,
    uow: UoW,
    _: Annotated[object, Depends(require("account", "create"))],
) -> SignUpOut:
    """Ask for an account. The reply is the same for a new and for a taken address; the
    owner of the address is told by email which it was. Then sign in as usual."""
    await service.sign_up(
        uow,
        request.app.state.login_limiter,
        body.email,
        body.password,
        ip=client_ip(request),
        display_name=body.display_name,
        mailer=request.app.state.mailer,
    )
    return SignUpOut()


@router.post("/auth/login", response_model=LoginOut)
async def login(
    body: Credentials,
    request: Request,
    response: Response,
    uow: UoW,
    _: Annotated[object, Depends(require("session", "create"))],
) -> LoginOut:
    settings: Settings = request.app.state.settings
    issued = await _sign_in(request, uow, body, "cookie")
    set_session_cookie(response, settings, issued.token)
    return LoginOut(
        user=issued.user, csrf_token=issued.csrf_token, expires_at=issued.expires_at.isoformat()
    )


@router.post("/auth/token", response_model=TokenOut)
async def token(
    body: Credentials,
    request: Request,
    uow: UoW,
    _: Annotated[object, Depends(require("session", "create"))],
) -> TokenOut:
    issued = await _sign_in(request, uow, body, "bearer")
    return TokenOut(
        access_token=issued.token, expires_at=issued.expires_at.isoformat(), user=issued.user
    )


@router.post("/auth/logout", status_code=204)
async def logout(
    response: Response,
    uow: UoW,
    principal: Annotated[Principal | None, Depends(require("session", "delete"))],
) -> None:
    await service.sign_out(uow, signed_in(principal))
    response.delete_cookie(SESSION_COOKIE, path="/")


@router.get("/me", response_model=UserOut)
async def me(
    uow: UoW, principal: Annotated[Principal | None, Depends(require("self", "read"))]
) -> UserOut:
    return await service.get_user(uow, signed_in(principal).user_id)


@router.post("/me/password", status_code=204)
async def change_password(
    body: PasswordChange,
    uow: UoW,
    principal: Annotated[Principal | None, Depends(require("self", "update"))],
) -> None:
    await service.change_password(
        uow, signed_in(principal), body.current_password, body.new_password
    )


@router.get("/users", response_model=list[UserOut])
async def users(
    uow: UoW,
    _: Annotated[object, Depends(require("user", "read"))],
    role: Role | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0, le=INT32_MAX)] = 0,
) -> list[UserOut]:
    return await service.list_users(uow, role=role, limit=limit, offset=offset)


@router.put("/users/{user_id}/role", response_model=UserOut)
async def set_role(
    user_id: Id,
    body: RoleChange,
    uow: UoW,
    principal: Annotated[Principal | None, Depends(require("user", "write"))],
) -> UserOut:
    return await service.set_role(uow, signed_in(principal), user_id, body.role)
