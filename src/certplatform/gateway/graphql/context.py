"""The request context of the GraphQL API: who is calling, one unit of work per field,
bounded arguments, and errors shaped as the REST API shapes them."""

from __future__ import annotations

import asyncio
import hmac
from collections.abc import Awaitable, Callable, Iterator
from typing import Any, NewType, TypeAlias, TypeVar

import casbin
import strawberry
from fastapi import Request
from graphql import GraphQLError, IntValueNode, OperationType, ValueNode
from pydantic import ValidationError
from strawberry.extensions import SchemaExtension
from strawberry.fastapi import BaseContext
from strawberry.types import ExecutionContext

from certplatform.kernel.auth import Authenticator, Principal, role_forbidden
from certplatform.kernel.bounds import CODE_LENGTH, ID_LENGTH, INT64_MAX
from certplatform.kernel.db import Database, UnitOfWork
from certplatform.kernel.errors import N_, AppError, Forbidden, Invalid, NotAuthenticated
from certplatform.kernel.settings import Settings

T = TypeVar("T")
Work: TypeAlias = Callable[[UnitOfWork, Principal | None], Awaitable[T]]


# ---- request context: who is calling, one unit of work per field ---------------------------


class GatewayContext(BaseContext):
    """Per request: the caller, looked up once, and a lock that runs fields one at a time."""

    def __init__(self, request: Request) -> None:
        super().__init__()
        self.http = request
        self.settings: Settings = request.app.state.settings
        # graphql-core resolves sibling query fields concurrently; without the lock one
        # request could hold a connection per aliased field.
        self._lock = asyncio.Lock()
        self._looked_up = False
        self._principal: Principal | None = None

    async def run(self, resource: str, action: str, work: Work[T], *, mutation: bool) -> T:
        """Authorise the caller like `kernel.auth.Requirement`, then do `work` in a fresh
        unit of work that commits before this returns."""
        db: Database = self.http.app.state.db
        async with self._lock, db.transaction() as uow:
            principal = await self._caller(uow)
            self._authorise(principal, resource, action, mutation=mutation)
            return await work(uow, principal)

    async def _caller(self, uow: UnitOfWork) -> Principal | None:
        if not self._looked_up:
            authenticator: Authenticator = self.http.app.state.authenticator
            self._principal = await authenticator(self.http, uow)
            self._looked_up = True
        return self._principal

    def _authorise(
        self, principal: Principal | None, resource: str, action: str, *, mutation: bool
    ) -> None:
        enforcer: casbin.Enforcer = self.http.app.state.enforcer
        role = principal.role if principal else "anonymous"
        if not enforcer.enforce(role, resource, action):
            if principal is None:
                raise NotAuthenticated("Sign in to do this.")
            raise role_forbidden(role, resource, action)
        # A browser sends the session cookie with any cross-site POST; only the page's own
        # script can send the token. Queries change nothing, so they go without it.
        if mutation and principal is not None and principal.via == "cookie":
            sent = self.http.headers.get("x-csrf-token")
            if (
                not sent
                or not principal.csrf_token
                or not hmac.compare_digest(sent, principal.csrf_token)
            ):
                raise Forbidden("Missing or wrong CSRF token; reload the page and try again.")


Info: TypeAlias = strawberry.Info[GatewayContext, None]


async def _guarded(info: Info, resource: str, action: str, work: Work[T]) -> T:
    mutation = info.operation.operation is OperationType.MUTATION
    return await info.context.run(resource, action, work, mutation=mutation)


def _within(name: str, value: int, low: int, high: int) -> int:
    if not low <= value <= high:
        raise Invalid(
            N_("%(field)s must be between %(low)s and %(high)s."), field=name, low=low, high=high
        )
    return value


def _id(name: str, value: str) -> str:
    # Variables are bounded only by the request body; an id is never longer than this.
    if len(value) > ID_LENGTH:
        raise Invalid(
            N_("%(field)s is not an id: ids are at most %(limit)s characters."),
            field=name,
            limit=ID_LENGTH,
        )
    return value


def _code(name: str, value: str | None) -> str | None:
    if value is not None and len(value) > CODE_LENGTH:
        raise Invalid(
            N_("%(field)s must be at most %(limit)s characters."), field=name, limit=CODE_LENGTH
        )
    return value


# GraphQL's Int is 32 bits; operation numbers are often Date.now() milliseconds.
Long = NewType("Long", int)


def _long(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= INT64_MAX:
        raise GraphQLError(f"Long must be a whole number from 0 to {INT64_MAX}.")
    return value


def _long_literal(node: ValueNode, _variables: dict[str, Any] | None = None) -> int:
    if not isinstance(node, IntValueNode):
        raise GraphQLError(f"Long must be a whole number from 0 to {INT64_MAX}.")
    return _long(int(node.value))


async def _context(request: Request) -> GatewayContext:
    return GatewayContext(request)


# ---- errors: AppErrors keep their message, anything unexpected is masked -------------------


def _replaced(error: GraphQLError, message: str, extensions: dict[str, Any]) -> GraphQLError:
    # Dropping the original error keeps its traceback and text out of every formatter.
    return GraphQLError(
        message,
        nodes=error.nodes,
        source=error.source,
        positions=error.positions,
        path=error.path,
        extensions=extensions,
    )


def _shaped(error: GraphQLError) -> GraphQLError:
    original = error.original_error
    if isinstance(original, AppError):
        extensions: dict[str, Any] = {"code": original.code, "status": original.status_code}
        if original.details is not None:
            extensions["details"] = original.details
        return _replaced(error, original.message, extensions)
    if isinstance(original, ValidationError):
        problems = [
            {"field": ".".join(str(p) for p in e["loc"]), "message": e["msg"]}
            for e in original.errors()
        ]
        message = "; ".join(f"{p['field']}: {p['message']}" for p in problems)
        return _replaced(
            error,
            message,
            {"code": Invalid.code, "status": Invalid.status_code, "details": problems},
        )
    # A resolver failed in a way nobody planned for: say so, and nothing more. Errors in
    # the document itself (syntax, unknown fields, bad variables) have no path and stay.
    if error.path is not None and original is not None and not isinstance(original, GraphQLError):
        return _replaced(error, "Unexpected error.", {"code": "internal", "status": 500})
    return error


class ErrorShape(SchemaExtension):
    def on_operation(self) -> Iterator[None]:
        yield
        result = self.execution_context.result
        if result is not None and result.errors:
            result.errors = [_shaped(e) for e in result.errors]


class GatewaySchema(strawberry.Schema):
    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        # Expected errors are answers, not incidents; log only the unplanned ones.
        unplanned = [
            e
            for e in errors
            if e.original_error is not None
            and not isinstance(e.original_error, AppError | ValidationError)
        ]
        super().process_errors(unplanned, execution_context)
