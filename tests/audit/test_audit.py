"""The audit log: events become chained entries, tampering is found, only admins read it."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from pydantic import ValidationError
from sqlalchemy import event, insert, text, update
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError

from certplatform.audit import service
from certplatform.audit.chain import CHECKPOINT_JOURNAL, KEYED_ALG, Checkpoint, Keyring
from certplatform.audit.contracts import AuditEntryOut, VerifyResult
from certplatform.audit.handlers import RULES, action_name
from certplatform.audit.models import GENESIS_HASH, AuditEntry
from certplatform.audit.tasks import run_checkpointer
from certplatform.identity import service as identity
from certplatform.kernel import migrate
from certplatform.kernel.db import Database, new_id
from certplatform.kernel.errors import Conflict, Invalid
from certplatform.kernel.events import record_event
from certplatform.kernel.settings import DEV_AUDIT_KEY, Settings
from certplatform.kernel.storage import LocalStorage
from tests.support.accounts import PASSWORD, bearer, make_user
from tests.support.audit import rewrite_keyless, unprotected
from tests.support.events import relay_events

T0 = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)


async def log(db: Database, **filters: Any) -> list[AuditEntryOut]:
    async with db.transaction() as uow:
        return await service.list_entries(uow, limit=500, **filters)


async def append_many(db: Database, count: int, **fields: Any) -> None:
    async with db.transaction() as uow:
        for i in range(count):
            await service.append(uow, action="test.step", data={"i": i}, **fields)


async def verify(db: Database, batch: int = 1000) -> VerifyResult:
    async with db.transaction() as uow:
        return await service.verify(uow, batch=batch)


async def user_id(client: httpx.AsyncClient, headers: dict[str, str]) -> str:
    me: str = (await client.get("/api/v1/me", headers=headers)).json()["id"]
    return me


# ---- events become entries -----------------------------------------------------------------


async def test_a_login_is_logged_once_even_when_its_event_comes_again(
    app: FastAPI, client: httpx.AsyncClient, db: Database
) -> None:
    email = await make_user(db, "learner", "kim@example.com")
    login = await client.post("/api/v1/auth/login", json={"email": email, "password": PASSWORD})
    assert login.status_code == 200
    assert await relay_events(app) == 2  # user.created, login.succeeded

    [entry] = await log(db, action_prefix="identity.login")
    assert entry.action == "identity.login.succeeded"
    assert entry.actor_id == login.json()["user"]["id"]
    assert entry.actor_email == "kim@example.com"
    assert (entry.subject_type, entry.subject_id) == ("user", entry.actor_id)
    assert entry.ip == "127.0.0.1"
    assert entry.data["kind"] == "cookie"
    assert entry.event_id is not None

    # A relay that died before marking its events published hands them out again.
    async with db.engine.begin() as conn:
        await conn.execute(text("UPDATE outbox_events SET published_at = NULL"))
    assert await relay_events(app) == 2
    assert await relay_events(app) == 0
    assert [e.action for e in await log(db)] == [
        "identity.login.succeeded",
        "identity.user.created",
    ]
    assert (await verify(db)).ok


async def test_a_role_change_is_logged_with_the_admin_who_made_it(
    app: FastAPI, client: httpx.AsyncClient, db: Database
) -> None:
    admin = await bearer(client, db, "admin")
    admin_id = await user_id(client, admin)
    await make_user(db, "learner", "promote@example.com")
    target = next(
        u
        for u in (await client.get("/api/v1/users", headers=admin)).json()
        if u["email"] == "promote@example.com"
    )
    changed = await client.put(
        f"/api/v1/users/{target['id']}/role", json={"role": "author"}, headers=admin
    )
    assert changed.status_code == 200
    await relay_events(app)

    [entry] = await log(db, action_prefix="identity.role.changed")
    assert entry.actor_id == admin_id
    assert (entry.subject_type, entry.subject_id) == ("user", target["id"])
    assert (entry.data["from"], entry.data["to"]) == ("learner", "author")


async def test_a_failed_login_keeps_the_claimed_email_but_names_no_actor(
    app: FastAPI, db: Database
) -> None:
    async with db.transaction() as uow:
        record_event(
            uow.session,
            "certplatform.identity.login.failed.v1",
            {"email": "ghost@example.com", "ip": "203.0.113.9"},
        )
    await relay_events(app)
    [entry] = await log(db)
    assert entry.action == "identity.login.failed"
    assert entry.actor_id is None
    assert entry.actor_email == "ghost@example.com"
    assert entry.subject_type is None
    assert entry.ip == "203.0.113.9"


@pytest.mark.parametrize(
    ("topic", "payload", "actor", "subject"),
    [
        (
            "certplatform.content.question.published.v1",
            {"question_id": "q1", "from": "review", "version": 2, "actor": "a1"},
            "a1",
            ("question", "q1"),
        ),
        (
            "certplatform.content.blueprint.saved.v1",
            {"certification": "US-FCC-TECHNICIAN", "code": "mock", "actor": None},
            None,
            ("blueprint", "US-FCC-TECHNICIAN/mock"),
        ),
        (
            "certplatform.learning.attempt.submitted.v1",
            {"attempt_id": "t1", "user_id": "u1", "by": "deadline", "passed": False},
            "u1",
            ("attempt", "t1"),
        ),
        (
            "certplatform.learning.attempt.integrity.v1",
            {"attempt_id": "t1", "user_id": "u1", "kind": "focus_lost", "detail": "3s"},
            "u1",
            ("attempt", "t1"),
        ),
        (
            "certplatform.learning.regrade.applied.v1",
            {"question_id": "q1", "to_version": 3, "attempts": 4, "changed": 1, "actor": "ad"},
            "ad",
            ("question", "q1"),
        ),
    ],
)
async def test_events_of_other_contexts_map_to_actor_and_subject(
    app: FastAPI,
    db: Database,
    topic: str,
    payload: dict[str, Any],
    actor: str | None,
    subject: tuple[str, str],
) -> None:
    async with db.transaction() as uow:
        record_event(uow.session, topic, payload)
    await relay_events(app)
    [entry] = await log(db)
    assert entry.action == action_name(topic)
    assert entry.actor_id == actor
    assert (entry.subject_type, entry.subject_id) == subject
    assert entry.data == payload


def test_every_subscribed_topic_becomes_a_short_action_name() -> None:
    assert action_name("certplatform.identity.login.succeeded.v1") == "identity.login.succeeded"
    for topic in RULES:
        action = action_name(topic)
        assert not action.startswith("certplatform.")
        assert not action.endswith(".v1")


async def test_the_same_event_id_is_appended_once(db: Database) -> None:
    async with db.transaction() as uow:
        first = await service.append(uow, action="test.once", event_id="evt-1")
        again = await service.append(uow, action="test.once", event_id="evt-1", data={"x": 1})
    assert again == first
    assert len(await log(db)) == 1


async def test_bad_entries_are_refused_with_a_clear_message(db: Database) -> None:
    async with db.transaction() as uow:
        with pytest.raises(Invalid, match="needs an action"):
            await service.append(uow, action=" ")
        with pytest.raises(Invalid, match="ip is longer than 45"):
            await service.append(uow, action="test.x", ip="1" * 46)
        with pytest.raises(Invalid, match="timezone-aware"):
            await service.append(uow, action="test.x", at=datetime(2026, 1, 1))  # noqa: DTZ001
        with pytest.raises(Invalid, match="plain JSON"):
            await service.append(uow, action="test.x", data={"x": float("nan")})
    assert await log(db) == []


# ---- the chain -----------------------------------------------------------------------------


async def test_entries_form_a_chain_from_the_genesis_hash(db: Database) -> None:
    await append_many(db, 3)
    entries = sorted(await log(db), key=lambda e: e.seq)
    assert [e.seq for e in entries] == [1, 2, 3]
    assert entries[0].prev_hash == GENESIS_HASH
    assert entries[1].prev_hash == entries[0].hash
    assert entries[2].prev_hash == entries[1].hash
    result = await verify(db)
    assert result.ok
    assert result.message == "Audit log intact: 3 entries"
    assert result.head_hash == entries[2].hash


async def test_a_long_chain_is_verified_in_batches(db: Database) -> None:
    # Built directly (as append would) to keep the test fast; verify reads 1000 at a time.
    keys = service.default_keyring()
    rows, prev = [], GENESIS_HASH
    for seq in range(1, 2501):
        fields: dict[str, Any] = {
            "seq": seq,
            "at": T0 + timedelta(seconds=seq),
            "action": "test.bulk",
            "actor_id": f"u{seq % 7}",
            "actor_email": None,
            "subject_type": "question",
            "subject_id": f"q{seq}",
            "ip": "10.0.0.1",
            "data": {"n": seq, "half": seq / 2, "name": "정보처리기사"},
            "event_id": None,
            "prev_hash": prev,
        }
        prev = service.entry_hash(**fields, keys=keys)
        rows.append(
            {**fields, "id": new_id(), "hash": prev, "alg": KEYED_ALG, "key_id": keys.current_id}
        )
    async with db.engine.begin() as conn:
        await conn.execute(insert(AuditEntry), rows)

    reads: list[str] = []

    def count(_conn: Connection, _cursor: Any, statement: str, *_: Any) -> None:
        if "FROM audit_entries" in statement:
            reads.append(statement)

    event.listen(db.engine.sync_engine, "before_cursor_execute", count)
    try:
        result = await verify(db, batch=1000)
    finally:
        event.remove(db.engine.sync_engine, "before_cursor_execute", count)
    assert result.ok, result.message
    assert result.entries == 2500
    assert len(reads) == 4  # 1000 + 1000 + 500 + the empty read that ends the walk


async def test_changed_content_is_found_at_its_seq(db: Database) -> None:
    await append_many(db, 5)
    async with unprotected(db) as conn:
        await conn.execute(update(AuditEntry).where(AuditEntry.seq == 3).values(data={"i": 99}))
    result = await verify(db)
    assert not result.ok
    assert result.first_bad_seq == 3
    assert result.entries == 2
    assert "Entry 3 was altered" in result.message


async def test_an_entry_rehashed_with_the_key_breaks_the_link_to_the_next(
    db: Database,
) -> None:
    await append_many(db, 5)
    [third] = [e for e in await log(db) if e.seq == 3]
    forged = third.model_copy(update={"data": {"i": 99}})
    fields = forged.model_dump(exclude={"id", "hash", "alg", "key_id"})
    keys = service.default_keyring()
    async with unprotected(db) as conn:
        await conn.execute(
            update(AuditEntry)
            .where(AuditEntry.seq == 3)
            .values(data={"i": 99}, hash=service.entry_hash(**fields, keys=keys))
        )
    result = await verify(db)
    assert (result.ok, result.first_bad_seq) == (False, 4)
    assert "Entry 4 does not link" in result.message


async def test_a_removed_middle_entry_is_found(db: Database) -> None:
    await append_many(db, 5)
    async with unprotected(db) as conn:
        await conn.execute(text("DELETE FROM audit_entries WHERE seq = 3"))
    result = await verify(db)
    assert (result.ok, result.first_bad_seq, result.entries) == (False, 3, 2)
    assert result.message == "Entry 3 is missing (the next entry is 4)."


async def test_the_database_refuses_update_and_delete(db: Database) -> None:
    await append_many(db, 2)
    for statement in (
        "UPDATE audit_entries SET action = 'forged' WHERE seq = 1",
        "DELETE FROM audit_entries WHERE seq = 2",
        "DELETE FROM audit_entries",
    ):
        with pytest.raises(DBAPIError, match="append-only"):
            async with db.engine.begin() as conn:
                await conn.execute(text(statement))
    entries = await log(db)
    assert [e.action for e in entries] == ["test.step", "test.step"]
    assert (await verify(db)).ok


async def test_concurrent_appends_leave_one_unbroken_chain(db: Database) -> None:
    async def one(i: int) -> int:
        async with db.transaction() as uow:
            entry = await service.append(uow, action="test.concurrent", data={"i": i})
        return entry.seq

    seqs = await asyncio.gather(*(one(i) for i in range(20)))
    assert sorted(seqs) == list(range(1, 21))
    result = await verify(db)
    assert (result.ok, result.entries) == (True, 20)


# ---- keys and checkpoints (ADR 0012) -------------------------------------------------------


async def checkpoint(db: Database, store: LocalStorage, **options: Any) -> Checkpoint | None:
    async with db.transaction() as uow:
        return await service.checkpoint(uow, store, **options)


async def verify_with(
    db: Database,
    store: LocalStorage,
    *,
    since_checkpoint: bool = False,
    keys: Keyring | None = None,
) -> VerifyResult:
    async with db.transaction() as uow:
        return await service.verify(uow, store=store, since_checkpoint=since_checkpoint, keys=keys)


@pytest.fixture
def store(tmp_path: Path) -> LocalStorage:
    """A file store of this test's own, so checkpoints of other tests never show."""
    return LocalStorage(tmp_path / "store")


