"""Events on NATS JetStream (ADR 0021): the outbox relay publishes, the worker consumes.

- A stream per context (`CERTPLATFORM_LEARNING` holds `certplatform.learning.>`); the body
  is an `EventEnvelope`. `NATS_NAMESPACE` replaces `certplatform` in subjects and stream
  names, so that several deployments or test runs can share a server.
- Publishing is at least once: a row is marked published only after JetStream acked it, and
  the `Nats-Msg-Id` header (the event id) lets JetStream drop a repeat within its window.
- Partitions (ADR 0034): the subject carries the partition of the event's ordering key,
  `certplatform.<context>.p<k>.<event>.v<N>` (k = crc32(key) mod `partitions`). Each
  partition has its own durable pull consumer, `handlers-p<k>`, with explicit ack and
  `max_ack_pending` 1: the broker hands out the next event of a partition only after the
  previous one was acked or terminated, whichever worker holds it. So events of one key
  are handled in stream order by any number of workers, and a failing event holds back
  only its own partition while it waits for redelivery.
- A worker pulls every partition and handles what it holds (one event per partition) in
  one database transaction through `EventBus.dispatch_many` (the same path as the
  embedded relay, idempotent on `processed_events`), acked after the commit. A failure is
  nak'ed with the backoff of its delivery; after `max_deliver` deliveries it goes to
  `certplatform.dead.<...>` (stream `CERTPLATFORM_DEAD`) and is terminated.
- Stopping (cancellation) settles the batch in hand and naks the fetched rest, so no event
  waits out `ack_wait` because its worker went away cleanly.
"""

from __future__ import annotations

import asyncio
import contextlib
import zlib
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

from certplatform.kernel.db import utcnow
from certplatform.kernel.events import (
    Event,
    EventBus,
    EventEnvelope,
    as_event,
    claim_pending,
    mark_published,
)
from certplatform.kernel.telemetry import OUTBOX_LAG
from certplatform.kernel.tracing import TRACEPARENT, end_publish, start_publish

log = structlog.get_logger(__name__)

NAMESPACE = "certplatform"  # NATS_NAMESPACE: first subject token and stream-name prefix
DEAD_STREAM = "CERTPLATFORM_DEAD"
DEAD_PREFIX = "certplatform.dead."
DURABLE = "handlers"  # consumer names: handlers-p0, handlers-p1, ...
MSG_ID = "Nats-Msg-Id"
FETCH_WAIT = 1.0  # seconds a pull request waits on the broker (and a stop waits for it)


def stream_name(context: str, namespace: str = NAMESPACE) -> str:
    """learning → CERTPLATFORM_LEARNING (another namespace, another set of streams)."""
    return f"{namespace.upper()}_{context.upper()}"


def dead_stream(namespace: str = NAMESPACE) -> str:
    return stream_name("dead", namespace)


def partition_of(key: str, partitions: int) -> int:
    """The partition of an ordering key: stable across processes and releases."""
    return zlib.crc32(key.encode()) % partitions


def subject_of(topic: str, key: str, partitions: int, namespace: str = NAMESPACE) -> str:
    """certplatform.learning.attempt.submitted.v1, key → certplatform.learning.p3.attempt..."""
    _, context, rest = topic.split(".", 2)
    return f"{namespace}.{context}.p{partition_of(key, partitions)}.{rest}"


def durable_name(partition: int) -> str:
    return f"{DURABLE}-p{partition}"


