"""The ``perfapi`` command: serve, migrate, orgs, keys, rollups, secrets, openapi."""

import asyncio
import json
import os
import signal
from collections.abc import Awaitable, Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import asdict
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from types import FrameType
from typing import Annotated, TypeVar
from uuid import UUID

import typer
import uvicorn
from fastapi import FastAPI
from pydantic import ValidationError
from rich.console import Console
from rich.markup import escape
from rich.panel import Panel
from rich.table import Table
from sqlalchemy.ext.asyncio import AsyncSession

from perfapi.app import create_app
from perfapi.audit import changes as audit_changes
from perfapi.audit import service as audit
from perfapi.audit.actions import Action
from perfapi.audit.service import acting_as
from perfapi.auth.actors import CLI
from perfapi.auth.service import issue_key
from perfapi.auth.tokens import Scope
from perfapi.config import Settings
from perfapi.db.embedded import DataDirInUseError, embedded_postgres, serve_lock
from perfapi.db.engine import create_engine
from perfapi.db.migrate import migrate, migration_lock, upgrade_to_head
from perfapi.demo import DemoSummary, OrgNotEmptyError, load_demo
from perfapi.errors import ProblemError
from perfapi.models import Org
from perfapi.ops.gc import tune_garbage_collector
from perfapi.ops.logs import configure_logging
from perfapi.orgs import repository as orgs_repository
from perfapi.orgs import service as orgs
from perfapi.orgs.service import BootstrapKey
from perfapi.points.import_progress import print_import_summary, run_import
from perfapi.points.importer import ImportFailedError
from perfapi.replicas.startup import ReplicaUnusableError, check_read_replica
from perfapi.rollups import service as rollups
from perfapi.rollups.repository import ParkedChange
from perfapi.vault.commands import secrets_cli
from perfapi.vault.keys import KeyUnavailableError
from perfapi.vault.setup import prepare_keys, warn_if_unshared

T = TypeVar("T")

cli = typer.Typer(no_args_is_help=True, add_completion=False, help=__doc__)
orgs_cli = typer.Typer(no_args_is_help=True, help="Organisations.")
keys_cli = typer.Typer(no_args_is_help=True, help="API keys.")
cli.add_typer(orgs_cli, name="orgs")
rollups_cli = typer.Typer(
    no_args_is_help=True, help="Rollup changes the background refresher set aside."
)
cli.add_typer(keys_cli, name="keys")
cli.add_typer(rollups_cli, name="rollups")
cli.add_typer(secrets_cli, name="secrets")

out = Console()
err = Console(stderr=True)

DEFAULT_OPENAPI_PATH = Path("openapi/openapi.json")


def main() -> None:
    try:
        cli()
    except ValidationError as exc:
        if exc.title != Settings.__name__:
            raise
        # A setting from the environment is wrong: say which, without a traceback (and
        # without its value: Settings hides inputs, which may be keys or passwords).
        for problem in exc.errors(include_url=False, include_input=False):
            name = "PERFAPI_" + "_".join(map(str, problem["loc"])).upper()
            message = problem["msg"].removeprefix("Value error, ")
            if "PERFAPI_" not in message:
                message = f"{name}: {message}"
            err.print(f"[bold red]error:[/] {escape(message)}", soft_wrap=True)
        raise SystemExit(1) from None
    except KeyUnavailableError as exc:
        err.print(f"[bold red]error:[/] {escape(str(exc))}", soft_wrap=True)
        raise SystemExit(1) from None


def _fail(message: str) -> typer.Exit:
    err.print(f"[bold red]error:[/] {message}", soft_wrap=True)
    return typer.Exit(code=1)


@contextmanager
def _database(settings: Settings, *, serving: bool = False) -> Iterator[Settings]:
    """Settings with a usable database_url: the configured one, else the embedded server."""
    if settings.database_url is not None:
        yield settings
        return
    with ExitStack() as stack:
        try:
            if serving:
                stack.enter_context(serve_lock(settings.data_dir))
            url = stack.enter_context(embedded_postgres(settings.data_dir))
        except DataDirInUseError as exc:
            raise _fail(str(exc)) from None
        yield settings.model_copy(update={"database_url": url})