@pytest.mark.parametrize(
    ("first", "mark_unkeyed", "bad_seq", "message"),
    [
        # Content changed and every hash from there recomputed with the keyless function.
        (3, False, 3, "Entry 3 was altered: its content does not match its hash."),
        # ... and the rewritten entries labelled as old keyless ones.
        (3, True, 3, "Entry 3 has the keyless hash of older entries after keyed ones began."),
        # The whole log relabelled as keyless: only the checkpoint can tell.
        (1, True, 5, "Entry 5 differs from its checkpoint of"),
    ],
)
async def test_a_chain_rehashed_without_the_key_is_found_tampered(
    db: Database,
    store: LocalStorage,
    first: int,
    mark_unkeyed: bool,
    bad_seq: int,
    message: str,
) -> None:
    await append_many(db, 5)
    assert await checkpoint(db, store) is not None
    await rewrite_keyless(db, first, mark_unkeyed=mark_unkeyed)
    for since_checkpoint in (False, True):
        result = await verify_with(db, store, since_checkpoint=since_checkpoint)
        assert (result.ok, result.status) == (False, "tampered"), result.message
        if not since_checkpoint or bad_seq == 5:
            assert result.first_bad_seq == bad_seq
            assert message in result.message


async def test_entries_cut_off_after_a_checkpoint_are_found_truncated(
    db: Database, store: LocalStorage
) -> None:
    await append_many(db, 5)
    made = await checkpoint(db, store)
    assert made is not None
    assert made.seq == 5
    await append_many(db, 2)
    async with unprotected(db) as conn:
        await conn.execute(text("DELETE FROM audit_entries WHERE seq >= 4"))
    for since_checkpoint in (False, True):
        result = await verify_with(db, store, since_checkpoint=since_checkpoint)
        assert (result.ok, result.status, result.first_bad_seq) == (False, "truncated", 5)
        assert result.message.startswith("Audit log truncated: entry 5, checkpointed at ")
        assert result.message.endswith("is missing; the log ends at entry 3.")
    # The chain alone, as before checkpoints, cannot see it.
    assert (await verify(db)).ok

    async with unprotected(db) as conn:
        await conn.execute(text("DELETE FROM audit_entries"))
    result = await verify_with(db, store)
    assert (result.status, result.first_bad_seq) == ("truncated", 5)
    assert result.message.endswith("is missing; the log is empty.")