def dead_subject(topic: str, namespace: str = NAMESPACE) -> str:
    """certplatform.learning.attempt.submitted.v1 → certplatform.dead.learning.attempt..."""
    return f"{namespace}.dead." + topic.removeprefix("certplatform.")


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
    partitions: int = 64  # publishers and workers must agree (see ADR 0034)

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
    namespace: str = NAMESPACE
    _nc: Client | None = None
    _js: JetStreamContext | None = None
    _streams: set[str] = field(default_factory=set)
    _handling: asyncio.Lock = field(default_factory=asyncio.Lock)

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
        await self.ensure_stream(
            stream_name(context, self.namespace), [f"{self.namespace}.{context}.>"]
        )

    async def ensure_dead_stream(self) -> None:
        await self.ensure_stream(dead_stream(self.namespace), [f"{self.namespace}.dead.>"])

    async def delete_streams(self) -> None:
        """Remove every stream of this namespace (a test run's own, when it ends)."""
        js = await self.context()
        for info in await js.streams_info():
            name = info.config.name
            if name and name.startswith(self.namespace.upper() + "_"):
                await js.delete_stream(name)
        self._streams.clear()

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
                    envelope = EventEnvelope.of(as_event(row))
                    subject = subject_of(
                        row.topic, envelope.key, self.delivery.partitions, self.namespace
                    )
                    body = envelope.model_dump_json(by_alias=True).encode()
                    acks.append(await js.publish_async(subject, body, headers=headers))
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
        """One pull subscription per context and partition, each on its durable consumer."""
        js = await self.context()
        await self.ensure_dead_stream()
        subscriptions = []
        for context in contexts:
            await self.ensure_context_stream(context)
            for partition in range(self.delivery.partitions):
                subject = f"{self.namespace}.{context}.p{partition}.>"
                config = ConsumerConfig(
                    durable_name=durable_name(partition),
                    filter_subject=subject,
                    ack_policy=AckPolicy.EXPLICIT,
                    deliver_policy=DeliverPolicy.ALL,
                    ack_wait=self.delivery.ack_wait,
                    max_deliver=-1,  # dead letters are ours to route (see `_settle`)
                    # The next event of a partition only after this one is settled: the
                    # order of a key holds across workers and across redeliveries.
                    max_ack_pending=1,
                )
                subscriptions.append(
                    await js.pull_subscribe(
                        subject,
                        durable=durable_name(partition),
                        stream=stream_name(context, self.namespace),
                        config=config,
                    )
                )
        return subscriptions

    async def consume_forever(
        self, sessions: async_sessionmaker[AsyncSession], bus: EventBus, *, fetch: int = 256
    ) -> None:
        """The worker's loop: (re)connect, then handle every partition until cancelled."""
        contexts = sorted({topic.split(".")[1] for topic in bus.topics})
        while True:
            subscriptions = []
            inbox: asyncio.Queue[Msg] = asyncio.Queue()
            try:
                subscriptions = await self.subscribe(contexts)
                async with asyncio.TaskGroup() as group:
                    for subscription in subscriptions:
                        group.create_task(_pull(subscription, inbox))
                    group.create_task(self._handle_forever(inbox, sessions, bus, fetch))
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("events.consumer_failed")
                await asyncio.sleep(1.0)
            finally:
                await _release(inbox)
                for subscription in subscriptions:
                    with contextlib.suppress(Exception):
                        await subscription.unsubscribe()

    async def _handle_forever(
        self,
        inbox: asyncio.Queue[Msg],
        sessions: async_sessionmaker[AsyncSession],
        bus: EventBus,
        fetch: int,
    ) -> None:
        while True:
            batch = [await inbox.get()]
            while not inbox.empty() and len(batch) < fetch:
                batch.append(inbox.get_nowait())
            handling = asyncio.ensure_future(self.handle(sessions, bus, batch))
            try:
                await asyncio.shield(handling)
            except asyncio.CancelledError:
                # Stopping: settle the batch in hand first (ack, nak or dead letter);
                # cut off half way, its events would wait out ack_wait on the broker.
                await asyncio.wait({handling}, timeout=self.delivery.ack_wait)
                raise

    async def handle(
        self, sessions: async_sessionmaker[AsyncSession], bus: EventBus, messages: list[Msg]
    ) -> None:
        """Handle a batch in one transaction; ack after the commit.

        The batch holds at most one event per partition (so per key). If it fails as a
        whole, its events run one by one to find the failing ones, which are nak'ed or
        dead-lettered; the others commit together.
        """
        async with self._handling:
            batch: list[tuple[Msg, Event]] = []
            for msg in messages:
                try:
                    envelope = EventEnvelope.model_validate_json(msg.data)
                except ValidationError as exc:
                    await self._dead_letter(msg, f"{self.namespace}.dead.invalid", str(exc))
                    continue
                event = envelope.event()
                traceparent = (msg.headers or {}).get(TRACEPARENT)
                if traceparent:
                    event = replace(event, traceparent=traceparent)
                batch.append((msg, event))
            failed: dict[int, BaseException] = {}
            together = True  # the whole batch in one dispatch; after a failure, one by one
            while True:
                error_at = None
                async with sessions() as session:
                    try:
                        todo = [i for i in range(len(batch)) if i not in failed]
                        if together:
                            await bus.dispatch_many(session, [batch[i][1] for i in todo])
                        else:
                            for index in todo:
                                error_at = index
                                await bus.dispatch(session, batch[index][1])
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
                        continue
                break
            done = utcnow()
            for index, (msg, event) in enumerate(batch):
                if index in failed:
                    await self._settle(msg, event, failed[index])
                else:
                    await msg.ack()
                    OUTBOX_LAG.observe(max((done - event.created_at).total_seconds(), 0.0))

    async def _settle(self, msg: Msg, event: Event, error: BaseException) -> None:
        delivered = msg.metadata.num_delivered
        if delivered >= self.delivery.max_deliver:
            await self._dead_letter(msg, dead_subject(event.topic, self.namespace), repr(error))
            return
        log.warning(
            "events.handler_failed",
            event_id=event.id,
            topic=event.topic,
            delivered=delivered,
            error=repr(error),
        )
        # Its partition waits (max_ack_pending 1) until this redelivery is settled.
        await msg.nak(delay=self.delivery.delay(delivered))

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
        await self.ensure_dead_stream()
        await js.publish(subject, msg.data, headers=headers)
        await msg.term()
        log.error("events.dead_lettered", subject=subject, reason=reason[:200])


def _seq(msg: Msg) -> int:
    return int(msg.metadata.sequence.stream)


def _stopping() -> bool:
    """This task was asked to stop. nats-py's `fetch` can swallow a cancellation that
    arrives just as a message or a timeout does (it awaits an inner task wrapped in
    `wait_for`); the request stays counted on the task, so the loop checks it itself."""
    task = asyncio.current_task()
    return task is not None and task.cancelling() > 0


async def _pull(subscription: JetStreamContext.PullSubscription, inbox: asyncio.Queue[Msg]) -> None:
    """Fetch one partition's next event whenever the broker has one (at most one is
    unsettled per partition) and queue it for the handling loop."""
    while not _stopping():
        try:
            messages = await subscription.fetch(1, timeout=FETCH_WAIT)
        except (NatsTimeout, TimeoutError):  # nothing new within the wait
            continue
        for msg in messages:
            inbox.put_nowait(msg)
    raise asyncio.CancelledError


async def _release(inbox: asyncio.Queue[Msg]) -> None:
    """Give the fetched, unhandled events back at once (not after ack_wait)."""
    while not inbox.empty():
        with contextlib.suppress(Exception):
            await inbox.get_nowait().nak()


async def _log_error(exc: Exception) -> None:
    log.warning("nats.error", error=repr(exc))


async def _log_disconnected() -> None:
    log.warning("nats.disconnected")


async def _log_reconnected() -> None:
    log.info("nats.reconnected")
