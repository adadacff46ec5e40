"""What the Twilio tests do through the API: connect the tenant's Twilio account, read calls and attempts."""

from collections.abc import Sequence
from typing import Any

from fastapi.testclient import TestClient

from tests.providers.twilio_server import Account, FakeTwilio
from tests.support import Tenant

HUMAN, MACHINE, BUSY = "+12125551001", "+12125551002", "+12125551003"


def connect(
    client: TestClient,
    tenant: Tenant,
    twilio: FakeTwilio,
    account: Account,
    channels: Sequence[str] = ("voice",),
) -> dict[str, Any]:
    """The tenant's Twilio account for ``channels``, reached at the fake's URL."""
    body = {
        "vendor": "twilio",
        "channels": list(channels),
        "credentials": {"account_sid": account.sid, "auth_token": account.auth_token},
        "api_base_url": twilio.base_url,
        "calls_per_second": 1000,
    }
    response = client.post("/v1/provider-accounts", json=body, headers=tenant.headers)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


def calls_of(client: TestClient, tenant: Tenant, batch_id: str) -> dict[str, dict[str, Any]]:
    listed = client.get(f"/v1/batches/{batch_id}/calls", headers=tenant.headers).json()["data"]
    return {call["to"]: call for call in listed}


def attempt_of(client: TestClient, tenant: Tenant, call_id: str) -> dict[str, Any]:
    attempts = client.get(f"/v1/calls/{call_id}", headers=tenant.headers).json()["attempts"]
    last: dict[str, Any] = attempts[-1]
    return last


def batch_of_call(client: TestClient, tenant: Tenant) -> str:
    batch_id: str = client.get("/v1/batches", headers=tenant.headers).json()["data"][0]["id"]
    return batch_id