async def _migrated_session_work(
    settings: Settings, work: Callable[[AsyncSession], Awaitable[T]]
) -> T:
    """Migrate under the lock, then run ``work`` in one committed transaction."""
    assert settings.database_url is not None
    engine = create_engine(settings.database_url, settings)
    try:
        async with migration_lock(engine) as connection:
            await upgrade_to_head(connection)
            async with AsyncSession(bind=connection, expire_on_commit=False) as session:
                result = await work(session)
                await session.commit()
                return result
    finally:
        await engine.dispose()


def _run(settings: Settings, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    try:
        # What a command writes is the operator's, in the audit log; only for the
        # command: `serve` goes on to answer requests, each with its own actor.
        with acting_as(CLI):
            return asyncio.run(_migrated_session_work(settings, work))
    except ProblemError as exc:
        raise _fail(str(exc.detail)) from None


@cli.command()
def serve(
    workers: Annotated[
        int | None,
        typer.Option(min=1, max=64, help="Server processes on the port (PERFAPI_WORKERS)."),
    ] = None,
    demo: Annotated[
        bool | None,
        typer.Option(
            "--demo/--no-demo",
            help="On the first start (an empty database), fill the new org with the demo "
            "data (PERFAPI_DEMO).",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Migrate the database, then serve the API (embedded PostgreSQL unless configured)."""
    settings = Settings()
    if workers is not None:
        settings = settings.model_copy(update={"workers": workers})
    if demo is not None:
        settings = settings.model_copy(update={"demo": demo})
    configure_logging(settings.log_level, as_json=settings.log_json)
    # uvicorn shuts down gracefully on SIGTERM, then re-raises the signal under the
    # handler that was installed before it. Ours turns it into a normal exit, so the
    # `with` blocks below still stop the embedded PostgreSQL.
    signal.signal(signal.SIGTERM, _exit_normally)
    warn_if_unshared(settings)
    with _database(settings, serving=True) as settings:
        prepare_keys(settings)  # before anything else: a key problem stops the start
        bootstrap, demo_summary = _run(settings, partial(_first_start, demo=settings.demo))
        if bootstrap is not None:
            _announce_bootstrap(bootstrap)
        if demo_summary is not None:
            _announce_demo(demo_summary, settings)
        try:
            # Here rather than only in the app's startup, where uvicorn would report
            # a wrong replica as a traceback.
            asyncio.run(check_read_replica(settings))
        except ReplicaUnusableError as exc:
            raise _fail(escape(str(exc))) from None
        tune_garbage_collector()
        app: FastAPI | str
        if settings.workers == 1:
            app = create_app(settings)
        else:
            # Migrated and bootstrapped once, above; now the workers. They are new
            # processes that read their settings from the environment: give them the
            # database chosen here (the embedded server's, say). uvicorn's supervisor
            # drains and stops them on SIGTERM.
            assert settings.database_url is not None
            os.environ["PERFAPI_DATABASE_URL"] = settings.database_url
            app = "perfapi.app:app_from_environment"
        uvicorn.run(
            app,
            factory=settings.workers > 1,
            workers=settings.workers,
            host=settings.host,
            port=settings.port,
            log_config=None,
            access_log=False,
            proxy_headers=True,
        )


async def _first_start(
    session: AsyncSession, *, demo: bool
) -> tuple[BootstrapKey | None, DemoSummary | None]:
    """On an empty database, org ``default`` and its admin key, and with ``demo`` the demo
    data in that org: one transaction, so a load that fails leaves the database empty and
    the next start tries again. A database already in use is left as it is."""
    bootstrap = await orgs.bootstrap_first_org(session)
    if bootstrap is None or not demo:
        return bootstrap, None
    summary = await load_demo(session, bootstrap.org.id, today=datetime.now(UTC).date())
    return bootstrap, summary


def _announce_demo(summary: DemoSummary, settings: Settings) -> None:
    out.print(
        f"Loaded the demo data: {summary.objectives} objectives, {summary.kpis} KPIs, "
        f"{summary.points:,} points. The console: http://{settings.host}:{settings.port}/ "
        "(sign in with the key above).",
        soft_wrap=True,
    )


def _exit_normally(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(0)


def _announce_bootstrap(bootstrap: BootstrapKey) -> None:
    out.print(
        Panel(
            f"Created org [bold]{bootstrap.org.name}[/] and its first admin API key.\n"
            "It is shown only now; store it:\n\n"
            f"[bold green]{bootstrap.token}[/]",
            title="perfapi: first start",
        )
    )


@cli.command("migrate")
def migrate_command() -> None:
    """Bring the database schema to the newest version."""
    settings = Settings()
    configure_logging(settings.log_level, as_json=settings.log_json)

    async def run(url: str) -> None:
        engine = create_engine(url, settings)
        try:
            await migrate(engine)
        finally:
            await engine.dispose()

    with _database(settings) as settings:
        assert settings.database_url is not None
        asyncio.run(run(settings.database_url))
    out.print("database schema is up to date")


@orgs_cli.command("create")
def orgs_create(name: Annotated[str, typer.Argument(help="A unique org name.")]) -> None:
    """Create an org."""
    settings = Settings()

    async def work(session: AsyncSession) -> Org:
        org = await orgs.create_org(session, name)
        await orgs.record_created(session, org)
        return org

    with _database(settings) as settings:
        org = _run(settings, work)
    out.print(f"created org {org.name} ({org.id})")


@orgs_cli.command("list")
def orgs_list() -> None:
    """List orgs."""
    settings = Settings()
    with _database(settings) as settings:
        all_orgs = _run(settings, orgs_repository.list_all)
    table = Table("name", "id", "created_at")
    for org in all_orgs:
        table.add_row(org.name, str(org.id), org.created_at.isoformat())
    out.print(table)


@keys_cli.command("create")
def keys_create(
    org: Annotated[str, typer.Option(help="The org's name.")],
    scope: Annotated[list[Scope], typer.Option(help="Repeat for several scopes.")],
    name: Annotated[str, typer.Option(help="What the key is for.")] = "created by the CLI",
    rate_limit_per_minute: Annotated[
        int | None,
        typer.Option(
            min=1,
            max=1_000_000,
            help="The key's own requests per minute; default: PERFAPI_RATE_LIMIT_PER_MINUTE.",
        ),
    ] = None,
) -> None:
    """Create an API key and print it once."""
    settings = Settings()

    async def work(session: AsyncSession) -> str:
        owner = await orgs.org_named(session, org)
        key, token = await issue_key(
            session, owner.id, name, scope, rate_limit_per_minute=rate_limit_per_minute
        )
        await audit.record(
            session, owner.id, Action.API_KEY_CREATED, key.id, audit_changes.created(key)
        )
        return token

    with _database(settings) as settings:
        token = _run(settings, work)
    typer.echo(token)


OrgOption = Annotated[str | None, typer.Option("--org", help="Only this org (by name).")]
KpiOption = Annotated[
    str | None, typer.Option("--kpi", help="Only this KPI, by key or id; needs --org.")
]


async def _org_id(session: AsyncSession, org: str | None) -> UUID | None:
    return None if org is None else (await orgs.org_named(session, org)).id


@rollups_cli.command("parked")
def rollups_parked(
    org: OrgOption = None,
    kpi: KpiOption = None,
    limit: Annotated[int, typer.Option(min=1, max=100_000)] = 100,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per line.")] = False,
) -> None:
    """List rollup changes parked after repeated failures (reads of their days stay exact)."""
    if kpi is not None and org is None:
        raise _fail("--kpi needs --org")
    settings = Settings()

    async def work(session: AsyncSession) -> tuple[list[ParkedChange], int]:
        return await rollups.parked_changes(session, await _org_id(session, org), kpi, limit)

    with _database(settings) as settings:
        listed, total = _run(settings, work)
    if as_json:
        for change in listed:
            typer.echo(json.dumps(change._asdict(), default=str))
        return
    if not listed:
        out.print("no parked rollup changes")
        return
    table = Table("org", "kpi")
    # Days and times stay whole; names and the error wrap in a narrow terminal.
    for heading in ("days", "tries", "parked at"):
        table.add_column(heading, no_wrap=True)
    table.add_column("last error", overflow="fold")
    for change in listed:
        table.add_row(
            change.org_name,
            change.kpi_key or str(change.kpi_id),
            str(change.first_day)
            if change.first_day == change.last_day
            else f"{change.first_day}..{change.last_day}",
            str(change.attempts),
            change.parked_at.astimezone(UTC).strftime("%Y-%m-%d %H:%MZ"),
            change.last_error or "",
        )
    out.print(table)
    if total > len(listed):
        out.print(f"{len(listed)} of {total} shown; narrow with --org/--kpi or raise --limit")


@rollups_cli.command("retry")
def rollups_retry(
    org: OrgOption = None,
    kpi: KpiOption = None,
    every: Annotated[bool, typer.Option("--all", help="Every org's parked changes.")] = False,
) -> None:
    """Queue parked rollup changes again: due now, with a fresh count of tries."""
    if kpi is not None and org is None:
        raise _fail("--kpi needs --org")
    if every == (org is not None):
        raise _fail("pass either --org (optionally with --kpi) or --all")
    settings = Settings()

    async def work(session: AsyncSession) -> int:
        return await rollups.retry_parked(session, await _org_id(session, org), kpi)

    with _database(settings) as settings:
        count = _run(settings, work)
    out.print(f"{count} parked rollup change(s) queued for retry")


@cli.command("import")
def import_command(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help=".csv or .ndjson")],
    url: Annotated[str, typer.Option(help="The perfapi server.")] = "http://127.0.0.1:8000",
    key: Annotated[
        str, typer.Option(envvar="PERFAPI_API_KEY", help="An API key with the ingest scope.")
    ] = "",
    batch_size: Annotated[int, typer.Option(min=1, max=100_000)] = 5000,
    parallel: Annotated[int, typer.Option(min=1, max=16, help="Batches in flight.")] = 4,
) -> None:
    """Stream a CSV or NDJSON file of points to a running server, in batches."""
    if not key:
        raise _fail("pass --key or set PERFAPI_API_KEY")
    try:
        summary = asyncio.run(run_import(file, file.stat().st_size, url, key, batch_size, parallel))
    except ImportFailedError as exc:
        raise _fail(f"{file}: {exc}") from None
    print_import_summary(out, file, summary)


@cli.command()
def demo(
    org: Annotated[str, typer.Option(help="The org to fill; it must be empty.")] = "default",
    seed: Annotated[int, typer.Option(help="Another seed, other numbers.")] = 7,
) -> None:
    """Fill an empty org with a year of realistic strategy, KPIs and measurements."""
    settings = Settings()
    today = datetime.now(UTC).date()

    async def work(session: AsyncSession) -> DemoSummary:
        owner = await orgs.org_named(session, org)
        return await load_demo(session, owner.id, today=today, seed=seed)

    with _database(settings) as settings:
        try:
            summary = _run(settings, work)
        except OrgNotEmptyError as exc:
            raise _fail(str(exc)) from None
    table = Table(title=f"demo data in org {org}", show_header=False)
    for name, value in asdict(summary).items():
        table.add_row(name.replace("_", " "), f"{value:,}")
    out.print(table)


@cli.command()
def openapi(
    check: Annotated[bool, typer.Option(help="Fail if the file differs from the code.")] = False,
    output: Annotated[Path, typer.Option(help="Where the document lives.")] = DEFAULT_OPENAPI_PATH,
) -> None:
    """Write the OpenAPI document (or, with --check, verify it is current)."""
    document = json.dumps(create_app(Settings()).openapi(), indent=2, ensure_ascii=False) + "\n"
    if check:
        current = output.read_text() if output.exists() else ""
        if current != document:
            raise _fail(f"{output} is stale: run `perfapi openapi` and commit the result")
        out.print(f"{output} is current")
        return
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(document)
    out.print(f"wrote {output}")
