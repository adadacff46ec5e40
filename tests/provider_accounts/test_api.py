"""Provider accounts: what a workspace dials through. Secrets go in once and never come out: not in an
answer, not in a log line, not in the database in clear."""

import logging
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from typer.testing import CliRunner

from batchcall import cli
from batchcall.app import create_app
from batchcall.config import Settings, get_settings
from batchcall.kit.clock import ManualClock
from batchcall.kit.sealing import Sealer, new_key
from batchcall.models import Base
from batchcall.runtime import Runtime
from tests.store import snapshot
from tests.support import Tenant, make_tenant

ACCOUNT_SID = "AC" + "1" * 32
AUTH_TOKEN = "auth-token-that-must-stay-secret"
API_SECRET = "api-secret-that-must-stay-secret"


def twilio_account(**fields: Any) -> dict[str, Any]:
    return {
        "vendor": "twilio",
        "name": "Main line",
        "channels": ["voice"],
        "credentials": {"account_sid": ACCOUNT_SID, "auth_token": AUTH_TOKEN},
        **fields,
    }


def _create(client: TestClient, tenant: Tenant, body: dict[str, Any]) -> dict[str, Any]:
    response = client.post("/v1/provider-accounts", json=body, headers=tenant.headers)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


def _every_stored_text(runtime: Runtime) -> str:
    """Every value of every table, as text."""
    with runtime.engine.connect() as connection:
        return "\n".join(
            repr(row) for table in Base.metadata.sorted_tables for row in connection.execute(table.select())
        )


def test_an_account_answers_its_credentials_but_never_its_secrets(
    client: TestClient, runtime: Runtime, tenant: Tenant, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    created = _create(client, tenant, twilio_account())
    assert created["credentials"] == {"account_sid": ACCOUNT_SID}
    assert created["secrets_set"] == ["auth_token"]
    assert created["channels"] == ["voice"]
    assert created["calls_per_second"] == 1.0
    answers = [
        client.get(f"/v1/provider-accounts/{created['id']}", headers=tenant.headers),
        client.get("/v1/provider-accounts", headers=tenant.headers),
        client.patch(
            f"/v1/provider-accounts/{created['id']}", json={"name": "Renamed"}, headers=tenant.headers
        ),
    ]
    assert all(answer.status_code == 200 for answer in answers)
    assert client.get("/v1/provider-accounts", headers=tenant.headers).json()["pagination"]["total"] == 1
    for said in [str(created), *(answer.text for answer in answers)]:
        assert AUTH_TOKEN not in said
    assert AUTH_TOKEN not in caplog.text
    stored = _every_stored_text(runtime)
    assert ACCOUNT_SID in stored
    assert AUTH_TOKEN not in stored


def test_a_secret_left_out_of_a_change_keeps_its_value_and_a_new_one_replaces_it(
    client: TestClient, runtime: Runtime, tenant: Tenant
) -> None:
    created = _create(client, tenant, twilio_account())
    path = f"/v1/provider-accounts/{created['id']}"
    key = "SK" + "2" * 32
    changed = client.patch(
        path, json={"credentials": {"api_key": key, "api_secret": API_SECRET}}, headers=tenant.headers
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["credentials"] == {"account_sid": ACCOUNT_SID, "api_key": key}
    assert changed.json()["secrets_set"] == ["api_secret", "auth_token"]
    rotated = client.patch(path, json={"credentials": {"auth_token": "a-new-token"}}, headers=tenant.headers)
    assert rotated.json()["secrets_set"] == ["api_secret", "auth_token"]
    stored = _every_stored_text(runtime)
    assert API_SECRET not in stored
    assert "a-new-token" not in stored


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (twilio_account(vendor="twillio"), "vendor: 'twillio' is not a vendor this server has"),
        (twilio_account(channels=["email"]), "channels: twilio serves sms, voice, not email"),
        (
            twilio_account(credentials={"account_sid": ACCOUNT_SID}),
            "credentials.auth_token: Field required",
        ),
        (
            twilio_account(credentials={"account_sid": "AC123", "auth_token": AUTH_TOKEN}),
            "credentials.account_sid: String should match pattern",
        ),
        (
            twilio_account(
                credentials={"account_sid": ACCOUNT_SID, "auth_token": AUTH_TOKEN, "api_key": "SK" + "3" * 32}
            ),
            "credentials: api_key and api_secret go together",
        ),
        (twilio_account(api_base_url="ftp://twilio.example"), "api_base_url: "),
    ],
)
def test_a_wrong_account_is_refused_with_its_reason_and_nothing_is_stored(
    client: TestClient, runtime: Runtime, tenant: Tenant, body: dict[str, Any], message: str
) -> None:
    before = snapshot(runtime)
    response = client.post("/v1/provider-accounts", json=body, headers=tenant.headers)
    assert response.status_code == 422, response.text
    assert message in response.json()["message"]
    assert AUTH_TOKEN not in response.text
    assert snapshot(runtime) == before


