"""The ``batchcall`` command: serve, worker, migrate, workspaces and keys, submit, status, export."""

import gc
import json
import logging
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer
import uvicorn
from rich.console import Console
from rich.table import Table

from batchcall import db, remote
from batchcall.auth import repository as auth_repository
from batchcall.auth import service as auth
from batchcall.config import Settings, get_settings
from batchcall.ingest import parallel
from batchcall.kit.errors import AppError
from batchcall.providers.registry import UnknownProvider
from batchcall.runtime import Runtime

app = typer.Typer(help="batchcall: bulk outbound engagements by AI agents.", no_args_is_help=True)
workspace_app = typer.Typer(help="Workspaces (tenants).", no_args_is_help=True)
key_app = typer.Typer(help="API keys of a workspace.", no_args_is_help=True)
app.add_typer(workspace_app, name="workspace")
app.add_typer(key_app, name="key")
console = Console()

JsonOption = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON")]


def _runtime(settings: Settings | None = None) -> Runtime:
    settings = settings or get_settings()
    try:
        runtime = Runtime.from_settings(settings)
    except UnknownProvider as mistake:
        console.print(f"[red]error:[/red] {mistake}")
        raise typer.Exit(1) from None
    db.migrate(settings.database_url)
    return runtime


def tune_garbage_collector() -> None:
    """Keep start-up objects out of every collection and collect the young generation less often: a
    100,000-row request allocates millions of short-lived objects, and default thresholds turn that
    into hundreds of collections and a long latency tail."""
    gc.freeze()
    gc.set_threshold(50_000, 20, 50)


def _fail(error: AppError) -> None:
    console.print(f"[red]error:[/red] {error.message}")
    raise typer.Exit(1)


