"""Throw-away databases for tests and benchmarks: an empty SQLite file or a fresh PostgreSQL database,
removed afterwards. Usable from a project's own integration tests too."""

import os
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg

# The suite and the benchmarks create their databases through this server (trust auth on loopback).
POSTGRES_ADMIN_URL = os.environ.get(
    "BATCHCALL_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres"
)


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
