"""The ``batchcall`` command.

Two kinds of command. The operator's (``submit``, ``status``, ``batches ...``) talk to the API, wherever it
runs, with a key: ``--api-url``/``--api-key``, else ``BATCHCALL_API_URL``/``BATCHCALL_API_KEY``, else the
config file (``batchcall.config.config_file``). Local administration (``serve``, ``worker``, ``migrate``,
``workspace``, ``key``) opens the database of ``BATCHCALL_DATABASE_URL`` itself, and says on stderr which
one it opened, so that run in the wrong folder it does not quietly make a new one.
"""

import gc
import json
import logging
import re
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

import sqlalchemy.exc
import typer
import uvicorn
from pydantic import ValidationError
from rich.console import Console
from rich.live import Live
from rich.progress import BarColumn, DownloadColumn, Progress, TimeRemainingColumn, TransferSpeedColumn
from rich.table import Table
from rich.text import Text
from sqlalchemy.engine import make_url

from batchcall import db
from batchcall.auth import repository as auth_repository
from batchcall.auth import service as auth
from batchcall.batches import progress
from batchcall.config import ClientSettings, Settings, config_file, get_settings
from batchcall.ingest import parallel
from batchcall.kit import sealing
from batchcall.kit.errors import AppError, Conflict
from batchcall.models import BatchStatus, CallStatus
from batchcall.provider_accounts import service as provider_accounts
from batchcall.providers.registry import UnknownProvider
from batchcall.remote import Api, RemoteError
from batchcall.runtime import Runtime

app = typer.Typer(help="batchcall: bulk outbound engagements by AI agents.", no_args_is_help=True)
workspace_app = typer.Typer(help="Workspaces (tenants), in the local database.", no_args_is_help=True)
key_app = typer.Typer(help="API keys of a workspace, in the local database.", no_args_is_help=True)
batches_app = typer.Typer(help="Batches, through the API: list, show, start, pause ...", no_args_is_help=True)
app.add_typer(workspace_app, name="workspace")
app.add_typer(key_app, name="key")
app.add_typer(batches_app, name="batches")
# Lines are not broken at the terminal's width, so that an id or a path can be copied whole.
# No markup in what is printed: a batch's name or a server's message is shown as it is, brackets and all.
console = Console(soft_wrap=True, markup=False, highlight=False)
# Errors, the database a command opened, and progress bars go to stderr, so that stdout is only the answer.
notes = Console(stderr=True, soft_wrap=True, markup=False, highlight=False)


def _table(*columns: str) -> Table:
    """A table whose first column, an id to copy, is never shortened or broken."""
    table = Table(*columns)
    table.columns[0].no_wrap = True
    table.columns[0].overflow = "ignore"
    return table


JsonOption = Annotated[bool, typer.Option("--json", help="Print the answer as JSON")]
ApiUrlOption = Annotated[
    str | None,
    typer.Option(
        "--api-url",
        help="The API's base URL (else BATCHCALL_API_URL, the config file, or http://127.0.0.1:8000)",
        show_default=False,
    ),
]
ApiKeyOption = Annotated[
    str | None,
    typer.Option(
        "--api-key", help="An API key (else BATCHCALL_API_KEY or the config file)", show_default=False
    ),
]
BatchId = Annotated[str, typer.Argument(help="The batch's id")]


def _fail(message: str) -> None:
    notes.print(Text.assemble(("error:", "red"), f" {message}"))
    raise typer.Exit(1)


@contextmanager
def _failing() -> Iterator[None]:
    """Any refusal, a key that is wrong, a server that is down: one line on stderr and exit 1."""
    try:
        yield
    except AppError as error:
        _fail(error.message)


def _api(api_url: str | None, api_key: str | None) -> Api:
    given: dict[str, Any] = {n: v for n, v in (("api_url", api_url), ("api_key", api_key)) if v}
    try:
        settings = ClientSettings(**given)
    except (ValueError, ValidationError) as mistake:
        # tomllib's TOMLDecodeError is a ValueError; a value of the wrong type is a ValidationError.
        raise RemoteError(f"The config file {config_file()} cannot be read: {mistake}") from None
    return Api(settings)


