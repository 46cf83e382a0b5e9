"""The `certplatform` command line: serve, migrate, demo data, users, import/export, search."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from collections.abc import Awaitable, Callable
from enum import StrEnum
from pathlib import Path
from typing import Annotated, TypeVar

import typer

from certplatform.audit import handlers as audit_handlers
from certplatform.audit import service as audit
from certplatform.audit.chain import Checkpoint, Keyring
from certplatform.audit.contracts import VerifyResult
from certplatform.content import service as content
from certplatform.content.contracts import ImportSummary, QuestionOut, QuestionStatus
from certplatform.content.formats import registry
from certplatform.content.formats.base import ImportFormatError
from certplatform.identity import service as identity
from certplatform.kernel import migrate
from certplatform.kernel.db import Database
from certplatform.kernel.errors import AppError
from certplatform.kernel.events import EventBus, relay_pending
from certplatform.kernel.logging import configure_logging
from certplatform.kernel.settings import get_settings
from certplatform.kernel.storage import make_storage
from certplatform.roles import ROLE_PORTS, Role

# No permessage-deflate on websockets (the study rooms' Socket.IO, ADR 0030): each
# connection's zlib context with the default window and memory level cost about 40 KB of
# its 84; Socket.IO's messages are small, so compression saved little.
WS_DEFLATE = False

app = typer.Typer(help="cert-platform: exam preparation platform.", no_args_is_help=True)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
demo_app = typer.Typer(help="Demo content.", no_args_is_help=True)
users_app = typer.Typer(help="Accounts.", no_args_is_help=True)
audit_app = typer.Typer(help="Audit log.", no_args_is_help=True)
analytics_app = typer.Typer(help="Item response theory and pass prediction.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(demo_app, name="demo")
app.add_typer(users_app, name="users")
app.add_typer(audit_app, name="audit")
app.add_typer(analytics_app, name="analytics")
events_app = typer.Typer(help="Domain events on the bus.", no_args_is_help=True)
app.add_typer(events_app, name="events")

T = TypeVar("T")


class RoleChoice(StrEnum):
    learner = "learner"
    author = "author"
    admin = "admin"


class IrtModel(StrEnum):
    two_pl = "2pl"
    three_pl = "3pl"


class ImportStatus(StrEnum):
    draft = "draft"
    review = "review"
    published = "published"


def _fail(message: str, code: int = 1) -> typer.Exit:
    typer.secho(message, fg=typer.colors.RED, err=True)
    return typer.Exit(code)


def _run(work: Callable[[Database], Awaitable[T]]) -> T:
    settings = get_settings()
    _prepare_sqlite_dir(settings.database_url)

    async def main() -> T:
        db = Database(settings.async_database_url)
        try:
            return await work(db)
        finally:
            await db.dispose()

    try:
        return asyncio.run(main())
    except AppError as exc:
        details = exc.details.get("errors") if isinstance(exc.details, dict) else None
        for line in details or []:
            typer.echo(f"  {line}", err=True)
        raise _fail(exc.message) from exc


def _prepare_sqlite_dir(url: str) -> None:
    if "sqlite" in url and ":///" in url:
        path = url.split(":///", 1)[1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)


def _upgrade() -> None:
    settings = get_settings()
    _prepare_sqlite_dir(settings.database_url)
    migrate.upgrade(settings.async_database_url)


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Migrate the database to the newest schema."""
    _upgrade()
    typer.echo("Database is up to date.")


@db_app.command("check")
def db_check() -> None:
    """Fail when the models and the migrations disagree."""
    migrate.check(get_settings().async_database_url)
    typer.echo("Models and migrations agree.")


@demo_app.command("load")
def demo_load(
    users: Annotated[int, typer.Option(help="extra generated learner accounts")] = 0,
) -> None:
    """Load the demo certifications, questions, blueprints and accounts (idempotent)."""
    from certplatform.demo import load_demo, print_accounts

    _upgrade()
    storage = make_storage(get_settings())
    report = _run(lambda db: load_demo(db, storage, extra_users=users))
    for line in report.lines:
        typer.echo(line)
    print_accounts()


