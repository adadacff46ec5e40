"""Throw-away databases for tests and benchmarks: an empty SQLite file, a fresh PostgreSQL database, or a
PostgreSQL server of their own that can be restarted; and a database outage on demand. Usable from a
project's own integration tests too."""

import os
import re
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from glob import glob
from pathlib import Path

import psycopg

from batchcall.db import make_engine, make_session_factory
from batchcall.kit.sqltypes import is_postgresql
from batchcall.runtime import Runtime

# The suite and the benchmarks create their databases through this server (trust auth on loopback).
POSTGRES_ADMIN_URL = os.environ.get(
    "BATCHCALL_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres"
)
# Where Debian and Ubuntu install each PostgreSQL version's server programs.
POSTGRES_BIN_GLOB = "/usr/lib/postgresql/*/bin"


@contextmanager
def scratch_database(kind: str, prefix: str = "batchcall_scratch") -> Iterator[str]:
    """The URL of a new, empty database of ``kind`` (``sqlite`` or ``postgresql``), dropped on exit."""
    if kind == "sqlite":
        with tempfile.TemporaryDirectory() as folder:
            yield f"sqlite:///{Path(folder) / f'{prefix}.db'}"
        return
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield POSTGRES_ADMIN_URL.rsplit("/", 1)[0] + "/" + name
    finally:
        with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def free_port() -> int:
    """A TCP port on loopback that nothing listens on at the moment."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


@contextmanager
def database_outage(runtime: Runtime) -> Iterator[None]:
    """For the block, every session ``runtime`` opens reaches a database that is not there, as in an
    outage: connecting fails. Sessions already open are left alone."""
    if is_postgresql(runtime.engine):
        unreachable = f"postgresql://postgres@127.0.0.1:{free_port()}/gone"
    else:
        unreachable = f"sqlite:///{Path(tempfile.gettempdir()) / uuid.uuid4().hex / 'gone.db'}"
    engine = make_engine(unreachable)
    working = runtime.sessions
    runtime.sessions = make_session_factory(engine)
    try:
        yield
    finally:
        runtime.sessions = working
        engine.dispose()


def postgres_bin() -> Path:
    """The folder of the newest PostgreSQL server programs installed (``initdb``, ``pg_ctl``)."""
    on_path = shutil.which("pg_ctl")
    if on_path is not None:
        return Path(on_path).parent
    found = sorted(glob(POSTGRES_BIN_GLOB), key=lambda path: [int(n) for n in re.findall(r"\d+", path)])
    if not found:
        raise RuntimeError(f"no PostgreSQL server programs on PATH or in {POSTGRES_BIN_GLOB}")
    return Path(found[-1])


@dataclass
class PostgresServer:
    """A PostgreSQL server in a folder of its own, on its own port, with trust auth on loopback."""

    folder: Path
    port: int
    programs: Path

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    @property
    def data(self) -> Path:
        return self.folder / "data"

    def _run(self, program: str, *args: str) -> None:
        command = [str(self.programs / program), *args]
        if os.geteuid() == 0:
            # The server refuses to run as root; as root, run it as the usual service account.
            command = ["runuser", "-u", "postgres", "--", *command]
        subprocess.run(command, check=True, capture_output=True)

    def _pg_ctl(self, action: str, *args: str) -> None:
        options = f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 -c fsync=off"
        log = str(self.folder / "server.log")
        self._run("pg_ctl", action, "-D", str(self.data), "-l", log, "-w", "-o", options, *args)

    def initialise(self) -> None:
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync")

    def start(self) -> None:
        self._pg_ctl("start")

    def restart(self) -> None:
        """Stop at once (open sessions are cut off) and start again; answers when it accepts connections."""
        self._pg_ctl("restart", "-m", "fast")

    def stop(self) -> None:
        self._pg_ctl("stop", "-m", "immediate")


@contextmanager
def postgres_server() -> Iterator[PostgresServer]:
    """A new PostgreSQL server, running; stopped and deleted on exit. Restarting it disturbs no other."""
    folder = Path(tempfile.mkdtemp(prefix="batchcall-postgres-"))
    if os.geteuid() == 0:
        shutil.chown(folder, "postgres", "postgres")
    server = PostgresServer(folder, free_port(), postgres_bin())
    try:
        server.initialise()
        server.start()
        try:
            yield server
        finally:
            server.stop()
    finally:
        shutil.rmtree(folder, ignore_errors=True)
