"""The schema comes from the migrations alone: from empty to head on both databases, matching the models."""

import re
from collections.abc import Iterator

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, text
from typer.testing import CliRunner

from batchcall import db
from batchcall.kit.sqltypes import is_postgresql
from batchcall.models import WAITING, Base
from batchcall.testing import scratch_database


@pytest.fixture
def empty_database_url(database_url: str) -> Iterator[str]:
    """A database of the same kind as ``database_url`` with nothing in it."""
    with scratch_database(database_url.split(":", 1)[0], "batchcall_empty") as url:
        yield url


def tables(url: str) -> set[str]:
    engine = db.make_engine(url)
    try:
        return set(inspect(engine).get_table_names()) - {"alembic_version"}
    finally:
        engine.dispose()


def differences(url: str) -> list[object]:
    engine = db.make_engine(url)
    try:
        with engine.connect() as connection:
            return list(compare_metadata(MigrationContext.configure(connection), Base.metadata))
    finally:
        engine.dispose()


def test_upgrade_from_empty_creates_every_table_and_matches_the_models(empty_database_url: str) -> None:
    assert tables(empty_database_url) == set()
    db.migrate(empty_database_url)
    assert tables(empty_database_url) == set(Base.metadata.tables)
    assert differences(empty_database_url) == []


def test_upgrade_is_repeatable_and_downgrade_leaves_nothing(empty_database_url: str) -> None:
    db.migrate(empty_database_url)
    db.migrate(empty_database_url)
    command.downgrade(db.alembic_config(empty_database_url), "base")
    assert tables(empty_database_url) == set()
    db.migrate(empty_database_url)
    assert differences(empty_database_url) == []


def test_the_migrate_command(empty_database_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from batchcall import cli
    from batchcall.config import get_settings

    monkeypatch.setenv("BATCHCALL_DATABASE_URL", empty_database_url)
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(cli.app, ["migrate"])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 0, result.output
    assert tables(empty_database_url) == set(Base.metadata.tables)


def test_the_waiting_calls_index_holds_the_statuses_the_models_call_waiting(database_url: str) -> None:
    """Autogenerate does not compare partial-index predicates: the migration's literal and
    ``models.WAITING`` are compared here, in the index as the database keeps it."""
    engine = db.make_engine(database_url)
    try:
        with engine.connect() as connection:
            if is_postgresql(engine):
                query = "SELECT indexdef FROM pg_indexes WHERE indexname = 'ix_calls_waiting'"
            else:
                query = "SELECT sql FROM sqlite_master WHERE name = 'ix_calls_waiting'"
            definition = connection.scalar(text(query))
    finally:
        engine.dispose()
    assert set(re.findall(r"'(\w+)'", definition)) == {str(status) for status in WAITING}