@app.command()
def serve(
    port: Annotated[
        int | None, typer.Option(help="port (default: PORT, else the role's documented port)")
    ] = None,
    host: Annotated[str | None, typer.Option(help="address to bind")] = None,
    demo: Annotated[bool, typer.Option(help="load the demo content first")] = False,
    workers: Annotated[
        int | None,
        typer.Option(min=1, max=64, help="processes (default: the cores in production, else 1)"),
    ] = None,
    role: Annotated[
        Role, typer.Option(help="which routes to serve (ADR 0019); all = the whole platform")
    ] = Role.all,
    migrate_first: Annotated[
        bool,
        typer.Option(
            "--migrate/--no-migrate",
            help="migrate the database before serving (off where a release job migrates)",
        ),
    ] = True,
) -> None:
    """Migrate, optionally load the demo, and serve the platform (or one role of it)."""
    import uvicorn

    from certplatform.app import create_app

    settings = get_settings()
    if demo and settings.production:
        raise _fail("The demo accounts have a published password; --demo is refused in production.")
    if migrate_first:
        _upgrade()
    if demo:
        from certplatform.demo import load_demo, print_accounts

        storage = make_storage(settings)
        for line in _run(lambda db: load_demo(db, storage)).lines:
            typer.echo(line)
        print_accounts()
    # PORT set in the environment wins over the role's port (containers set it per service).
    bind_port = port or (settings.port if "port" in settings.model_fields_set else ROLE_PORTS[role])
    bind_host = host or settings.host
    typer.echo(f"Serving role {role.value} on http://{bind_host}:{bind_port}  (Ctrl-C stops)")
    # The app alone decides whether X-Forwarded-For is believed (FORWARDED_ALLOW_IPS, see
    # kernel/net.py); uvicorn's own proxy handling would believe 127.0.0.1 by default.
    on_postgres = settings.asyncpg_dsn is not None
    processes = workers or ((os.cpu_count() or 1) if settings.production and on_postgres else 1)
    if processes > 1 and not on_postgres:
        # Sign-outs reach other processes through PostgreSQL (ADR 0020); SQLite has no channel.
        raise _fail("Several workers need PostgreSQL (DATABASE_URL); SQLite serves one process.")
    if processes > 1:
        # Each worker builds its own app from the same environment.
        os.environ["SERVE_ROLE"] = role.value
        uvicorn.run(
            "certplatform.app:create_role_app",
            factory=True,
            workers=processes,
            host=bind_host,
            port=bind_port,
            log_level="warning",
            proxy_headers=False,
            ws_per_message_deflate=WS_DEFLATE,
        )
        return
    uvicorn.run(
        create_app(settings, role),
        host=bind_host,
        port=bind_port,
        log_level="warning",
        proxy_headers=False,
        ws_per_message_deflate=WS_DEFLATE,
    )


@app.command()
def worker(
    metrics_port: Annotated[
        int,
        typer.Option(
            envvar="METRICS_PORT",
            min=0,
            max=65535,
            help="serve the Prometheus metrics on this port, all addresses (0: not served)",
        ),
    ] = 0,
    jobs_module: Annotated[
        list[str] | None,
        typer.Option("--jobs-module", help="also import this module, which declares jobs"),
    ] = None,
    concurrency: Annotated[int, typer.Option(min=1, max=256, help="jobs run at once")] = 16,
) -> None:
    """Run the background loops (periodic jobs, event relay, audit checkpoints) without
    serving HTTP, and with REDIS_URL consume the job queue: the job-svc of a role-split
    deployment, whose roles turn their loops off."""
    import importlib

    from certplatform.app import create_app
    from certplatform.kernel import jobs

    for module in jobs_module or []:
        importlib.import_module(module)
    settings = get_settings()
    application = create_app(settings)  # its lifespan only: no HTTP is served
    if metrics_port:
        from prometheus_client import start_http_server

        from certplatform.kernel.telemetry import REGISTRY

        start_http_server(metrics_port, registry=REGISTRY)
    application.state.consume_events = True  # with NATS_URL the event handlers run here

    async def main() -> None:
        from taskiq.receiver import Receiver

        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        async with application.router.lifespan_context(application):
            if jobs.on_redis():
                typer.echo("Worker running, taking jobs from Redis  (Ctrl-C stops)")
                jobs.broker.is_worker_process = True
                receiver = Receiver(jobs.broker, run_startup=False, max_async_tasks=concurrency)
                await receiver.listen(stop)
            else:
                typer.echo("Worker running  (Ctrl-C stops)")
                await stop.wait()

    asyncio.run(main())