async def test_a_clean_chain_verifies_against_its_checkpoints(
    db: Database, store: LocalStorage
) -> None:
    assert await checkpoint(db, store) is None  # an empty log has no head to vouch for
    await append_many(db, 3)
    first = await checkpoint(db, store, every_entries=2)
    assert first is not None
    assert first.seq == 3
    await append_many(db, 1)
    assert await checkpoint(db, store, every_entries=2) is None  # not due yet
    await append_many(db, 1)
    second = await checkpoint(db, store, every_entries=2)
    assert second is not None
    assert second.seq == 5
    assert len(store.read_lines(CHECKPOINT_JOURNAL)) == 2

    result = await verify_with(db, store)
    assert (result.ok, result.status, result.entries) == (True, "intact", 5)
    assert result.message == "Audit log intact: 5 entries (2 checkpoints matched)"
    assert (result.head_seq, result.head_hash) == (5, second.hash)

    await append_many(db, 2)
    since = await verify_with(db, store, since_checkpoint=True)
    assert (since.ok, since.entries, since.head_seq) == (True, 3, 7)
    assert since.message == (
        "Audit log intact: 3 entries (from the checkpoint at entry 5; 1 checkpoint matched)"
    )


async def test_the_server_task_publishes_a_checkpoint_when_none_exists(
    db: Database, store: LocalStorage
) -> None:
    await append_many(db, 3)
    task = asyncio.create_task(
        run_checkpointer(
            db,
            store,
            service.default_keyring(),
            interval=3600,
            every_entries=100,
            every_minutes=10,
        )
    )
    try:
        # Its first check runs at once; wait for it (a slow machine only waits longer).
        for _ in range(600):
            if store.read_lines(CHECKPOINT_JOURNAL):
                break
            await asyncio.sleep(0.05)
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    [line] = store.read_lines(CHECKPOINT_JOURNAL)
    assert Checkpoint.from_line(line).seq == 3