def _print_json(answer: Any) -> None:
    typer.echo(json.dumps(answer, indent=2, default=str))


# Local administration: the database of BATCHCALL_DATABASE_URL.


def database_named(url: str) -> str:
    """The database ``url`` opens, as a person should read it: the password masked, a SQLite file by its
    absolute path."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database and parsed.database != ":memory:":
        parsed = parsed.set(database=str(Path(parsed.database).resolve()))
    return parsed.render_as_string(hide_password=True)


def _missing_sqlite_file(url: str) -> Path | None:
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or not parsed.database or parsed.database == ":memory:":
        return None
    path = Path(parsed.database).resolve()
    return None if path.exists() else path


def _runtime(settings: Settings | None = None, create: bool = False) -> Runtime:
    """The runtime of the settings, its database brought up to date. Only ``create`` (serve, worker,
    migrate) may make a new SQLite file; any other command run where there is none says so."""
    settings = settings or get_settings()
    notes.print(f"database: {database_named(settings.database_url)}")
    missing = _missing_sqlite_file(settings.database_url)
    if missing is not None and not create:
        _fail(
            f"No database at {missing}: run this where `batchcall serve` runs, set BATCHCALL_DATABASE_URL "
            "to its database, or create one here with `batchcall migrate`"
        )
    try:
        runtime = Runtime.from_settings(settings)
        db.migrate(settings.database_url)
    except UnknownProvider as mistake:
        _fail(str(mistake))
    except sqlalchemy.exc.SQLAlchemyError as error:
        reason = str(getattr(error, "orig", None) or error).strip().splitlines()[0]
        _fail(f"Cannot open the database {database_named(settings.database_url)}: {reason}")
    return runtime


def tune_garbage_collector() -> None:
    """Keep start-up objects out of every collection and collect the young generation less often: a
    100,000-row request allocates millions of short-lived objects, and default thresholds turn that
    into hundreds of collections and a long latency tail."""
    gc.freeze()
    gc.set_threshold(50_000, 20, 50)


@app.command()
def migrate() -> None:
    """Bring the database schema up to date (creating a SQLite file if there is none)."""
    _runtime(create=True).engine.dispose()
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
    runtime = _runtime(settings, create=True)
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
    runtime = _runtime(settings, create=True)
    sender = BackgroundSender(runtime)
    sender.start()
    try:
        run_worker(runtime)
    finally:
        sender.stop()


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
    except Conflict as error:
        _fail(
            f"{error.message}; `batchcall workspace list` shows the workspaces, `batchcall key create` "
            "makes another key for one"
        )
    except AppError as error:
        _fail(error.message)
    answer = {
        "workspace_id": workspace.id,
        "slug": workspace.slug,
        "api_key": key.api_key,
        "key_id": key.key_id,
        "key_secret": key.key_secret,
    }
    if as_json:
        _print_json(answer)
        return
    where = f" ({workspace.id}, slug {workspace.slug})"
    console.print(Text.assemble("workspace ", (workspace.name, "bold"), where))
    console.print(Text.assemble("API key (shown once): ", (key.api_key, "bold")))


@workspace_app.command("list")
def workspace_list(as_json: JsonOption = False) -> None:
    """The workspaces of the database."""
    runtime = _runtime()
    with runtime.sessions() as session:
        rows = [
            {"id": w.id, "name": w.name, "slug": w.slug} for w in auth_repository.list_workspaces(session)
        ]
    if as_json:
        _print_json(rows)
        return
    table = _table("id", "name", "slug")
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
    with _failing(), db.unit_of_work(runtime.sessions) as session:
        key = auth.create_key(session, workspace_id, runtime.clock.now(), name, scope)
    answer = {
        "key_id": key.key_id,
        "key_secret": key.key_secret,
        "api_key": key.api_key,
        "scopes": list(key.scopes),
    }
    if as_json:
        _print_json(answer)
        return
    console.print(
        Text.assemble("API key (shown once): ", (key.api_key, "bold"), f" scopes: {', '.join(key.scopes)}")
    )


@key_app.command("list")
def key_list(workspace_id: str, as_json: JsonOption = False) -> None:
    """The keys of a workspace (never their secrets)."""
    runtime = _runtime()
    with runtime.sessions() as session:
        rows = [
            {
                "key_id": k.id,
                "name": k.name,
                "scopes": list(k.scopes),
                "created_at": k.created_at.isoformat(),
                "revoked_at": k.revoked_at.isoformat() if k.revoked_at else None,
            }
            for k in auth_repository.list_keys(session, workspace_id)
        ]
    if as_json:
        _print_json(rows)
        return
    table = _table("key_id", "name", "scopes", "created", "revoked")
    for key in rows:
        table.add_row(
            str(key["key_id"]),
            str(key["name"]),
            ", ".join(key["scopes"] or []),
            str(key["created_at"]),
            str(key["revoked_at"] or ""),
        )
    console.print(table)


@key_app.command("revoke")
def key_revoke(key_id: str) -> None:
    """Revoke a key; requests with it answer 401 from then on."""
    runtime = _runtime()
    with _failing(), db.unit_of_work(runtime.sessions) as session:
        auth.revoke_key(session, key_id, runtime.clock.now())
    console.print(f"revoked {key_id}")


@app.command("secret-key")
def secret_key() -> None:
    """Print a new key for BATCHCALL_SECRET_KEYS, which seals stored secrets (provider credentials)."""
    print(sealing.new_key())


@app.command("rotate-secrets")
def rotate_secrets() -> None:
    """Seal every stored secret again with the first key of BATCHCALL_SECRET_KEYS: put a new key first,
    run this, then drop the old key."""
    runtime = _runtime()
    with _failing(), db.unit_of_work(runtime.sessions) as session:
        count = provider_accounts.reseal_all(session, runtime.sealer)
    console.print(f"sealed the secrets of {count} provider account(s) with the first key")


# The operator's commands: through the API.


def _said(batch: dict[str, Any]) -> str:
    """One line: the batch, its status, and why it waits (or when it dials next)."""
    line = f"batch {batch['id']} ({batch['name']}): {batch['status']}"
    waiting = progress.waiting(batch)
    return f"{line}; {waiting}" if waiting else line


@app.command()
def status(
    batch_id: BatchId,
    watch: Annotated[
        bool, typer.Option("--watch", help="Follow the batch until it completes or is canceled")
    ] = False,
    interval: Annotated[float, typer.Option(min=0.05, help="Seconds between refreshes while watching")] = 2.0,
    api_url: ApiUrlOption = None,
    api_key: ApiKeyOption = None,
    as_json: JsonOption = False,
) -> None:
    """A batch's progress: calls finished, its counters, why it waits and when it calls next.

    With --watch it refreshes until the batch completes or is canceled (Ctrl-C stops watching, not the
    batch); with --json too, it prints the batch again, one JSON object a line, each time it changes.
    """
    with _failing(), _api(api_url, api_key) as api:
        batch = api.batch(batch_id)
        try:
            if as_json:
                _watch_json(api, batch, interval if watch else None)
            elif not watch or batch["status"] in progress.FINAL_STATUSES:
                console.print(progress.render(batch))
            else:
                with Live(progress.render(batch), console=console) as live:
                    while batch["status"] not in progress.FINAL_STATUSES:
                        time.sleep(interval)
                        batch = api.batch(batch_id)
                        live.update(progress.render(batch))
        except KeyboardInterrupt:
            notes.print("stopped watching; the batch goes on")


def _watch_json(api: Api, batch: dict[str, Any], interval: float | None) -> None:
    """Print the batch, and with an ``interval`` again each time it changes until it has ended."""
    typer.echo(json.dumps(batch, default=str))
    while interval is not None and batch["status"] not in progress.FINAL_STATUSES:
        time.sleep(interval)
        latest = api.batch(batch["id"])
        if latest != batch:
            typer.echo(json.dumps(latest, default=str))
        batch = latest


@batches_app.command("list")
def batches_list(
    status: Annotated[
        BatchStatus | None, typer.Option("--status", help="Only batches in this status", case_sensitive=False)
    ] = None,
    api_url: ApiUrlOption = None,
    api_key: ApiKeyOption = None,
    as_json: JsonOption = False,
) -> None:
    """The workspace's batches, newest first, with their progress and why each waits."""
    with _failing(), _api(api_url, api_key) as api:
        found = api.batches(status.value if status else None)
    if as_json:
        _print_json(found)
        return
    table = _table("id", "name", "status", "calls done", "waiting", "next call")
    for batch in found:
        table.add_row(
            batch["id"],
            batch["name"],
            batch["status"],
            f"{progress.done(batch)}/{batch['counters']['total']}",
            batch.get("waiting_reason") or "",
            str(batch.get("next_dial_at") or ""),
        )
    console.print(table)