@app.command()
def doctor(
    as_json: Annotated[bool, typer.Option("--json", help="one JSON document")] = False,
    timeout: Annotated[float, typer.Option(min=0.1, max=60, help="seconds per backend")] = 2.0,
) -> None:
    """Each configured backend: reachable or not, its version, and what runs embedded instead
    of the ones not set. Exit 1 when a configured backend does not answer."""
    from certplatform.kernel.doctor import analytics_store, check_all

    settings = get_settings()
    checks = asyncio.run(check_all(settings, timeout=timeout))
    analytics = analytics_store(settings)
    if as_json:
        document = {"backends": [c.as_dict() for c in checks], "analytics_store": analytics}
        typer.echo(json.dumps(document, ensure_ascii=False))
    else:
        for check in checks:
            if not check.configured:
                typer.echo(f"{check.backend:11} embedded     {check.fallback}")
                continue
            state = "ok" if check.reachable else "UNREACHABLE"
            version = f"  {check.version}" if check.version else ""
            typer.echo(f"{check.backend:11} {state:12} {check.target}{version}")
            if not check.reachable:
                typer.echo(f"{'':11} {'':12} {check.detail}")
        where = (
            f"on ClickHouse ({analytics['target']})"
            if analytics["engine"] == "clickhouse"
            else "in the application database"
        )
        typer.echo(f"{'analytics':11} {'store':12} {where}")
    if any(check.down for check in checks):
        raise typer.Exit(1)


@events_app.command("schema")
def events_schema(
    output: Annotated[
        Path, typer.Option("--output", "-o", help="directory of the generated files")
    ] = Path("docs/events"),
) -> None:
    """Write the event envelope's JSON Schema and the topic catalogue (generated from code)."""
    from certplatform.events_catalog import write_schema

    for path in write_schema(output):
        typer.echo(f"Wrote {path}.")


@users_app.command("create")
def users_create(
    email: str,
    role: Annotated[RoleChoice, typer.Option(help="learner, author or admin")] = RoleChoice.learner,
    name: Annotated[str, typer.Option(help="display name")] = "",
    password: Annotated[
        str | None, typer.Option(help="password (default: CERTPLATFORM_PASSWORD or a prompt)")
    ] = None,
) -> None:
    """Create an account."""
    secret = password or os.environ.get("CERTPLATFORM_PASSWORD")
    if not secret:
        secret = typer.prompt("Password", hide_input=True, confirmation_prompt=True)

    async def work(db: Database) -> str:
        async with db.transaction() as uow:
            user = await identity.create_user(
                uow, email, secret, role=role.value, display_name=name
            )
        return f"Created {user.email} ({user.role})."

    typer.echo(_run(work))


# `audit verify` exit codes: 0 intact, 1 tampered, 3 truncated (2 is typer's usage error).
VERIFY_EXIT = {"intact": 0, "tampered": 1, "truncated": 3}


async def _relay_audit(db: Database, keys: Keyring) -> None:
    bus = EventBus()
    audit_handlers.subscribe(bus, keys)
    async with db.sessions() as session:
        while await relay_pending(session, bus) > 0:
            pass


@audit_app.command("verify")
def audit_verify(
    since_checkpoint: Annotated[
        bool,
        typer.Option(
            "--since-checkpoint",
            help="check from the newest checkpoint to the head instead of the whole log",
        ),
    ] = False,
) -> None:
    """Bring the audit log up to date, then check its chain and its checkpoints.

    Exit 0: intact. Exit 1: tampered (an entry or checkpoint altered, removed or relinked).
    Exit 3: truncated (entries a checkpoint vouched for are gone from the end).
    """
    settings = get_settings()
    configure_logging(settings.log_level, json=False)
    keys = Keyring.from_settings(settings)
    store = make_storage(settings)

    async def work(db: Database) -> VerifyResult:
        await _relay_audit(db, keys)
        async with db.transaction() as uow:
            return await audit.verify(
                uow, keys=keys, store=store, since_checkpoint=since_checkpoint
            )

    result = _run(work)
    if not result.ok:
        label = "truncated" if result.status == "truncated" else "tampered"
        raise _fail(f"Audit log {label}: {result.message}", VERIFY_EXIT[result.status])
    typer.echo(result.message)
    if result.head_hash:
        typer.echo(f"Head: entry {result.head_seq}, hash {result.head_hash}")


