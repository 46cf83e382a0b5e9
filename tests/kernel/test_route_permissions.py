"""Walks the whole route table: every API route declares who may call it, and the
anonymous and learner callers are refused wherever the policy says so."""

from __future__ import annotations

import re
from collections.abc import Iterator

import casbin
import httpx
import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute
from starlette.routing import BaseRoute

from certplatform.kernel.auth import Requirement
from certplatform.kernel.db import Database
from tests.support.accounts import bearer

OPERATIONAL = {
    "/healthz",
    "/readyz",
    "/metrics",
    "/docs",
    "/docs/oauth2-redirect",
    "/openapi.json",
    "/redoc",
    # GraphQL checks the Casbin permission per field (tests/gateway/test_graphql.py).
    "/graphql",
}


def requirements(route: APIRoute) -> list[Requirement]:
    found = []
    stack = list(route.dependant.dependencies)
    while stack:
        dep = stack.pop()
        if isinstance(dep.call, Requirement):
            found.append(dep.call)
        stack.extend(dep.dependencies)
    return found


def _walk(routes: list[BaseRoute], prefix: str = "") -> Iterator[tuple[str, APIRoute]]:
    for route in routes:
        if isinstance(route, APIRoute):
            yield prefix + route.path, route
        elif hasattr(route, "original_router"):  # a router included into the app
            inner = prefix + getattr(route.include_context, "prefix", "")
            yield from _walk(route.original_router.routes, inner)


def api_routes(app: FastAPI) -> list[tuple[str, APIRoute]]:
    return [(path, r) for path, r in _walk(app.routes) if path not in OPERATIONAL]


def test_every_route_declares_exactly_one_requirement(app: FastAPI) -> None:
    missing = [f"{sorted(r.methods)} {p}" for p, r in api_routes(app) if len(requirements(r)) != 1]
    assert missing == []
    assert len(api_routes(app)) > 20


def _url(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "x", path)


@pytest.mark.parametrize("role", ["anonymous", "learner"])
async def test_callers_are_refused_where_the_policy_refuses_them(
    app: FastAPI, client: httpx.AsyncClient, db: Database, role: str
) -> None:
    headers = {} if role == "anonymous" else await bearer(client, db, role)
    enforcer: casbin.Enforcer = app.state.enforcer
    checked = 0
    for path, route in api_routes(app):
        [req] = requirements(route)
        if enforcer.enforce(role, req.resource, req.action):
            continue
        for method in route.methods - {"HEAD"}:
            reply = await client.request(method, _url(path), headers=headers)
            if path.startswith("/api/"):
                expected = 401 if role == "anonymous" else 403
            else:  # pages send anonymous visitors to sign in, and show others a 403 page
                expected = 303 if role == "anonymous" else 403
            assert reply.status_code == expected, f"{method} {path}: {reply.status_code}"
            if expected == 303:
                assert reply.headers["location"].startswith("/signin?next=")
            checked += 1
    assert checked >= (15 if role == "anonymous" else 10)


def test_learners_cannot_touch_the_question_bank(app: FastAPI) -> None:
    enforcer: casbin.Enforcer = app.state.enforcer
    for resource, action in [
        ("question", "read"),
        ("question", "write"),
        ("question", "publish"),
        ("import", "run"),
        ("export", "run"),
        ("user", "write"),
        ("audit", "read"),
    ]:
        assert not enforcer.enforce("learner", resource, action), (resource, action)
    assert enforcer.enforce("author", "question", "write")
    assert not enforcer.enforce("author", "user", "write")
    assert enforcer.enforce("admin", "user", "write")