@batches_app.command("show")
def batches_show(
    batch_id: BatchId, api_url: ApiUrlOption = None, api_key: ApiKeyOption = None, as_json: JsonOption = False
) -> None:
    """One batch: its progress, why it waits, and its settings."""
    with _failing(), _api(api_url, api_key) as api:
        batch = api.batch(batch_id)
    if as_json:
        _print_json(batch)
        return
    console.print(progress.render(batch))
    window = f"{batch.get('start_time') or '00:00'}-{batch.get('end_time') or '24:00'} {batch['timezone']}"
    settings = {
        "agent": batch.get("agent_id") or "none",
        "channel": batch["channel"],
        "caller ids": ", ".join(batch.get("from_numbers") or []) or "the agent's numbers",
        "window": f"{window}, days {','.join(str(d) for d in batch['working_days'])} (1 = Monday)",
        "recipient hours": "08:00-21:00 recipient time" if batch["respect_recipient_timezone"] else "off",
        "caps": "; ".join(
            [
                f"{batch['max_concurrent_calls']} at once",
                f"{batch['max_calls_per_day']} a day" if batch.get("max_calls_per_day") else "no daily cap",
                f"{batch['max_calls_per_second']} a second"
                if batch.get("max_calls_per_second")
                else "no per-second cap",
            ]
        ),
        "retries": (
            f"up to {batch['max_retry_attempts']}, {batch['retry_delay_seconds']} s apart, of calls ending "
            f"{', '.join(batch['retry_on'])}"
            if batch["max_retry_attempts"]
            else "none"
        ),
        "scheduled at": str(batch.get("scheduled_at") or "when started"),
        "created": str(batch["created_at"]),
    }
    table = Table("setting", "value", show_header=False)
    for name, value in settings.items():
        table.add_row(name, value)
    console.print(table)
    for warning in batch.get("warnings") or []:
        notes.print(Text.assemble(("warning:", "yellow"), f" {warning}"))