@audit_app.command("checkpoint")
def audit_checkpoint() -> None:
    """Bring the audit log up to date, verify it since the last checkpoint, and publish a
    signed checkpoint of its head (to the file store and the log)."""
    settings = get_settings()
    configure_logging(settings.log_level, json=False)
    keys = Keyring.from_settings(settings)
    store = make_storage(settings)

    async def work(db: Database) -> Checkpoint | None:
        await _relay_audit(db, keys)
        async with db.transaction() as uow:
            return await audit.checkpoint(uow, store, keys=keys, force=True)

    made = _run(work)
    if made is None:
        typer.echo("The audit log is empty: nothing to checkpoint.")
        return
    typer.echo(f"Checkpoint: entry {made.seq}, hash {made.hash}")


@app.command("import")
def import_(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True)],
    format: Annotated[str, typer.Option("--format", "-f", help=", ".join(registry.FORMATS))],
    certification: Annotated[str, typer.Option(help="certification code (created if missing)")],
    name: Annotated[str | None, typer.Option(help="certification name when creating it")] = None,
    map: Annotated[str | None, typer.Option("--map", help="CSV column map")] = None,
    status: Annotated[
        ImportStatus, typer.Option(help="status of new questions")
    ] = ImportStatus.draft,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="report, change nothing")] = False,
    skip_invalid: Annotated[bool, typer.Option(help="import the valid items only")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="print a JSON summary")] = False,
) -> None:
    """Import questions from a file, all or nothing."""
    data = file.read_bytes()
    try:
        parsed = registry.read(
            format, data, registry.ReadOptions(mapping=map, base_dir=file.resolve().parent)
        )
    except ImportFormatError as exc:
        if as_json:
            typer.echo(
                json.dumps({"created": 0, "updated": 0, "unchanged": 0, "errors": [str(exc)]})
            )
        raise _fail(f"{file}: {exc}") from exc
    storage = make_storage(get_settings())

    async def work(db: Database) -> ImportSummary:
        async with db.transaction() as uow:
            return await content.import_drafts(
                uow,
                storage,
                certification,
                parsed.drafts,
                parse_errors=parsed.errors,
                certification_name=name,
                status=QuestionStatus(status.value),
                dry_run=dry_run,
                skip_invalid=skip_invalid,
                source_name=file.name,
            )

    try:
        summary = _run_import(work)
    except content.ImportRejected as exc:
        if as_json:
            typer.echo(
                json.dumps(
                    {"created": 0, "updated": 0, "unchanged": 0, "errors": exc.errors},
                    ensure_ascii=False,
                )
            )
        else:
            for line in exc.errors:
                typer.echo(f"  {line}", err=True)
        raise _fail(exc.message) from exc
    if as_json:
        typer.echo(
            json.dumps(
                {
                    "created": summary.created,
                    "updated": summary.updated,
                    "unchanged": summary.unchanged,
                    "errors": list(summary.errors),
                    "dry_run": summary.dry_run,
                },
                ensure_ascii=False,
            )
        )
    else:
        verb = "Would import" if dry_run else "Imported"
        typer.echo(
            f"{verb} into {certification}: {summary.created} created, {summary.updated} updated, "
            f"{summary.unchanged} unchanged, {len(summary.errors)} skipped."
        )
        for line in summary.errors:
            typer.echo(f"  skipped {line}")


def _run_import(work: Callable[[Database], Awaitable[ImportSummary]]) -> ImportSummary:
    settings = get_settings()
    _prepare_sqlite_dir(settings.database_url)

    async def main() -> ImportSummary:
        db = Database(settings.async_database_url)
        try:
            return await work(db)
        finally:
            await db.dispose()

    return asyncio.run(main())


@app.command()
def export(
    certification: Annotated[str, typer.Option(help="certification code")],
    format: Annotated[
        str, typer.Option("--format", "-f", help="gift, moodle-xml, qti21, csv, aiken")
    ],
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="file (default: stdout)")
    ] = None,
    status: Annotated[
        QuestionStatus | None, typer.Option(help="only questions in this status")
    ] = None,
) -> None:
    """Export a certification's questions to a file that imports back to the same questions."""
    storage = make_storage(get_settings())

    async def work(db: Database) -> bytes:
        async with db.transaction() as uow:
            drafts = await content.export_drafts(uow, storage, certification, status)
        return registry.write(format, drafts)

    try:
        data = _run(work)
    except (ImportFormatError, ValueError) as exc:
        raise _fail(str(exc)) from exc
    if output:
        output.write_bytes(data)
        typer.echo(f"Wrote {output}.", err=True)
    else:
        sys.stdout.buffer.write(data)


