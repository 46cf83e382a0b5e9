"""docs/events/ is generated from the code (`certplatform events schema`) and kept current."""

from __future__ import annotations

import json
import re
from pathlib import Path

from certplatform.events_catalog import rendered
from certplatform.kernel.events import EventEnvelope

ROOT = Path(__file__).resolve().parents[2]


def test_docs_events_match_the_code() -> None:
    for name, content in rendered().items():
        path = ROOT / "docs" / "events" / name
        assert path.read_text(encoding="utf-8") == content, (
            f"{path} is stale: run `certplatform events schema`"
        )


def test_every_topic_the_code_writes_is_in_the_catalogue() -> None:
    pattern = re.compile(r'"(certplatform\.[a-z_]+\.[a-z_.]+\.v[0-9]+)"')
    literals = set()
    for source in (ROOT / "src" / "certplatform").rglob("*.py"):
        literals |= set(pattern.findall(source.read_text()))
    listed = {t["topic"] for t in json.loads(rendered()["topics.json"])["topics"]}
    assert literals <= listed


def test_the_envelope_refuses_what_the_schema_forbids() -> None:
    good = {
        "schema": 1,
        "id": "0" * 32,
        "topic": "certplatform.learning.attempt.submitted.v1",
        "created_at": "2026-12-06T18:00:00Z",
        "key": "attempt_id:x",
        "payload": {"attempt_id": "x"},
    }
    assert EventEnvelope.model_validate(good).event().topic == good["topic"]
    for field, bad in (("schema", 2), ("topic", "learning.submitted"), ("id", "x")):
        try:
            EventEnvelope.model_validate({**good, field: bad})
        except ValueError:
            continue
        raise AssertionError(f"{field}={bad!r} accepted")
