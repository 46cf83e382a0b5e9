"""Who may call a route: principals, the Casbin enforcer and the `Requirement` dependency.

Every API route depends on a `Requirement(resource, action)`; the route-table test walks the
app and fails on any route without one. The identity context supplies the authenticator
(cookie session or bearer token → `Principal`) through `app.state.authenticator`.
"""

from __future__ import annotations

import hmac
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Annotated, Literal
from weakref import WeakKeyDictionary

import casbin
from fastapi import Depends, Request

from certplatform.kernel.db import UnitOfWork
from certplatform.kernel.errors import N_, Forbidden, NotAuthenticated, Term

Role = Literal["learner", "author", "admin"]
ROLES: tuple[Role, ...] = ("learner", "author", "admin")
# Roles as words in sentences.
ROLE_TERMS: dict[str, str] = {
    "learner": N_("learner"),
    "author": N_("author"),
    "admin": N_("admin"),
    "anonymous": N_("visitor"),
}


def role_forbidden(role: str, resource: str, action: str) -> Forbidden:
    """Refusal by role: people read the role; API callers also get what was asked for."""
    return Forbidden(
        N_("Your role (%(role)s) does not allow this."),
        details={"resource": resource, "action": action},
        role=Term(ROLE_TERMS.get(role, role)),
    )


SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
POLICY_DIR = Path(__file__).parent / "policy"


@dataclass(frozen=True)
class Principal:
    user_id: str
    email: str
    role: Role
    display_name: str
    via: Literal["cookie", "bearer"]
    session_id: str
    csrf_token: str | None = None
    time_zone: str | None = None
    expires_at: datetime | None = None


Authenticator = Callable[[Request, UnitOfWork], Awaitable[Principal | None]]


def load_enforcer() -> casbin.Enforcer:
    return casbin.Enforcer(str(POLICY_DIR / "model.conf"), str(POLICY_DIR / "policy.csv"))


# Casbin's answers, remembered per enforcer. The policy is read from its files at start-up
# and never changed at runtime, and enforce() builds and parses its matcher on every call
# (~0.25 ms, a few per cent of an answer save). A runtime policy change must clear this.
_decisions: WeakKeyDictionary[casbin.Enforcer, dict[tuple[str, str, str], bool]] = (
    WeakKeyDictionary()
)


def allowed(enforcer: casbin.Enforcer, role: str, resource: str, action: str) -> bool:
    known = _decisions.setdefault(enforcer, {})
    key = (role, resource, action)
    if key not in known:
        known[key] = bool(enforcer.enforce(role, resource, action))
    return known[key]


async def get_uow(request: Request) -> AsyncIterator[UnitOfWork]:
    """The request's unit of work: committed before the response leaves, or rolled back."""
    async with request.app.state.db.transaction() as uow:
        yield uow


# scope="function" commits when the route returns, *before* the response is sent: a reply
# that acknowledges a write must never race the commit (a crash in between would lose it).
UoW = Annotated[UnitOfWork, Depends(get_uow, scope="function")]


class Requirement:
    """A route dependency: the caller's role must be allowed `action` on `resource`."""

    def __init__(self, resource: str, action: str) -> None:
        self.resource = resource
        self.action = action

    def __repr__(self) -> str:
        return f"Requirement({self.resource!r}, {self.action!r})"

    async def __call__(self, request: Request, uow: UoW) -> Principal | None:
        authenticator: Authenticator = request.app.state.authenticator
        principal = await authenticator(request, uow)
        role = principal.role if principal else "anonymous"
        enforcer: casbin.Enforcer = request.app.state.enforcer
        if not allowed(enforcer, role, self.resource, self.action):
            if principal is None:
                raise NotAuthenticated("Sign in to do this.")
            raise role_forbidden(role, self.resource, self.action)
        if principal and principal.via == "cookie" and request.method not in SAFE_METHODS:
            await _check_csrf(request, principal)
        request.state.principal = principal  # pages show who is signed in
        return principal


async def _check_csrf(request: Request, principal: Principal) -> None:
    sent = request.headers.get("x-csrf-token")
    if sent is None and request.headers.get("content-type", "").startswith(
        ("application/x-www-form-urlencoded", "multipart/form-data")
    ):
        form = await request.form()
        value = form.get("csrf_token")
        sent = value if isinstance(value, str) else None
    if not sent or not principal.csrf_token or not hmac.compare_digest(sent, principal.csrf_token):
        raise Forbidden("Missing or wrong CSRF token; reload the page and try again.")


def require(resource: str, action: str) -> Requirement:
    return Requirement(resource, action)


def signed_in(principal: Principal | None) -> Principal:
    """Narrow an optional principal for routes whose policy already excludes anonymous."""
    if principal is None:
        raise NotAuthenticated("Sign in to do this.")
    return principal