async def test_a_checkpoint_edited_in_the_file_is_refused(
    db: Database, store: LocalStorage
) -> None:
    await append_many(db, 3)
    made = await checkpoint(db, store)
    assert made is not None
    # Someone moves the anchor back to hide a truncation, without the key to sign it.
    journal = store.root / CHECKPOINT_JOURNAL
    journal.write_text(made.to_line().replace('"seq":3', '"seq":2') + "\n")
    result = await verify_with(db, store)
    assert (result.ok, result.status, result.first_bad_seq) == (False, "tampered", 2)
    assert "has no valid signature" in result.message
    with pytest.raises(Conflict, match="No audit checkpoint written"):
        await checkpoint(db, store, force=True)

    journal.write_text("not json\n")
    assert "Line 1 of audit-checkpoints/checkpoints.jsonl is not a checkpoint" in (
        (await verify_with(db, store)).message
    )


async def test_a_broken_chain_is_not_checkpointed(db: Database, store: LocalStorage) -> None:
    await append_many(db, 3)
    await rewrite_keyless(db, 2)
    with pytest.raises(Conflict, match="Entry 2 was altered"):
        await checkpoint(db, store)
    assert store.read_lines(CHECKPOINT_JOURNAL) == []


async def test_entries_from_before_keying_still_verify(db: Database) -> None:
    # Rows as the code before keying wrote them.
    rows, prev = [], GENESIS_HASH
    for seq in (1, 2, 3):
        fields: dict[str, Any] = {
            "seq": seq,
            "at": T0 + timedelta(seconds=seq),
            "action": "test.old",
            "actor_id": None,
            "actor_email": None,
            "subject_type": None,
            "subject_id": None,
            "ip": None,
            "data": {"n": seq},
            "event_id": None,
            "prev_hash": prev,
        }
        prev = service.entry_hash(**fields)
        rows.append({**fields, "id": new_id(), "hash": prev})
    async with db.engine.begin() as conn:
        # No `alg` given: the migration's default names the keyless hash.
        await conn.execute(insert(AuditEntry.__table__), rows)
    await append_many(db, 2)
    entries = sorted(await log(db), key=lambda e: e.seq)
    assert [e.alg for e in entries] == ["sha256-v1"] * 3 + ["hmac-sha256-v2"] * 2
    result = await verify(db)
    assert result.ok, result.message
    assert result.message == "Audit log intact: 5 entries (3 unkeyed older entries)"

    # The keyed entry after them vouches for the old ones: rewriting one is found.
    await rewrite_keyless(db, 2, last=3, mark_unkeyed=True)
    broken = await verify(db)
    assert (broken.status, broken.first_bad_seq) == ("tampered", 4)
    assert broken.message == "Entry 4 does not link to the entry before it."


