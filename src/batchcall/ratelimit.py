"""Abuse limits: requests per API key and per client address, and failed authentications per client.

The ``limits`` library counts them in a moving window, in the storage ``rate_limit_storage`` names:
``memory://`` counts within this process; a shared storage such as ``redis://HOST:PORT`` gives every process
one count. The client is the address the ASGI server reports, so behind a proxy it is the proxy's unless the
server is told to trust the proxy's forwarded headers.
"""

import math
import time
from functools import lru_cache

from fastapi import Request
from limits import RateLimitItem, parse_many
from limits.storage import storage_from_string
from limits.strategies import MovingWindowRateLimiter
from starlette.requests import HTTPConnection

from batchcall.config import Settings
from batchcall.kit.errors import RateLimited
from batchcall.web.routing import runtime_of


@lru_cache(maxsize=64)
def parse_limits(notation: str) -> tuple[RateLimitItem, ...]:
    """``"50/second;2000/minute"`` as limits, shortest window first: a request the per-second limit refuses
    then spends nothing of the per-minute one."""
    return tuple(sorted(parse_many(notation), key=lambda item: item.get_expiry()))


class Limiter:
    """Counts hits of one subject (a key, a client) against the limits of a notation."""

    def __init__(self, settings: Settings) -> None:
        # A mistyped limit stops the server as it starts, not at its first request.
        parse_limits(settings.rate_limit_per_key)
        parse_limits(settings.rate_limit_per_client)
        parse_limits(settings.auth_failure_limit)
        # A storage that cannot be reached raises limits' StorageError, which the API answers with 503.
        storage = storage_from_string(settings.rate_limit_storage, wrap_exceptions=True)
        self._window = MovingWindowRateLimiter(storage)

    def hit(self, notation: str, name: str, *subject: str) -> None:
        """Count one request, or refuse it with 429 if it would exceed one of the limits."""
        for item in parse_limits(notation):
            if not self._window.hit(item, *subject):
                raise self._refusal(notation, name, subject)

    def count(self, notation: str, *subject: str) -> None:
        """Count one event without refusing anything."""
        for item in parse_limits(notation):
            self._window.hit(item, *subject)

    def refuse_if_spent(self, notation: str, name: str, *subject: str) -> None:
        """Refuse with 429 if any of the limits has no room left, without counting."""
        if any(not self._window.test(item, *subject) for item in parse_limits(notation)):
            raise self._refusal(notation, name, subject)

    def _refusal(self, notation: str, name: str, subject: tuple[str, ...]) -> RateLimited:
        # The longest wait among the spent limits: a retry any sooner would be refused again.
        waits = [
            (self._seconds_until_free(item, subject), item)
            for item in parse_limits(notation)
            if not self._window.test(item, *subject)
        ]
        wait, item = max(waits, key=lambda pair: pair[0], default=(1, parse_limits(notation)[0]))
        return RateLimited(
            f"Too many requests: the {name} limit of {item} is reached; retry in {wait} s",
            retry_after_seconds=wait,
            limit=name,
        )

    def _seconds_until_free(self, item: RateLimitItem, subject: tuple[str, ...]) -> int:
        # The library stamps its windows with the wall clock, so the wait is measured on the same clock.
        reset_at = self._window.get_window_stats(item, *subject).reset_time
        return max(1, math.ceil(reset_at - time.time()))


def limiter_of(request: HTTPConnection) -> Limiter:
    limiter: Limiter = request.app.state.limiter
    return limiter


def client_address(request: HTTPConnection) -> str:
    return request.client.host if request.client is not None else "unknown"


def _settings(request: HTTPConnection) -> Settings:
    return runtime_of(request).settings


def limit_client(request: Request) -> None:
    """Every request counts against its client address."""
    limiter_of(request).hit(
        _settings(request).rate_limit_per_client, "per-client", "client", client_address(request)
    )


def limit_callback_client(request: HTTPConnection) -> None:
    """A provider's callbacks count against its address apart from API requests, so a campaign's burst of
    status callbacks and the API traffic of one address (or one proxy) never crowd each other out."""
    limiter_of(request).hit(
        _settings(request).rate_limit_per_client, "per-client", "callbacks", client_address(request)
    )


def limit_key(request: Request, key_id: str) -> None:
    """Every request authenticated by an API key counts against that key."""
    limiter_of(request).hit(_settings(request).rate_limit_per_key, "per-key", "key", key_id)


def refuse_failing_client(request: Request) -> None:
    """A client that failed authentication too often waits, whatever credential it sends now."""
    limiter_of(request).refuse_if_spent(
        _settings(request).auth_failure_limit,
        "failed-authentication",
        "auth-failures",
        client_address(request),
    )


def count_failed_authentication(request: Request) -> None:
    limiter_of(request).count(_settings(request).auth_failure_limit, "auth-failures", client_address(request))