@app.command()
def search(
    text: str,
    certification: Annotated[str | None, typer.Option(help="certification code")] = None,
    subject: Annotated[str | None, typer.Option(help="subject code")] = None,
    tag: Annotated[str | None, typer.Option(help="tag")] = None,
    status: Annotated[QuestionStatus | None, typer.Option(help="status")] = None,
    limit: Annotated[int, typer.Option(min=1, max=200)] = 10,
    as_json: Annotated[bool, typer.Option("--json", help="JSON lines")] = False,
) -> None:
    """Full-text search over stems, choices and explanations, best first."""

    async def work(db: Database) -> list[QuestionOut]:
        async with db.transaction() as uow:
            return await content.find_questions(
                uow,
                query=text,
                certification_code=certification,
                subject_code=subject,
                tag=tag,
                status=status,
                limit=limit,
            )

    found = _run(work)
    if not found:
        typer.echo("No questions found.", err=True)
        raise typer.Exit(1)
    for q in found:
        if as_json:
            typer.echo(
                json.dumps(
                    {
                        "id": q.id,
                        "certification": q.certification_code,
                        "external_id": q.external_id,
                        "status": q.status.value,
                        "stem": q.version.content.stem,
                    },
                    ensure_ascii=False,
                )
            )
        else:
            stem = " ".join(q.version.content.stem.split())
            label = q.external_id or q.id[:8]
            typer.echo(f"{q.certification_code} {label} [{q.status.value}] {stem[:100]}")


@analytics_app.command("irt")
def analytics_irt(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True)],
    model: Annotated[
        IrtModel, typer.Option(help="2pl, or 3pl with c = 1/choices")
    ] = IrtModel.two_pl,
    choices: Annotated[int | None, typer.Option(min=2, help="choices per item (3pl)")] = None,
    priors: Annotated[bool, typer.Option(help="weak priors on a and b (MAP)")] = True,
    id_column: Annotated[
        bool | None, typer.Option("--id-column/--no-id-column", help="first column is a person id")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
) -> None:
    """Calibrate items from a 0/1 response matrix (blank = not presented)."""
    from certplatform.analytics import irt
    from certplatform.analytics.response_csv import MalformedResponses, read_responses

    try:
        responses = read_responses(file.read_bytes(), id_column=id_column)
        result = irt.calibrate(
            responses,
            irt.Model(model.value),
            choices=choices,
            priors=irt.DEFAULT_PRIORS if priors else None,
        )
    except (MalformedResponses, ValueError) as exc:
        raise _fail(f"{file}: {exc}", code=2) from exc
    items = result.items
    rows: list[dict[str, str | float]] = []
    for i, name in enumerate(items.names):
        row: dict[str, str | float] = {"item": name, "a": float(items.a[i]), "b": float(items.b[i])}
        if model is IrtModel.three_pl:
            row["c"] = float(items.c[i])
        rows.append(row)
    if as_json:
        typer.echo(
            json.dumps(
                {
                    "model": model.value,
                    "items": rows,
                    "loglik": result.loglik,
                    "persons": responses.n_persons,
                    "responses": len(responses.item),
                    "iterations": result.iterations,
                    "converged": result.converged,
                },
                ensure_ascii=False,
            )
        )
        return
    for row in rows:
        extra = f"  c={row['c']:.3f}" if "c" in row else ""
        typer.echo(f"{row['item']:20} a={row['a']:7.3f}  b={row['b']:7.3f}{extra}")
    state = "converged" if result.converged else "NOT converged"
    typer.echo(f"log-likelihood {result.loglik:.3f}, {result.iterations} iterations, {state}")


@analytics_app.command("backfill")
def analytics_backfill() -> None:
    """Rebuild the analytics store (facts and rollups) from the learning tables."""
    from certplatform.analytics.backfill import backfill

    async def work(db: Database) -> str:
        async with db.transaction() as uow:
            report = await backfill(uow)
        return (
            f"Rebuilt analytics: {report.answers} answers, {report.attempts} attempts, "
            f"{report.practice_runs} practice runs."
        )

    typer.echo(_run(work))


if __name__ == "__main__":
    app()