def _act(action: str, batch_id: str, api_url: str | None, api_key: str | None, as_json: bool) -> None:
    with _failing(), _api(api_url, api_key) as api:
        batch = api.act(batch_id, action)
    if as_json:
        _print_json(batch)
        return
    console.print(_said(batch))


@batches_app.command("start")
def batches_start(
    batch_id: BatchId, api_url: ApiUrlOption = None, api_key: ApiKeyOption = None, as_json: JsonOption = False
) -> None:
    """Start a draft: it dials from its scheduled_at, or now, inside its window; says when the first call
    goes out, and why not sooner."""
    with _failing(), _api(api_url, api_key) as api:
        draft, started = _start(api, batch_id)
    if as_json:
        _print_json(started)
        return
    console.print(_said(started))
    console.print(_first_call(started, draft))


def _start(api: Api, batch_id: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """Start the batch; answers it as it was (a draft's answer previews its first dial) and as started."""
    draft = api.batch(batch_id)
    return draft, api.act(batch_id, "schedule")


@batches_app.command("pause")
def batches_pause(
    batch_id: BatchId, api_url: ApiUrlOption = None, api_key: ApiKeyOption = None, as_json: JsonOption = False
) -> None:
    """Dial no one new; calls in flight finish. A paused batch may change its window, caps and retries."""
    _act("pause", batch_id, api_url, api_key, as_json)


@batches_app.command("resume")
def batches_resume(
    batch_id: BatchId, api_url: ApiUrlOption = None, api_key: ApiKeyOption = None, as_json: JsonOption = False
) -> None:
    """Dial again a paused batch."""
    _act("resume", batch_id, api_url, api_key, as_json)


@batches_app.command("cancel")
def batches_cancel(
    batch_id: BatchId, api_url: ApiUrlOption = None, api_key: ApiKeyOption = None, as_json: JsonOption = False
) -> None:
    """Cancel the batch and every call not yet started (calls in flight finish)."""
    _act("cancel", batch_id, api_url, api_key, as_json)


@batches_app.command("retry")
def batches_retry(
    batch_id: BatchId, api_url: ApiUrlOption = None, api_key: ApiKeyOption = None, as_json: JsonOption = False
) -> None:
    """Queue again the calls of a completed batch that ended failed, busy or no_answer."""
    _act("retry", batch_id, api_url, api_key, as_json)


def working_days(text: str) -> list[int]:
    """Days as an operator types them: ``1-5``, ``1,2,3,4,5`` or ``1-3,6`` (1 = Monday .. 7 = Sunday)."""
    days: set[int] = set()
    for part in text.replace(" ", "").split(","):
        match = re.fullmatch(r"([1-7])(?:-([1-7]))?", part)
        if match is None:
            raise typer.BadParameter(f"'{part}' is not a day 1-7 or a range such as 1-5")
        first, last = int(match[1]), int(match[2] or match[1])
        days.update(range(first, last + 1))
    return sorted(days)


@batches_app.command("update")
def batches_update(
    batch_id: BatchId,
    start_time: Annotated[
        str | None, typer.Option(help="Window start, HH:MM in the batch's time zone")
    ] = None,
    end_time: Annotated[str | None, typer.Option(help="Window end, HH:MM in the batch's time zone")] = None,
    timezone: Annotated[
        str | None, typer.Option(help="The window's time zone, e.g. America/New_York")
    ] = None,
    days: Annotated[
        str | None, typer.Option("--working-days", help="Days to call: 1-5, or 1,2,3 (1 = Monday)")
    ] = None,
    max_concurrent_calls: Annotated[int | None, typer.Option(help="Calls in flight at most")] = None,
    max_calls_per_day: Annotated[int | None, typer.Option(help="Dials a day at most")] = None,
    max_calls_per_second: Annotated[float | None, typer.Option(help="Dials a second at most")] = None,
    max_retry_attempts: Annotated[int | None, typer.Option(help="Retries of a call at most")] = None,
    retry_delay_seconds: Annotated[int | None, typer.Option(help="Seconds before a retry")] = None,
    from_number: Annotated[
        list[str] | None, typer.Option(help="Caller id (one of the workspace's numbers); repeat for a pool")
    ] = None,
    name: Annotated[str | None, typer.Option(help="A new name")] = None,
    api_url: ApiUrlOption = None,
    api_key: ApiKeyOption = None,
    as_json: JsonOption = False,
) -> None:
    """Change a batch's settings: a draft any of them; a paused batch its window, working days, caps,
    caller ids and retries."""
    fields: dict[str, Any] = {
        "start_time": start_time,
        "end_time": end_time,
        "timezone": timezone,
        "working_days": working_days(days) if days is not None else None,
        "max_concurrent_calls": max_concurrent_calls,
        "max_calls_per_day": max_calls_per_day,
        "max_calls_per_second": max_calls_per_second,
        "max_retry_attempts": max_retry_attempts,
        "retry_delay_seconds": retry_delay_seconds,
        "from_numbers": from_number,
        "name": name,
    }
    changes = {field: value for field, value in fields.items() if value is not None}
    if not changes:
        _fail("Nothing to change: give at least one option (see `batchcall batches update --help`)")
    with _failing(), _api(api_url, api_key) as api:
        batch = api.update_batch(batch_id, changes)
    if as_json:
        _print_json(batch)
        return
    console.print(f"{_said(batch)}; changed {', '.join(changes)}")


@batches_app.command("calls")
def batches_calls(
    batch_id: BatchId,
    status: Annotated[
        CallStatus | None, typer.Option("--status", help="Only calls in this status", case_sensitive=False)
    ] = None,
    limit: Annotated[int, typer.Option(min=1, max=1000, help="At most this many calls")] = 50,
    api_url: ApiUrlOption = None,
    api_key: ApiKeyOption = None,
    as_json: JsonOption = False,
) -> None:
    """A batch's calls in dial order, with their status, outcome and attempts."""
    with _failing(), _api(api_url, api_key) as api:
        page = api.calls(batch_id, status.value if status else None, limit)
    if as_json:
        _print_json(page)
        return
    table = _table("call", "to", "status", "outcome", "attempts", "skipped because")
    for call in page["data"]:
        table.add_row(
            call["id"],
            call.get("to") or call.get("email") or "",
            call["status"],
            call.get("outcome") or "",
            str(call.get("attempts", "")),
            call.get("skip_reason") or "",
        )
    console.print(table)
    shown, total = len(page["data"]), page["pagination"]["total"]
    if shown < total:
        notes.print(f"{shown} of {total} calls shown; --limit shows more (at most 1000)")


OutputOption = Annotated[
    Path | None, typer.Option("-o", "--output", help="The file to write", dir_okay=False)
]


def _download(api: Api, path: str, target: Path) -> int:
    """Write a CSV answer to ``target``; a failed download leaves no partial file behind."""
    try:
        with target.open("wb") as handle:
            return api.download(path, handle)
    except BaseException:
        target.unlink(missing_ok=True)
        raise


@batches_app.command("export")
def batches_export(
    batch_id: BatchId,
    output: OutputOption = None,
    api_url: ApiUrlOption = None,
    api_key: ApiKeyOption = None,
) -> None:
    """Every call of a batch, with its status, outcome and the row it came from, as CSV
    (to batch-ID.csv unless -o names a file)."""
    target = output or Path(f"batch-{batch_id}.csv")
    with _failing(), _api(api_url, api_key) as api:
        size = _download(api, f"/v1/batches/{batch_id}/export", target)
    console.print(f"wrote {size:,} bytes to {target}")


@batches_app.command("rejected")
def batches_rejected(
    batch_id: BatchId,
    output: OutputOption = None,
    submission_id: Annotated[str | None, typer.Option(help="Only the rows of this submission")] = None,
    api_url: ApiUrlOption = None,
    api_key: ApiKeyOption = None,
) -> None:
    """The rows a batch refused, as CSV: their row number, why, and their columns as sent, ready to fix
    and submit again (to batch-ID.rejected.csv unless -o names a file)."""
    target = output or Path(f"batch-{batch_id}.rejected.csv")
    query = f"?submission_id={submission_id}" if submission_id else ""
    with _failing(), _api(api_url, api_key) as api:
        size = _download(api, f"/v1/batches/{batch_id}/rejected{query}", target)
    console.print(f"wrote {size:,} bytes to {target}")


# submit: a CSV file to a batch, with a preview before anything dials.

# What makes two messages one reason: the values of one row (quoted text, numbers, phone numbers).
_QUOTED = re.compile(r"'[^']*'|\"[^\"]*\"")
_NUMBER = re.compile(r"\+?\d[\d ()-]*\d|\d")


def reason_kind(error: dict[str, Any]) -> str:
    """A row error's reason without the row's own values, so that the same fault of many rows is one."""
    message = _NUMBER.sub("N", _QUOTED.sub("'…'", str(error["message"])))
    return message if error["field"] == "row" else f"{error['field']}: {message}"


def skipped_by_reason(answer: dict[str, Any]) -> list[tuple[str, int]]:
    """Skipped rows per reason, most first: the server's own count when it gives one, else the rows of the
    listed errors grouped by ``reason_kind`` (a row with two faults counts under both)."""
    given = answer.get("skipped_by_reason")
    if isinstance(given, dict):
        return sorted(((str(k), int(v)) for k, v in given.items()), key=lambda item: -item[1])
    rows_of: dict[str, set[int]] = {}
    for error in answer.get("errors") or []:
        rows_of.setdefault(reason_kind(error), set()).add(int(error["row"]))
    counted = Counter({kind: len(rows) for kind, rows in rows_of.items()})
    return counted.most_common()


# The warnings the preview lists; the rest are counted (the rows are called all the same).
WARNINGS_SHOWN = 5


def _preview(path: Path, batch: dict[str, Any], answer: dict[str, Any], dry_run: bool) -> None:
    accepted, skipped = int(answer["accepted"]), int(answer["skipped"])
    verb = "would accept" if dry_run else "accepted"
    console.print(Text.assemble((path.name, "bold"), f" -> batch {batch['id']} ({batch['name']})"))
    table = Table(show_header=False, box=None, padding=(0, 2))
    table.add_row("rows read", str(accepted + skipped))
    table.add_row(verb, str(accepted))
    table.add_row("  with warnings", str(answer.get("warned", 0)))
    table.add_row("skipped", str(skipped))
    for kind, rows in skipped_by_reason(answer):
        table.add_row(f"  {kind}", str(rows))
    console.print(table)
    listed, counted = len(answer.get("errors") or []), int(answer.get("error_count", 0))
    if "skipped_by_reason" not in answer and listed < counted:
        console.print(f"(reasons grouped from the {listed} errors listed of {counted})")
    mapped = answer.get("mapped_columns") or {}
    if mapped:
        console.print(
            "columns read as the agent's variables: " + ", ".join(f"{k} -> {v}" for k, v in mapped.items())
        )
    warnings = answer.get("warnings") or []
    for warning in warnings[:WARNINGS_SHOWN]:
        console.print(f"  warning, row {warning['row']}: {warning['field']}: {warning['message']}")
    more = int(answer.get("warning_count", len(warnings))) - min(len(warnings), WARNINGS_SHOWN)
    if more > 0:
        console.print(f"  and {more} more warnings (--json lists them)")


def _first_call(batch: dict[str, Any], draft: dict[str, Any] | None = None) -> str:
    """When the batch's first call goes out, or would if started now, and why not sooner; for a batch
    just started, the ``draft`` it was says so until the dispatcher has taken it up."""
    if batch["status"] == BatchStatus.DRAFT:
        start = f"it is a draft: `batchcall batches start {batch['id']}` starts it"
        if batch.get("waiting_detail"):
            return f"{start}; started now, it would wait: {batch['waiting_detail']}"
        return f"{start}; started now, it would call at once" if batch.get("next_dial_at") else start
    said = progress.waiting(batch)
    if said:
        return said
    if draft is not None and draft.get("waiting_detail"):
        return f"its first call waits: {draft['waiting_detail']}"
    return "calling now" if batch["status"] == BatchStatus.ACTIVE else f"it is {batch['status']}"


def _refuse_new_batch_options(batch_id: str | None, **given: object) -> None:
    if batch_id is None:
        return
    named = [f"--{name.replace('_', '-')}" for name, value in given.items() if value]
    if named:
        _fail(
            f"{', '.join(named)} set up a new batch; with --batch they do not apply (change a batch with "
            "`batchcall batches update`)"
        )


@app.command()
def submit(
    csv_file: Annotated[
        Path, typer.Argument(exists=True, dir_okay=False, readable=True, help="Contacts as CSV")
    ],
    batch_id: Annotated[
        str | None, typer.Option("--batch", help="Add to this batch instead of creating one")
    ] = None,
    name: Annotated[str | None, typer.Option(help="Name of the new batch (else the file's name)")] = None,
    agent_id: Annotated[str | None, typer.Option(help="Agent of the new batch")] = None,
    from_number: Annotated[
        list[str] | None,
        typer.Option(help="Caller id of the new batch; repeat for a pool (else the agent's)"),
    ] = None,
    country_code: Annotated[
        str | None, typer.Option(help="Country of national numbers: US, GB, Deutschland ...")
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Only show what would be accepted and skipped; write nothing")
    ] = False,
    start: Annotated[
        bool, typer.Option("--start", help="Start the batch once the rows are in (else it stays a draft)")
    ] = False,
    api_url: ApiUrlOption = None,
    api_key: ApiKeyOption = None,
    as_json: JsonOption = False,
) -> None:
    """Upload a CSV of contacts and show what came of it before anything dials.

    Makes a draft batch (or adds to --batch) and shows a preview: rows read, accepted, warned, skipped per
    reason, how columns were read, and when the first call would go out. --start then starts it. Rows that
    were refused are saved next to the file as FILE.rejected.csv, ready to fix and submit again. Submitting
    the same file to the same batch again is answered as the first time, never queued twice. A submission
    that accepts nothing leaves no batch behind and exits 1.
    """
    if dry_run and start:
        _fail("--dry-run writes nothing, so it cannot --start; leave one of them out")
    _refuse_new_batch_options(batch_id, name=name, agent_id=agent_id, from_number=from_number)
    with _failing(), _api(api_url, api_key) as api:
        if batch_id is None:
            fields: dict[str, Any] = {"name": name or csv_file.stem, "from_numbers": from_number or []}
            if agent_id:
                fields["agent_id"] = agent_id
            batch, created = api.create_batch(fields), True
        else:
            batch, created = api.batch(batch_id), False
        done = _submit_to(api, batch, created, csv_file, country_code, dry_run, start)
    if as_json:
        _print_json(
            {
                **done.answer,
                "batch_id": done.batch["id"],
                "batch": None if done.deleted else done.batch,
                "batch_deleted": done.deleted,
                "dry_run": dry_run,
                "rejected_file": str(done.rejected_file) if done.rejected_file else None,
            }
        )
    else:
        _preview(csv_file, done.batch, done.answer, dry_run)
        if done.rejected_file:
            console.print(f"rejected rows saved to {done.rejected_file} (fix them and submit that file)")
        if done.deleted:
            why = "a dry run" if dry_run else "nothing was accepted"
            console.print(f"batch {done.batch['id']} deleted again: {why}")
        else:
            console.print(_first_call(done.batch, done.draft))
    for problem in done.problems:
        notes.print(Text.assemble(("warning:", "yellow"), f" {problem}"))
    if done.failure:
        _fail(done.failure)


@dataclass
class Submitted:
    """What came of a submission: the server's answer, the batch after it, and what went wrong."""

    answer: dict[str, Any]
    batch: dict[str, Any]
    # The batch as a draft, just before --start started it: its answer previews the first dial.
    draft: dict[str, Any] | None = None
    deleted: bool = False
    rejected_file: Path | None = None
    # Why the command fails although the rows went in (nothing accepted, the start refused).
    failure: str | None = None
    # What did not work but changes nothing the server holds (saving the rejected rows).
    problems: list[str] = field(default_factory=list)


def _submit_to(
    api: Api,
    batch: dict[str, Any],
    created: bool,
    path: Path,
    country_code: str | None,
    dry_run: bool,
    start: bool,
) -> Submitted:
    """Upload ``path`` to ``batch``; a batch this command ``created`` is deleted again when the upload
    fails, is a dry run, or accepts nothing, so that no submission leaves an empty batch behind."""
    try:
        answer = _upload(api, batch["id"], path, country_code, dry_run)
    except BaseException:
        if created:
            with suppress(AppError):
                api.delete_batch(batch["id"])
        raise
    done = Submitted(answer, batch)
    accepted = int(answer["accepted"])
    if not dry_run and answer.get("rejected_url"):
        # Saved before the batch may be deleted, which deletes its rejected rows too.
        target = path.with_name(f"{path.name}.rejected.csv")
        try:
            _download(api, str(answer["rejected_url"]), target)
            done.rejected_file = target
        except AppError as error:
            done.problems.append(f"the rejected rows could not be saved to {target}: {error.message}")
    if dry_run or accepted == 0:
        if created:
            api.delete_batch(batch["id"])
            done.deleted = True
        if accepted == 0:
            done.failure = "nothing would be accepted" if dry_run else "nothing was accepted"
            done.failure += ": see the reasons above" + (
                f" and in {done.rejected_file}" if done.rejected_file else ""
            )
        return done
    if start and batch["status"] == BatchStatus.DRAFT:
        try:
            done.draft, done.batch = _start(api, batch["id"])
            return done
        except AppError as error:
            done.failure = (
                f"{error.message}. Batch {batch['id']} stays a draft with its {accepted} new calls: "
                f"fix that, then `batchcall batches start {batch['id']}`"
            )
    done.batch = api.batch(batch["id"])
    return done


def _upload(api: Api, batch_id: str, path: Path, country_code: str | None, dry_run: bool) -> dict[str, Any]:
    columns = (
        "[progress.description]{task.description}",
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=notes, transient=True) as bar:
        task = bar.add_task("checking" if dry_run else "uploading", total=path.stat().st_size)
        return api.upload(batch_id, path, country_code, dry_run, lambda n: bar.advance(task, n))
