"""The published description of the events (docs/events/), generated from the code.

`envelope.schema.json` is the JSON Schema of `EventEnvelope` (the body of every message);
`topics.json` lists each topic with its NATS subject (the partition of its ordering key
in place of `{partition}`), stream, payload version and the handlers subscribed to it.
`certplatform events schema` writes both; a test keeps them current.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from certplatform.analytics.handlers import subscribe as subscribe_analytics
from certplatform.audit.handlers import RULES
from certplatform.audit.handlers import subscribe as subscribe_audit
from certplatform.community.handlers import subscribe as subscribe_community
from certplatform.kernel.events import SCHEMA_VERSION, EventBus, EventEnvelope
from certplatform.kernel.jetstream import (
    DEAD_PREFIX,
    DEAD_STREAM,
    DURABLE,
    stream_name,
)


def subscribed_bus() -> EventBus:
    """A bus with every handler of the platform (the app and the worker build the same)."""
    bus = EventBus()
    subscribe_audit(bus)
    subscribe_community(bus)
    subscribe_analytics(bus)
    return bus


def topics() -> dict[str, Any]:
    bus = subscribed_bus()
    names = sorted({*RULES, *bus.topics})
    listed = []
    for topic in names:
        _, context, *event, version = topic.split(".")
        listed.append(
            {
                "topic": topic,
                "subject": f"certplatform.{context}.p{{partition}}.{'.'.join(event)}.{version}",
                "context": context,
                "event": ".".join(event),
                "payload_version": int(version.removeprefix("v")),
                "stream": stream_name(context),
                "handlers": bus.handler_names(topic),
            }
        )
    return {
        "envelope_schema_version": SCHEMA_VERSION,
        "consumer": DURABLE + "-p{partition}",
        "partition": "crc32(envelope key) mod NATS_PARTITIONS",
        "dead_letter": {"stream": DEAD_STREAM, "subjects": DEAD_PREFIX + ">"},
        "topics": listed,
    }


def envelope_schema() -> dict[str, Any]:
    schema = EventEnvelope.model_json_schema(by_alias=True)
    schema["$id"] = f"https://certplatform.example/events/envelope.v{SCHEMA_VERSION}.json"
    return schema


def rendered() -> dict[str, str]:
    """File name → content, exactly as written."""
    return {
        "envelope.schema.json": _dump(envelope_schema()),
        "topics.json": _dump(topics()),
    }


def write_schema(directory: Path) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, content in rendered().items():
        path = directory / name
        path.write_text(content, encoding="utf-8")
        written.append(path)
    return written


def _dump(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=2, ensure_ascii=False, sort_keys=True) + "\n"
