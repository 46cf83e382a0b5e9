"""The design documents' services as roles of one process image (ADR 0019).

A role chooses which routes a process mounts and the port it listens on by default; the
contexts behind the routes still call each other in-process over the shared database.
"""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    all = "all"
    web = "web"
    admin = "admin"
    gateway = "gateway"
    content = "content"
    learning = "learning"
    community = "community"
    analytics = "analytics"


# The ports of the design documents' service table (web-client, admin-client, api-gateway, ...).
ROLE_PORTS: dict[Role, int] = {
    Role.all: 3000,
    Role.web: 3000,
    Role.admin: 3001,
    Role.gateway: 4000,
    Role.content: 5000,
    Role.learning: 5001,
    Role.community: 5002,
    Role.analytics: 5003,
}
