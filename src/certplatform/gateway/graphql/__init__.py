"""The GraphQL API at /graphql: the learner operations of the REST learning API.

Resolvers hold no domain logic; they call the contexts' services exactly as the REST routes
do. Every top-level field checks the Casbin permission of the REST route it mirrors and runs
in its own unit of work, committed before the field's value is returned and rolled back when
it raises, so each mutation of a multi-field document is all-or-nothing on its own and an
error reply never hides a committed write.

The GraphQL types are written out field by field from the contracts: key material can only
reach a client through a type that names it (the review after submission and the practice
feedback after answering).
"""

from __future__ import annotations

from certplatform.gateway.graphql.operations import build_schema, graphql_router

__all__ = ["build_schema", "graphql_router"]