async def test_rotated_keys_verify_with_the_retired_key_configured(
    db: Database, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    old = Keyring.from_settings(settings)
    await append_many(db, 2)
    new = Keyring(current_id="k2", keys={"k2": b"k2-secret-0123456789-0123456789"})
    async with db.transaction() as uow:
        await service.append(uow, action="test.rotated", keys=new)

    without_old = await verify_with_keys(db, new)
    assert (without_old.ok, without_old.first_bad_seq) == (False, 1)
    assert "keyed with 'k1', which is not a configured audit key" in without_old.message
    both = Keyring(current_id="k2", keys={**old.keys, **new.keys})
    assert (await verify_with_keys(db, both)).ok
    assert [e.key_id for e in sorted(await log(db), key=lambda e: e.seq)] == ["k1", "k1", "k2"]

    # The same rotation, configured from the environment.
    monkeypatch.setenv("AUDIT_KEY", "k2-secret-0123456789-0123456789")
    monkeypatch.setenv("AUDIT_KEY_ID", "k2")
    monkeypatch.setenv("AUDIT_RETIRED_KEYS", json.dumps({"k1": settings.audit_key}))
    assert Keyring.from_settings(Settings()) == both


async def verify_with_keys(db: Database, keys: Keyring) -> VerifyResult:
    async with db.transaction() as uow:
        return await service.verify(uow, keys=keys)


@pytest.mark.parametrize(
    ("env", "problem"),
    [
        ({}, "AUDIT_KEY must be set in production"),
        ({"AUDIT_KEY": DEV_AUDIT_KEY}, "AUDIT_KEY must be set in production"),
        ({"AUDIT_KEY": "short"}, "AUDIT_KEY must be at least 32 characters"),
        ({"AUDIT_KEY": "s" * 40}, "AUDIT_KEY must differ from SECRET_KEY"),
        ({"AUDIT_KEY": "a" * 40, "AUDIT_KEY_ID": "no spaces"}, "AUDIT_KEY_ID"),
        (
            {"AUDIT_KEY": "a" * 40, "AUDIT_RETIRED_KEYS": '{"k1": "other"}'},
            "AUDIT_RETIRED_KEYS names 'k1', the id of AUDIT_KEY",
        ),
    ],
)
def test_production_refuses_a_missing_or_default_audit_key(
    env: dict[str, str], problem: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("APP_ENV", "production")
    monkeypatch.setenv("SECRET_KEY", "s" * 40)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ValidationError, match=re.escape(problem)):
        Settings()
    monkeypatch.setenv("AUDIT_KEY", "a" * 40)
    for name in ("AUDIT_KEY_ID", "AUDIT_RETIRED_KEYS"):
        monkeypatch.delenv(name, raising=False)
    assert Settings().production


# ---- the API -------------------------------------------------------------------------------


async def test_only_admins_read_the_log(client: httpx.AsyncClient, db: Database) -> None:
    for role in ("learner", "author"):
        headers = await bearer(client, db, role)
        for path in ("/api/v1/audit", "/api/v1/audit/verify"):
            reply = await client.get(path, headers=headers)
            assert reply.status_code == 403, (role, path)
    assert (await client.get("/api/v1/audit")).status_code == 401
    admin = await bearer(client, db, "admin")
    assert (await client.get("/api/v1/audit", headers=admin)).status_code == 200


async def test_admins_filter_and_page_the_log(client: httpx.AsyncClient, db: Database) -> None:
    admin = await bearer(client, db, "admin")
    async with db.transaction() as uow:
        for i, (action, actor, subject) in enumerate(
            [
                ("identity.login.succeeded", "u1", "u1"),
                ("identity.login.failed", None, None),
                ("content.question.published", "u2", "q1"),
                ("content.question.retired", "u2", "q1"),
                ("learning.attempt.integrity", "u1", "t1"),
            ]
        ):
            await service.append(
                uow,
                action=action,
                actor_id=actor,
                subject_type={"u": "user", "q": "question", "t": "attempt"}[subject[0]]
                if subject
                else None,
                subject_id=subject,
                at=T0 + timedelta(hours=i),
            )

    async def actions(**params: Any) -> list[str]:
        reply = await client.get("/api/v1/audit", params=params, headers=admin)
        assert reply.status_code == 200, reply.text
        return [e["action"] for e in reply.json()]

    assert await actions(action_prefix="identity.login") == [
        "identity.login.failed",
        "identity.login.succeeded",
    ]
    assert await actions(actor_id="u1") == [
        "learning.attempt.integrity",
        "identity.login.succeeded",
    ]
    assert await actions(subject_type="question", subject_id="q1") == [
        "content.question.retired",
        "content.question.published",
    ]
    # `since` inclusive, `until` exclusive; a time without an offset is UTC.
    assert await actions(since="2026-11-01T10:00:00Z", until="2026-11-01T12:00:00") == [
        "content.question.published",
        "identity.login.failed",
    ]
    assert await actions(limit=2, offset=1) == [
        "content.question.retired",
        "content.question.published",
    ]
    assert await actions(action_prefix="identity.log_") == []  # "_" is not a wildcard

    backwards = await client.get(
        "/api/v1/audit",
        params={"since": "2026-11-02T00:00:00Z", "until": "2026-11-01T00:00:00Z"},
        headers=admin,
    )
    assert backwards.status_code == 422
    assert "'since' must be before 'until'" in backwards.json()["error"]["message"]
    too_many = await client.get("/api/v1/audit", params={"limit": 501}, headers=admin)
    assert too_many.status_code == 422

    verified = await client.get("/api/v1/audit/verify", headers=admin)
    assert verified.status_code == 200
    assert verified.json()["ok"] is True
    assert verified.json()["entries"] == 5

    async with unprotected(db) as conn:
        await conn.execute(text("UPDATE audit_entries SET actor_id = 'u9' WHERE seq = 2"))
    broken = (await client.get("/api/v1/audit/verify", headers=admin)).json()
    assert (broken["ok"], broken["status"], broken["first_bad_seq"]) == (False, "tampered", 2)
    fragment = await client.get("/admin/audit/verify", headers={**admin, "hx-request": "true"})
    assert fragment.status_code == 200
    assert "alert-error" in fragment.text
    assert "Entry 2 was altered" in fragment.text


# ---- the CLI -------------------------------------------------------------------------------


async def _cli(tmp: Path, url: str, *args: str) -> tuple[int, str, str]:
    env = {**os.environ, "DATABASE_URL": url, "APP_ENV": "development", "LOG_LEVEL": "WARNING"}
    proc = await asyncio.create_subprocess_exec(
        str(Path(sys.executable).parent / "certplatform"),
        *args,
        cwd=tmp,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await proc.communicate()
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


async def test_cli_verify_relays_then_checks_the_chain(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}")
    try:
        await asyncio.to_thread(migrate.upgrade, db.url)
        async with db.transaction() as uow:
            await identity.create_user(uow, "one@example.com", PASSWORD)
            await identity.create_user(uow, "two@example.com", PASSWORD)

        code, out, _ = await _cli(tmp_path, url, "audit", "verify")
        assert code == 0
        assert "Audit log intact: 2 entries" in out

        async with unprotected(db) as conn:
            await conn.execute(
                text("UPDATE audit_entries SET actor_email = 'x@example.com' WHERE seq = 2")
            )
        code, _, err = await _cli(tmp_path, url, "audit", "verify")
        assert code == 1
        assert "Entry 2 was altered" in err
    finally:
        await db.dispose()