def test_one_account_serves_a_channel_of_a_workspace(
    client: TestClient, runtime: Runtime, tenant: Tenant
) -> None:
    first = _create(client, tenant, twilio_account())
    response = client.post("/v1/provider-accounts", json=twilio_account(), headers=tenant.headers)
    assert response.status_code == 409
    assert first["id"] in response.json()["message"]
    # Another workspace has channels of its own.
    other = make_tenant(runtime, "Other")
    _create(client, other, twilio_account())


def test_an_api_base_url_on_a_private_network_is_refused_unless_allowed(
    settings: Settings, clock: ManualClock, tenant: Tenant
) -> None:
    closed = Runtime.from_settings(settings.model_copy(update={"allow_private_targets": False}), clock)
    with TestClient(create_app(closed)) as client:
        body = twilio_account(api_base_url="http://127.0.0.1:9/")
        response = client.post("/v1/provider-accounts", json=body, headers=tenant.headers)
    closed.engine.dispose()
    assert response.status_code == 422
    assert response.json()["message"].startswith("api_base_url: ")


def test_without_a_sealing_key_no_secret_is_stored(
    settings: Settings, clock: ManualClock, tenant: Tenant
) -> None:
    keyless = Runtime.from_settings(settings.model_copy(update={"secret_keys": ""}), clock)
    with TestClient(create_app(keyless)) as client:
        response = client.post("/v1/provider-accounts", json=twilio_account(), headers=tenant.headers)
        listed = client.get("/v1/provider-accounts", headers=tenant.headers).json()
    keyless.engine.dispose()
    assert response.status_code == 409
    assert "BATCHCALL_SECRET_KEYS" in response.json()["message"]
    assert "batchcall secret-key" in response.json()["message"]
    assert listed["pagination"]["total"] == 0


def test_keys_rotate_a_new_key_first_then_the_old_one_dropped(
    client: TestClient, runtime: Runtime, settings: Settings, tenant: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    created = _create(client, tenant, twilio_account())
    new = new_key()
    both = f"{new},{settings.secret_keys}"
    monkeypatch.setenv("BATCHCALL_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("BATCHCALL_SECRET_KEYS", both)
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(cli.app, ["rotate-secrets"])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 0, result.output
    assert "1 provider account" in result.output
    with runtime.engine.connect() as connection:
        sealed = connection.execute(text("SELECT sealed_secrets FROM provider_accounts")).scalar_one()
    assert Sealer(new).open(sealed) == {"auth_token": AUTH_TOKEN}
    # The old key dropped, the account still answers.
    rotated = Runtime.from_settings(settings.model_copy(update={"secret_keys": new}), runtime.clock)
    with TestClient(create_app(rotated)) as fresh:
        answer = fresh.get(f"/v1/provider-accounts/{created['id']}", headers=tenant.headers)
    rotated.engine.dispose()
    assert answer.status_code == 200
    assert answer.json()["secrets_set"] == ["auth_token"]


def test_a_secret_no_key_opens_is_a_clear_conflict(
    client: TestClient, settings: Settings, clock: ManualClock, tenant: Tenant
) -> None:
    created = _create(client, tenant, twilio_account())
    wrong = Runtime.from_settings(settings.model_copy(update={"secret_keys": new_key()}), clock)
    with TestClient(create_app(wrong)) as other:
        answer = other.get(f"/v1/provider-accounts/{created['id']}", headers=tenant.headers)
    wrong.engine.dispose()
    assert answer.status_code == 409
    assert "put back the key" in answer.json()["message"]


def test_a_simulated_account_verifies_and_owns_every_caller_id(client: TestClient, tenant: Tenant) -> None:
    client.post("/v1/phone-numbers", json={"number": "+14155550100"}, headers=tenant.headers)
    created = _create(client, tenant, {"vendor": "simulated", "channels": ["voice", "sms", "email"]})
    verified = client.post(f"/v1/provider-accounts/{created['id']}/verify", headers=tenant.headers)
    assert verified.status_code == 200, verified.text
    assert verified.json()["ok"] is True
    assert verified.json()["caller_ids_owned"] == ["+14155550100"]


def test_a_deleted_account_is_gone(client: TestClient, tenant: Tenant) -> None:
    created = _create(client, tenant, twilio_account())
    path = f"/v1/provider-accounts/{created['id']}"
    assert client.delete(path, headers=tenant.headers).status_code == 204
    assert client.get(path, headers=tenant.headers).status_code == 404
    # Its channel is free again.
    _create(client, tenant, twilio_account())