@app.command()
def migrate() -> None:
    """Bring the database schema up to date."""
    db.migrate(get_settings().database_url)
    console.print("schema is up to date")


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Address to bind")] = None,
    port: Annotated[int | None, typer.Option(help="Port to bind")] = None,
) -> None:
    """Run the API (and, unless BATCHCALL_RUN_DISPATCHER=false, the dispatcher) in this process."""
    from batchcall.app import create_app
    from batchcall.observability import server_log_config

    settings = get_settings()
    logging.basicConfig(level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    runtime = _runtime(settings)
    parallel.warm_up()
    tune_garbage_collector()
    try:
        uvicorn.run(
            create_app(runtime),
            host=host or settings.host,
            port=port or settings.port,
            log_level=settings.log_level.lower(),
            log_config=server_log_config(),
        )
    finally:
        parallel.shutdown()


@workspace_app.command("create")
def workspace_create(
    name: str,
    slug: Annotated[str | None, typer.Option(help="URL-safe name; derived from NAME if omitted")] = None,
    as_json: JsonOption = False,
) -> None:
    """Create a workspace and an API key with every scope (shown once)."""
    runtime = _runtime()
    try:
        with db.unit_of_work(runtime.sessions) as session:
            workspace = auth.create_workspace(session, name, runtime.clock.now(), slug)
            key = auth.create_key(session, workspace.id, runtime.clock.now(), name="default")
    except AppError as error:
        _fail(error)
    answer = {
        "workspace_id": workspace.id,
        "slug": workspace.slug,
        "api_key": key.api_key,
        "key_id": key.key_id,
        "key_secret": key.key_secret,
    }
    if as_json:
        print(json.dumps(answer))
    else:
        console.print(f"workspace [bold]{workspace.name}[/bold] ({workspace.id}, slug {workspace.slug})")
        console.print(f"API key (shown once): [bold]{key.api_key}[/bold]")


@workspace_app.command("list")
def workspace_list(as_json: JsonOption = False) -> None:
    runtime = _runtime()
    with runtime.sessions() as session:
        rows = [
            {"id": w.id, "name": w.name, "slug": w.slug} for w in auth_repository.list_workspaces(session)
        ]
    if as_json:
        print(json.dumps(rows))
        return
    table = Table("id", "name", "slug")
    for row in rows:
        table.add_row(row["id"], row["name"], row["slug"])
    console.print(table)


@key_app.command("create")
def key_create(
    workspace_id: str,
    name: Annotated[str, typer.Option(help="A label for the key")] = "",
    scope: Annotated[
        list[str] | None, typer.Option(help="read, call_management or admin; repeat for more")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Create an API key (shown once)."""
    runtime = _runtime()
    try:
        with db.unit_of_work(runtime.sessions) as session:
            key = auth.create_key(session, workspace_id, runtime.clock.now(), name, scope)
    except AppError as error:
        _fail(error)
    answer = {
        "key_id": key.key_id,
        "key_secret": key.key_secret,
        "api_key": key.api_key,
        "scopes": list(key.scopes),
    }
    if as_json:
        print(json.dumps(answer))
    else:
        console.print(f"API key (shown once): [bold]{key.api_key}[/bold] scopes: {', '.join(key.scopes)}")


@key_app.command("list")
def key_list(workspace_id: str, as_json: JsonOption = False) -> None:
    runtime = _runtime()
    with runtime.sessions() as session:
        rows = [
            {
                "key_id": k.id,
                "name": k.name,
                "scopes": k.scopes,
                "created_at": k.created_at.isoformat(),
                "revoked_at": k.revoked_at.isoformat() if k.revoked_at else None,
            }
            for k in auth_repository.list_keys(session, workspace_id)
        ]
    if as_json:
        print(json.dumps(rows))
        return
    table = Table("key_id", "name", "scopes", "created", "revoked")
    for key in rows:
        scopes = key["scopes"]
        assert isinstance(scopes, list)
        table.add_row(
            str(key["key_id"]),
            str(key["name"]),
            ", ".join(scopes),
            str(key["created_at"]),
            str(key["revoked_at"] or ""),
        )
    console.print(table)


@key_app.command("revoke")
def key_revoke(key_id: str) -> None:
    """Revoke a key; requests with it answer 401 from then on."""
    runtime = _runtime()
    try:
        with db.unit_of_work(runtime.sessions) as session:
            auth.revoke_key(session, key_id, runtime.clock.now())
    except AppError as error:
        _fail(error)
    console.print(f"revoked {key_id}")


@app.command()
def worker() -> None:
    """Run the dispatcher and the webhook sender: claim due calls and dial them until SIGTERM or SIGINT.

    Any number of workers may share one PostgreSQL database. The first signal stops new dials and lets
    this worker's calls in flight finish; a second stops at once (another worker recovers those calls).
    """
    from batchcall.dispatcher.worker import run_worker
    from batchcall.webhooks.sender import BackgroundSender

    settings = get_settings()
    logging.basicConfig(level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    runtime = _runtime(settings)
    sender = BackgroundSender(runtime)
    sender.start()
    try:
        run_worker(runtime)
    finally:
        sender.stop()


@app.command()
def status(
    batch_id: str,
    watch: Annotated[bool, typer.Option("--watch/--once", help="Follow until the batch ends")] = True,
    interval: Annotated[float, typer.Option(help="Seconds between refreshes while watching")] = 1.0,
    as_json: JsonOption = False,
) -> None:
    """Show a batch's progress: a bar of calls finished, its counters, and when it dials next.

    Reads the database named by BATCHCALL_DATABASE_URL directly (no API key needed), so run it where
    the server's settings are.
    """
    import time

    from rich.live import Live

    from batchcall.batches import progress

    runtime = _runtime()
    batch = progress.snapshot(runtime, batch_id)
    if batch is None:
        _fail(AppError(f"Batch {batch_id} not found"))
        return
    if as_json:
        print(batch.model_dump_json())
        return
    if not watch or batch.status in progress.FINAL_STATUSES:
        console.print(progress.render(batch))
        return
    with Live(progress.render(batch), console=console) as live:
        while batch is not None and batch.status not in progress.FINAL_STATUSES:
            time.sleep(interval)
            batch = progress.snapshot(runtime, batch_id)
            if batch is not None:
                live.update(progress.render(batch))


ApiUrlOption = Annotated[str | None, typer.Option("--url", help="API base URL (default BATCHCALL_API_URL)")]
ApiKeyOption = Annotated[str | None, typer.Option("--key", help="API key (default BATCHCALL_API_KEY)")]


@app.command()
def submit(
    csv_file: Annotated[
        Path, typer.Argument(exists=True, dir_okay=False, readable=True, help="Contacts as CSV")
    ],
    batch_id: Annotated[
        str | None, typer.Option("--batch", help="Add to this batch instead of creating one")
    ] = None,
    name: Annotated[str | None, typer.Option(help="Name of the new batch (default: the file's name)")] = None,
    agent_id: Annotated[str | None, typer.Option(help="Agent of the new batch")] = None,
    from_number: Annotated[
        list[str] | None, typer.Option(help="Caller id of the new batch; repeat for a pool")
    ] = None,
    country_code: Annotated[str | None, typer.Option(help="Region of national numbers, e.g. US")] = None,
    start: Annotated[
        bool, typer.Option("--start/--draft", help="Schedule the batch once the rows are in")
    ] = True,
    url: ApiUrlOption = None,
    key: ApiKeyOption = None,
    as_json: JsonOption = False,
) -> None:
    """Upload a CSV of contacts through the API, with a progress bar; report accepted and skipped rows."""
    from rich.progress import BarColumn, DownloadColumn, Progress, TimeRemainingColumn, TransferSpeedColumn

    settings = get_settings()
    try:
        with remote.client(url or settings.api_url, key or settings.api_key) as http:
            if batch_id is None:
                fields: dict[str, Any] = {"name": name or csv_file.stem, "from_numbers": from_number or []}
                if agent_id:
                    fields["agent_id"] = agent_id
                batch_id = remote.create_batch(http, fields)["id"]
            columns = (
                "[progress.description]{task.description}",
                BarColumn(),
                DownloadColumn(),
                TransferSpeedColumn(),
                TimeRemainingColumn(),
            )
            with Progress(*columns, console=console, transient=as_json) as bar:
                task = bar.add_task("uploading", total=csv_file.stat().st_size)
                answer = remote.upload_csv(
                    http, batch_id, csv_file, country_code, lambda n: bar.advance(task, n)
                )
            if start and answer["accepted"]:
                remote.schedule(http, batch_id)
    except httpx.HTTPError as error:
        _fail(AppError(f"cannot reach the API: {error}"))
        return
    except AppError as error:
        _fail(error)
        return
    if as_json:
        print(json.dumps({"batch_id": batch_id, **answer}))
        return
    console.print(
        f"batch [bold]{batch_id}[/bold]: {answer['accepted']} accepted, {answer['skipped']} skipped"
    )
    if answer["errors"]:
        table = Table("row", "field", "reason", title="skipped rows (first 20)")
        for skipped in answer["errors"][:20]:
            table.add_row(str(skipped["row"]), skipped["field"], skipped["message"])
        console.print(table)


@app.command()
def export(
    batch_id: str,
    output: Annotated[
        Path | None, typer.Option("-o", "--output", help="File to write (default batch-ID.csv)")
    ] = None,
    url: ApiUrlOption = None,
    key: ApiKeyOption = None,
) -> None:
    """Download every call of a batch, with its status and outcome, as CSV."""
    settings = get_settings()
    target = output or Path(f"batch-{batch_id}.csv")
    try:
        with (
            remote.client(url or settings.api_url, key or settings.api_key) as http,
            target.open("wb") as handle,
        ):
            size = remote.export(http, batch_id, handle)
    except httpx.HTTPError as error:
        target.unlink(missing_ok=True)
        _fail(AppError(f"cannot reach the API: {error}"))
        return
    except AppError as error:
        target.unlink(missing_ok=True)
        _fail(error)
        return
    console.print(f"wrote {size:,} bytes to {target}")
