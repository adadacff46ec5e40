"""The CLI as an operator runs it: in-process through Typer's runner, against a real server on a loopback
port (the app of the test's runtime, so the test drives its clock and dispatcher), on both databases."""

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from batchcall import cli
from batchcall.config import Settings, get_settings
from batchcall.runtime import Runtime
from tests.support import Tenant, served

Run = Callable[..., Result]


@pytest.fixture
def api_url(runtime: Runtime) -> Iterator[str]:
    with served(runtime) as url:
        yield url


@pytest.fixture
def config_path(tmp_path: Path) -> Path:
    """Where the CLI looks for its config file in a test: a file of the test's own (none at first)."""
    return tmp_path / "config" / "batchcall.toml"


@pytest.fixture
def environment(
    settings: Settings, runtime: Runtime, config_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[None]:
    """The environment of every CLI test: the test's database (emptied by ``runtime``), its own config
    file, no API variables (each test gives the ones it means), and the test's folder as the working
    directory."""
    monkeypatch.setenv("BATCHCALL_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("BATCHCALL_CONFIG", str(config_path))
    monkeypatch.delenv("BATCHCALL_API_URL", raising=False)
    monkeypatch.delenv("BATCHCALL_API_KEY", raising=False)
    monkeypatch.chdir(tmp_path)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


@pytest.fixture
def run(environment: None) -> Run:
    """Run the CLI with these arguments (and ``env``: more environment variables)."""
    runner = CliRunner()

    def invoke(*args: str, env: dict[str, str] | None = None) -> Result:
        return runner.invoke(cli.app, list(args), env=env)

    return invoke


@pytest.fixture
def operator(run: Run, api_url: str, tenant: Tenant) -> Run:
    """Run an operator's command as the tenant, against the test's server (BATCHCALL_API_URL and _KEY)."""

    def invoke(*args: str, env: dict[str, str] | None = None) -> Result:
        given = {"BATCHCALL_API_URL": api_url, "BATCHCALL_API_KEY": tenant.api_key, **(env or {})}
        return run(*args, env=given)

    return invoke


def as_json(result: Result) -> Any:
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def refused(result: Result) -> str:
    """The one line a failed command says: it exits 1 with an error on stderr and no traceback."""
    assert result.exit_code == 1, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    lines = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.output
    return lines[0]
