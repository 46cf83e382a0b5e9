"""Events on NATS JetStream (ADR 0021): the outbox relay publishes, the worker consumes.

- A stream per context (`CERTPLATFORM_LEARNING` holds `certplatform.learning.>`); the subject
  is the topic, `certplatform.<context>.<event>.v<N>`; the body is an `EventEnvelope`.
- Publishing is at least once: a row is marked published only after JetStream acked it, and
  the `Nats-Msg-Id` header (the event id) lets JetStream drop a repeat within its window.
- Each stream has one durable pull consumer, `handlers`, with explicit ack. A batch is
  handled in one database transaction through `EventBus.dispatch` (the same path as the
  embedded relay, idempotent on `processed_events`), acked after the commit. A failure is
  nak'ed with backoff; after `max_deliver` deliveries it goes to `certplatform.dead.<...>`
  (stream `CERTPLATFORM_DEAD`) and is terminated.
- Order: one publisher call writes its batch on one connection in outbox order, so the
  stream keeps it. While an event waits for redelivery, later events with its ordering key
  (the attempt, question, user ...) are held back in this process, so a retry does not
  let a later event of the same attempt overtake it.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import nats
import structlog
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.errors import TimeoutError as NatsTimeout
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy, StorageType, StreamConfig
from nats.js.errors import BadRequestError
from opentelemetry.trace import Span
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from certplatform.kernel.events import (
    Event,
    EventBus,
    EventEnvelope,
    as_event,
    claim_pending,
    mark_published,
)
from certplatform.kernel.tracing import TRACEPARENT, end_publish, start_publish

log = structlog.get_logger(__name__)

STREAM_PREFIX = "CERTPLATFORM_"
DEAD_STREAM = "CERTPLATFORM_DEAD"
DEAD_PREFIX = "certplatform.dead."
DURABLE = "handlers"
MSG_ID = "Nats-Msg-Id"


def stream_name(context: str) -> str:
    return STREAM_PREFIX + context.upper()


def dead_subject(topic: str) -> str:
    """certplatform.learning.attempt.submitted.v1 → certplatform.dead.learning.attempt..."""
    return DEAD_PREFIX + topic.removeprefix("certplatform.")


def parse_backoff(spec: str) -> tuple[float, ...]:
    """'1,5,30' → (1.0, 5.0, 30.0); each delay in seconds, > 0."""
    delays = tuple(float(part) for part in spec.split(",") if part.strip())
    if not delays or any(d <= 0 for d in delays):
        raise ValueError(f"{spec!r} is not a list of positive seconds such as '1,5,30'")
    return delays


@dataclass(frozen=True)
class Delivery:
    max_deliver: int = 5
    backoff: tuple[float, ...] = (1.0, 5.0, 30.0, 120.0)
    ack_wait: float = 30.0  # a worker that dies mid-batch: redelivered after this

    def delay(self, delivered: int) -> float:
        return self.backoff[min(max(delivered, 1), len(self.backoff)) - 1]


class PublishIncomplete(RuntimeError):
    """Some events of a batch got no ack from JetStream; they stay in the outbox."""


@dataclass
class JetStream:
    """One process's connection to JetStream: the relay's publisher and the worker's consumer."""

    url: str
    delivery: Delivery = Delivery()
    timeout: float = 5.0
    batch: int = 500
    _nc: Client | None = None
    _js: JetStreamContext | None = None
    _streams: set[str] = field(default_factory=set)
    _handling: asyncio.Lock = field(default_factory=asyncio.Lock)
    # ordering key → stream sequence of the event it waits behind
    _blocked: dict[str, int] = field(default_factory=dict)

    async def context(self) -> JetStreamContext:
        """Connect on first use (and after a close); NATS may come up after the app."""
        if self._nc is None or self._nc.is_closed:
            # Unlimited reconnects once connected; the first connection is bounded here
            # (with -1 the client would keep trying it forever).
            self._nc = await asyncio.wait_for(
                nats.connect(
                    self.url,
                    connect_timeout=min(self.timeout, 2.0),
                    max_reconnect_attempts=-1,
                    reconnect_time_wait=0.5,
                    error_cb=_log_error,
                    disconnected_cb=_log_disconnected,
                    reconnected_cb=_log_reconnected,
                ),
                self.timeout,
            )
            self._js = self._nc.jetstream(timeout=self.timeout)
            self._streams.clear()
        assert self._js is not None
        return self._js

    async def close(self) -> None:
        if self._nc is not None and not self._nc.is_closed:
            with contextlib.suppress(Exception):
                await self._nc.drain()
        self._nc = self._js = None

    async def ensure_stream(self, name: str, subjects: list[str]) -> None:
        if name in self._streams:
            return
        js = await self.context()
        config = StreamConfig(
            name=name,
            subjects=subjects,
            storage=StorageType.FILE,
            max_age=7 * 24 * 3600.0,
            duplicate_window=120.0,
        )
        try:
            await js.add_stream(config)
        except BadRequestError:
            await js.update_stream(config)
        self._streams.add(name)

    async def ensure_context_stream(self, context: str) -> None:
        await self.ensure_stream(stream_name(context), [f"certplatform.{context}.>"])

    # --- publishing (the outbox relay) --------------------------------------------------

    async def publish_pending(self, session: AsyncSession) -> int:
        """Publish a batch of unpublished outbox rows; mark those JetStream acked.

        Only the acked prefix is marked, so a failure in the middle is retried from there
        in outbox order (repeats of acked ones are dropped by the Nats-Msg-Id window).
        """
        rows = await claim_pending(session, self.batch)
        if not rows:
            await session.commit()
            return 0
        acks: list[asyncio.Future[Any]] = []
        spans: list[Span | None] = []  # each row's publish span (None: untraced)
        try:
            async with asyncio.timeout(self.timeout):  # a broker gone away must not hang us
                js = await self.context()
                for context in dict.fromkeys(row.topic.split(".")[1] for row in rows):
                    await self.ensure_context_stream(context)
                for row in rows:
                    span, traceparent = start_publish(row.traceparent, row.topic, row.id, "nats")
                    spans.append(span)
                    headers = {MSG_ID: row.id}
                    if traceparent is not None:
                        headers[TRACEPARENT] = traceparent
                    body = EventEnvelope.of(as_event(row)).model_dump_json(by_alias=True).encode()
                    acks.append(await js.publish_async(row.topic, body, headers=headers))
        except BaseException as exc:
            for span in spans:
                end_publish(span, exc)
            raise
        try:
            results = await asyncio.wait_for(
                asyncio.gather(*acks, return_exceptions=True), self.timeout
            )
        except TimeoutError:
            for ack in acks:
                ack.cancel()
            results = [ack.result() if ack.done() and not ack.cancelled() else None for ack in acks]
        acked: list[str] = []
        broken: BaseException | str | None = None  # the first failure; the rest wait with it
        for row, result, span in zip(rows, results, spans, strict=True):
            if broken is None and (result is None or isinstance(result, BaseException)):
                broken = result if isinstance(result, BaseException) else "no ack"
            if broken is None:
                acked.append(row.id)
            end_publish(span, broken)
        await mark_published(session, acked)
        await session.commit()
        if len(acked) < len(rows):
            raise PublishIncomplete(f"{len(rows) - len(acked)} of {len(rows)} events not acked")
        return len(acked)

    # --- consuming (the worker) ---------------------------------------------------------

    async def subscribe(self, contexts: Sequence[str]) -> list[JetStreamContext.PullSubscription]:
        js = await self.context()
        await self.ensure_stream(DEAD_STREAM, [DEAD_PREFIX + ">"])
        subscriptions = []
        for context in contexts:
            await self.ensure_context_stream(context)
            config = ConsumerConfig(
                durable_name=DURABLE,
                ack_policy=AckPolicy.EXPLICIT,
                deliver_policy=DeliverPolicy.ALL,
                ack_wait=self.delivery.ack_wait,
                max_deliver=-1,  # dead letters are ours to route (see `_settle`)
                max_ack_pending=10_000,
            )
            subscriptions.append(
                await js.pull_subscribe(
                    f"certplatform.{context}.>",
                    durable=DURABLE,
                    stream=stream_name(context),
                    config=config,
                )
            )
        return subscriptions

    async def consume_forever(
        self, sessions: async_sessionmaker[AsyncSession], bus: EventBus, *, fetch: int = 256
    ) -> None:
        """The worker's loop: (re)connect, then handle every context's stream until cancelled."""
        contexts = sorted({topic.split(".")[1] for topic in bus.topics})
        while True:
            subscriptions = []
            try:
                subscriptions = await self.subscribe(contexts)
                await asyncio.gather(
                    *(self._pull(sub, sessions, bus, fetch) for sub in subscriptions)
                )
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("events.consumer_failed")
                await asyncio.sleep(1.0)
            finally:
                for subscription in subscriptions:
                    with contextlib.suppress(Exception):
                        await subscription.unsubscribe()

    async def _pull(
        self,
        subscription: JetStreamContext.PullSubscription,
        sessions: async_sessionmaker[AsyncSession],
        bus: EventBus,
        fetch: int,
    ) -> None:
        while True:
            try:
                messages = await subscription.fetch(fetch, timeout=1.0)
            except (NatsTimeout, TimeoutError):  # nothing new within the second
                continue
            # One handling transaction at a time: SQLite has one writer, and the audit
            # chain serialises its appends anyway.
            async with self._handling:
                await self.handle(sessions, bus, messages)

    async def handle(
        self, sessions: async_sessionmaker[AsyncSession], bus: EventBus, messages: list[Msg]
    ) -> None:
        """Handle a fetched batch in one transaction; ack after the commit."""
        batch: list[tuple[Msg, Event, str]] = []
        for msg in messages:
            try:
                envelope = EventEnvelope.model_validate_json(msg.data)
            except ValidationError as exc:
                await self._dead_letter(msg, DEAD_PREFIX + "invalid", str(exc))
                continue
            event = envelope.event()
            traceparent = (msg.headers or {}).get(TRACEPARENT)
            if traceparent:
                event = replace(event, traceparent=traceparent)
            batch.append((msg, event, envelope.key))
        failed: dict[int, BaseException | None] = {}  # index → error (None: held back)
        together = True  # the whole batch in one dispatch; after a failure, one by one
        while True:
            error_at = None
            async with sessions() as session:
                try:
                    todo = []
                    for index, (msg, _, key) in enumerate(batch):
                        if index in failed:
                            continue
                        if self._blocked.get(key) in (None, _seq(msg)):
                            todo.append(index)
                        else:
                            failed[index] = None  # waits behind an earlier failure
                    if together:
                        await bus.dispatch_many(session, [batch[i][1] for i in todo])
                    else:
                        for index in todo:
                            msg, event, key = batch[index]
                            waits_behind = self._blocked.get(key)
                            if waits_behind not in (None, _seq(msg)):
                                failed[index] = None  # behind one that failed just now
                                continue
                            error_at = index
                            await bus.dispatch(session, event)
                            error_at = None
                    await session.commit()
                except Exception as exc:
                    if together:
                        together = False
                        continue
                    if error_at is None:  # the commit itself: everything again later
                        log.exception("events.batch_failed", size=len(batch))
                        for index in range(len(batch)):
                            failed.setdefault(index, exc)
                        break
                    # Drop the failing event from the batch and run the rest again.
                    failed[error_at] = exc
                    self._blocked.setdefault(batch[error_at][2], _seq(batch[error_at][0]))
                    continue
            break
        for index, (msg, event, key) in enumerate(batch):
            if index not in failed:
                if self._blocked.get(key) == _seq(msg):
                    del self._blocked[key]
                await msg.ack()
            else:
                await self._settle(msg, event, key, failed[index])

    async def _settle(self, msg: Msg, event: Event, key: str, error: BaseException | None) -> None:
        delivered = msg.metadata.num_delivered
        if error is not None and delivered >= self.delivery.max_deliver:
            await self._dead_letter(msg, dead_subject(event.topic), repr(error))
            if self._blocked.get(key) == _seq(msg):
                del self._blocked[key]  # what waited behind it may go on
            return
        if error is not None:
            log.warning(
                "events.handler_failed",
                event_id=event.id,
                topic=event.topic,
                delivered=delivered,
                error=repr(error),
            )
        # Held-back events retry soon; failed ones after the backoff of their delivery.
        await msg.nak(delay=self.delivery.delay(delivered) if error is not None else 0.2)

    async def _dead_letter(self, msg: Msg, subject: str, reason: str) -> None:
        js = await self.context()
        headers = {
            **(msg.headers or {}),
            "Certplatform-Error": reason[:500],
            "Certplatform-Deliveries": str(msg.metadata.num_delivered),
            "Certplatform-Stream-Seq": str(_seq(msg)),
        }
        if MSG_ID in headers:
            headers[MSG_ID] = headers[MSG_ID] + ".dead"
        await self.ensure_stream(DEAD_STREAM, [DEAD_PREFIX + ">"])
        await js.publish(subject, msg.data, headers=headers)
        await msg.term()
        log.error("events.dead_lettered", subject=subject, reason=reason[:200])


def _seq(msg: Msg) -> int:
    return int(msg.metadata.sequence.stream)


async def _log_error(exc: Exception) -> None:
    log.warning("nats.error", error=repr(exc))


async def _log_disconnected() -> None:
    log.warning("nats.disconnected")


async def _log_reconnected() -> None:
    log.info("nats.reconnected")
