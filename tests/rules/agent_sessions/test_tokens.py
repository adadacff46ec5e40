"""An agent's session token: it opens its own attempt until it expires, and nothing else opens anything."""

from datetime import UTC, datetime, timedelta

import pytest

from batchcall.agent_sessions import tokens
from batchcall.kit.errors import Unauthorized

KEY = b"k" * 32
NOW = datetime(2026, 11, 23, 17, 0, tzinfo=UTC)


def test_a_token_names_its_attempt_until_it_expires() -> None:
    token = tokens.issue(KEY, "attempt-1", NOW + timedelta(hours=1))
    assert tokens.is_session_token(token)
    assert tokens.read(KEY, token, NOW).attempt_id == "attempt-1"
    assert tokens.read(KEY, token, NOW + timedelta(minutes=59)).expires_at == NOW + timedelta(hours=1)
    with pytest.raises(Unauthorized, match="expired"):
        tokens.read(KEY, token, NOW + timedelta(hours=1))


def test_no_token_but_a_genuine_one_opens_anything() -> None:
    token = tokens.issue(KEY, "attempt-1", NOW + timedelta(hours=1))
    attempt, expires, mac = token.removeprefix(tokens.PREFIX).split(".")
    for forged in (
        tokens.issue(b"another key" * 3, "attempt-1", NOW + timedelta(hours=1)),
        f"{tokens.PREFIX}attempt-2.{expires}.{mac}",
        f"{tokens.PREFIX}{attempt}.{int(expires) + 3600}.{mac}",
        f"{tokens.PREFIX}{attempt}.².{mac}",
        f"{tokens.PREFIX}{attempt}.{'9' * 40}.{mac}",
        f"{tokens.PREFIX}{attempt}",
        token[:-1],
        token.removeprefix(tokens.PREFIX),
        "as_" + "x" * 500,
    ):
        with pytest.raises(Unauthorized):
            tokens.read(KEY, forged, NOW)
