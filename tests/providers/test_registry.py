"""The registry: a provider by name, and a name that is none refused when a process starts."""

import pytest
from typer.testing import CliRunner

from batchcall import cli
from batchcall.config import Settings, get_settings
from batchcall.providers import registry
from batchcall.runtime import Runtime
from batchcall.testing import free_port

MISTAKE = "BATCHCALL_PROVIDER is 'twillio', which is not a provider; known: simulated, smtp, twilio"


def test_a_runtime_is_not_made_for_a_provider_that_does_not_exist(settings: Settings) -> None:
    with pytest.raises(registry.UnknownProvider) as refused:
        Runtime.from_settings(settings.model_copy(update={"provider": "twillio"}))
    assert str(refused.value) == MISTAKE


@pytest.mark.parametrize("name", ["serve", "worker"])
def test_serve_and_worker_stop_at_start_naming_the_mistake(
    settings: Settings, monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    monkeypatch.setenv("BATCHCALL_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("BATCHCALL_PROVIDER", "twillio")
    # Were it to start after all, on a port of its own.
    command = ["serve", "--port", str(free_port())] if name == "serve" else [name]
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(cli.app, command)
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 1, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert MISTAKE in " ".join(result.output.split())
