"""The command line as a newcomer runs it: import (with --json, --dry-run, errors), export,
search, users, demo, audit."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import text

from certplatform.audit.chain import CHECKPOINT_JOURNAL
from certplatform.kernel.db import Database
from tests.support.audit import rewrite_keyless, unprotected

POOL = (
    Path(__file__).resolve().parents[2] / "src/certplatform/demo/data/fcc/technician-2026-2030.json"
)
HEADER = "code,subject,topic,question,choice_a,choice_b,choice_c,choice_d,answer,explanation,tags"
KOREAN_CSV = f"""{HEADER}
K1,S1,S1-01,관련 법령에 따라 옳은 것은?,가,나,다,라,B,법령 해설,법규
K2,S4,S4-01,로더가 하는 일이 아닌 것은?,할당,연결,재배치,컴파일,D,컴파일은 컴파일러가 한다,
"""


@pytest.fixture
def cli(database_url: str, tmp_path: Path, db: Database) -> object:
    env = {**os.environ, "DATABASE_URL": database_url, "MEDIA_DIR": str(tmp_path / "media")}

    def run(*args: str, input_: str | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "certplatform.cli", *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            input=input_,
            check=False,
        )

    return run


def test_import_reports_json_and_is_idempotent(cli: object, tmp_path: Path) -> None:
    run = cli  # type: ignore[assignment]
    args = [
        "import",
        str(POOL),
        "--format",
        "fcc-json",
        "--certification",
        "US-FCC-TECHNICIAN",
        "--json",
    ]
    dry = run(*args, "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert json.loads(dry.stdout)["created"] == 409
    first = run(*args)
    assert json.loads(first.stdout) == {
        "created": 409,
        "updated": 0,
        "unchanged": 0,
        "errors": [],
        "dry_run": False,
    }
    again = run(*args)
    assert json.loads(again.stdout)["unchanged"] == 409

    exported = tmp_path / "pool.gift"
    out = run(
        "export", "--certification", "US-FCC-TECHNICIAN", "--format", "gift", "-o", str(exported)
    )
    assert out.returncode == 0, out.stderr
    back = run("import", str(exported), "--format", "gift", "--certification", "COPY", "--json")
    assert json.loads(back.stdout)["created"] == 409, back.stderr


def test_a_bad_file_changes_nothing_and_names_the_item(cli: object, tmp_path: Path) -> None:
    run = cli  # type: ignore[assignment]
    bad = tmp_path / "bad.csv"
    bad.write_text(KOREAN_CSV + "K3,S1,,문항,가,나,다,라,E,,\n", encoding="utf-8")
    refused = run("import", str(bad), "--format", "csv", "--certification", "KR-T")
    assert refused.returncode == 1
    assert "line 4" in refused.stderr
    assert "nothing was imported" in refused.stderr
    assert run("search", "법령").returncode == 1  # nothing there

    partial = run(
        "import", str(bad), "--format", "csv", "--certification", "KR-T", "--skip-invalid", "--json"
    )
    assert partial.returncode == 0
    summary = json.loads(partial.stdout)
    assert summary["created"] == 2
    assert len(summary["errors"]) == 1


def test_search_finds_korean_words_with_particles(cli: object, tmp_path: Path) -> None:
    run = cli  # type: ignore[assignment]
    source = tmp_path / "kr.csv"
    source.write_text(KOREAN_CSV, encoding="utf-8")
    assert run("import", str(source), "--format", "csv", "--certification", "KR-T").returncode == 0
    for query, code in (("법령", "K1"), ("법령에", "K1"), ("로더", "K2")):
        found = run("search", query, "--json")
        assert found.returncode == 0, found.stderr
        assert [json.loads(line)["external_id"] for line in found.stdout.splitlines()] == [code]


def test_users_create_and_refuse_a_duplicate(cli: object) -> None:
    run = cli  # type: ignore[assignment]
    made = run(
        "users", "create", "new@example.com", "--role", "author", "--password", "long enough"
    )
    assert made.returncode == 0, made.stderr
    assert "new@example.com (author)" in made.stdout
    again = run("users", "create", "new@example.com", "--password", "long enough")
    assert again.returncode == 1
    assert "already exists" in again.stderr
    weak = run("users", "create", "weak@example.com", "--password", "password1234")
    assert weak.returncode == 1
    assert "too common" in weak.stderr


async def test_audit_verify_names_tampering_and_truncation_by_exit_code(
    cli: object, db: Database, tmp_path: Path
) -> None:
    run = cli  # type: ignore[assignment]
    for email in ("one@example.com", "two@example.com", "three@example.com"):
        assert run("users", "create", email, "--password", "long enough").returncode == 0

    made = run("audit", "checkpoint")  # relays the three user.created events first
    assert made.returncode == 0, made.stderr
    assert "Checkpoint: entry 3, hash " in made.stdout
    # Published twice outside the database: the file store's journal and the log.
    [line] = (tmp_path / "media" / CHECKPOINT_JOURNAL).read_text().splitlines()
    assert json.loads(line)["seq"] == 3
    assert "audit.checkpoint" in made.stderr

    clean = run("audit", "verify")
    assert clean.returncode == 0, clean.stderr
    assert "Audit log intact: 3 entries (1 checkpoint matched)" in clean.stdout
    since = run("audit", "verify", "--since-checkpoint")
    assert since.returncode == 0, since.stderr
    assert "Audit log intact: 1 entry (from the checkpoint at entry 3" in since.stdout

    # Someone with database access rewrites entry 2 and rehashes the rest without the key.
    await rewrite_keyless(db, 2)
    tampered = run("audit", "verify")
    assert tampered.returncode == 1
    assert "Audit log tampered: Entry 2 was altered" in tampered.stderr


async def test_audit_verify_reports_entries_cut_off_after_a_checkpoint(
    cli: object, db: Database
) -> None:
    run = cli  # type: ignore[assignment]
    for email in ("one@example.com", "two@example.com", "three@example.com"):
        assert run("users", "create", email, "--password", "long enough").returncode == 0
    assert run("audit", "checkpoint").returncode == 0

    async with unprotected(db) as conn:
        await conn.execute(text("DELETE FROM audit_entries WHERE seq >= 2"))
    for args in (("audit", "verify"), ("audit", "verify", "--since-checkpoint")):
        cut = run(*args)
        assert cut.returncode == 3, cut.stderr
        assert "Audit log truncated: entry 3, checkpointed at " in cut.stderr
        assert "is missing; the log ends at entry 1." in cut.stderr


async def test_several_workers_need_postgresql(cli: object, backend: str) -> None:
    run = cli  # type: ignore[assignment]
    if backend != "sqlite":
        pytest.skip("on PostgreSQL the workers would start and serve")
    refused = run("serve", "--workers", "2", "--port", "1")
    assert refused.returncode == 1
    assert "Several workers need PostgreSQL" in refused.stderr
