"""Outbox events → audit entries: one entry per event, idempotent on the event id."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from certplatform.audit import service
from certplatform.audit.chain import Keyring
from certplatform.audit.service import LIMITS
from certplatform.community.events import COMMENT_TOPICS, REPORT_TOPICS, ROOM_TOPICS
from certplatform.kernel.db import UnitOfWork
from certplatform.kernel.events import Event, EventBus

TOPIC_PREFIX = "certplatform."
TOPIC_SUFFIX = ".v1"


@dataclass(frozen=True)
class Rule:
    """Where an event's payload keeps its subject and its actor.

    `subject_keys` are joined with "/" (a blueprint is only unique within its
    certification). `actor_keys` are tried in order; the first key present decides, even
    when its value is null.
    """

    subject_type: str | None
    subject_keys: tuple[str, ...]
    actor_keys: tuple[str, ...]


_SELF = Rule("user", ("user_id",), ("user_id",))
_QUESTION = Rule("question", ("question_id",), ("actor",))
# "by" in attempt payloads says how it was submitted (learner | deadline), not who.
_LEARNER = Rule("attempt", ("attempt_id",), ("user_id",))

RULES: dict[str, Rule] = {
    "certplatform.identity.user.created.v1": _SELF,
    "certplatform.identity.login.succeeded.v1": _SELF,
    # Nobody is signed in yet: the claimed email is kept as actor_email and in the data.
    "certplatform.identity.login.failed.v1": Rule(None, (), ()),
    "certplatform.identity.logout.v1": _SELF,
    "certplatform.identity.password.changed.v1": _SELF,
    "certplatform.identity.role.changed.v1": Rule("user", ("user_id",), ("by",)),
    "certplatform.identity.password_reset.requested.v1": _SELF,
    "certplatform.identity.password_reset.done.v1": _SELF,
    "certplatform.identity.email_change.requested.v1": _SELF,
    "certplatform.identity.email_change.done.v1": _SELF,
    "certplatform.content.certification.created.v1": Rule("certification", ("code",), ("actor",)),
    "certplatform.content.import.completed.v1": Rule(
        "certification", ("certification",), ("actor",)
    ),
    "certplatform.content.question.draft.v1": _QUESTION,
    "certplatform.content.question.review.v1": _QUESTION,
    "certplatform.content.question.published.v1": _QUESTION,
    "certplatform.content.question.retired.v1": _QUESTION,
    "certplatform.content.question.versioned.v1": _QUESTION,
    "certplatform.content.blueprint.saved.v1": Rule(
        "blueprint", ("certification", "code"), ("actor",)
    ),
    "certplatform.content.past_paper.saved.v1": Rule(
        "past_paper", ("certification", "code"), ("actor",)
    ),
    "certplatform.learning.attempt.started.v1": _LEARNER,
    "certplatform.learning.attempt.submitted.v1": _LEARNER,
    "certplatform.learning.attempt.integrity.v1": _LEARNER,
    # A regrade re-marks every attempt that showed the question; the admin is the actor.
    "certplatform.learning.regrade.applied.v1": _QUESTION,
    **dict.fromkeys(COMMENT_TOPICS, Rule("comment", ("comment_id",), ("actor",))),
    **dict.fromkeys(REPORT_TOPICS, Rule("error_report", ("report_id",), ("actor",))),
    **dict.fromkeys(ROOM_TOPICS, Rule("room", ("room_id",), ("actor",))),
}


def action_name(topic: str) -> str:
    """certplatform.identity.login.succeeded.v1 → identity.login.succeeded"""
    return topic.removeprefix(TOPIC_PREFIX).removesuffix(TOPIC_SUFFIX)


def subscribe(bus: EventBus, keys: Keyring | None = None) -> None:
    """Record every audited topic, keyed with `keys` (else the audit key in the settings).

    One handler for a batch of events: the relay hands it all the audited events of a
    batch, appended to the chain with one lock and one flush.
    """

    async def handler(session: AsyncSession, events: list[Event]) -> None:
        await record_many(session, events, keys)

    bus.subscribe_batch(list(RULES), handler, name="certplatform.audit.handlers.subscribe.handler")


async def record(session: AsyncSession, event: Event, keys: Keyring | None = None) -> None:
    """Append the event to the log in the relay's transaction."""
    await record_many(session, [event], keys)


async def record_many(
    session: AsyncSession, events: list[Event], keys: Keyring | None = None
) -> None:
    await service.append_many(UnitOfWork(session), [_draft(event) for event in events], keys)


def _draft(event: Event) -> service.Draft:
    rule = RULES[event.topic]
    payload = event.payload
    parts = [_text(payload.get(key)) for key in rule.subject_keys]
    subject_id = "/".join(p for p in parts if p) or None
    actor = next((payload[key] for key in rule.actor_keys if key in payload), None)
    return service.Draft(
        action=action_name(event.topic),
        actor_id=_clip(_text(actor), "actor_id"),
        actor_email=_clip(_text(payload.get("email")), "actor_email"),
        subject_type=rule.subject_type if subject_id else None,
        subject_id=_clip(subject_id, "subject_id"),
        ip=_clip(_text(payload.get("ip")), "ip"),
        data=payload,
        event_id=event.id,
        at=event.created_at,
    )


def _text(value: Any) -> str | None:
    return None if value is None or value == "" else str(value)


def _clip(value: str | None, field: str) -> str | None:
    # An over-long value must not stall the relay; the payload in `data` keeps it whole.
    return value[: LIMITS[field]] if value is not None else None
