"""The app's own list of endpoints, read once from its OpenAPI document (building it takes ~1 s)."""

from functools import cache
from typing import Any

from batchcall.app import create_app
from batchcall.config import Settings
from batchcall.runtime import Runtime

# The seeds' wire dialects: each answers auth and foreign ids in its own way and is tested with its dialect.
DIALECT_PREFIXES = ("/v1/batch-calls", "/bulk-calls", "/batch-call", "/api/call", "/ai-phone-calls")
# Routes that take no API key: operations, and provider callbacks (signed by the provider instead).
WITHOUT_KEY = frozenset(
    {
        "/healthz",
        "/metrics",
        "/v1/providers/{provider}/events",
        "/v1/providers/twilio/twiml/{attempt_id}",
        "/v1/providers/twilio/messages",
        "/v1/unsubscribe",
        # An agent's session takes its call's session token, not a key (tests/results).
        "/v1/agent-sessions/{token}",
    }
)


@cache
def openapi() -> dict[str, Any]:
    runtime = Runtime.from_settings(Settings(database_url="sqlite://", run_dispatcher=False))
    document: dict[str, Any] = create_app(runtime).openapi()
    runtime.engine.dispose()
    return document


def native_operations() -> list[tuple[str, str]]:
    """(METHOD, path template) of every native endpoint that takes an API key."""
    return sorted(
        (method.upper(), path)
        for path, operations in openapi()["paths"].items()
        if path not in WITHOUT_KEY and not path.startswith(DIALECT_PREFIXES)
        for method in operations
    )


def all_operations() -> list[str]:
    """ "METHOD path" of every operation in the document, keyed or not, native or dialect."""
    return [
        f"{method.upper()} {path}" for path, operations in openapi()["paths"].items() for method in operations
    ]
