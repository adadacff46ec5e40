"""Endpoints API: register (secret shown once), list, get, update, delete; validation; scopes; tenancy."""

import base64

import pytest
from fastapi.testclient import TestClient
from standardwebhooks import Webhook

from batchcall.runtime import Runtime
from batchcall.webhooks.schemas import EventType
from tests.support import Tenant, make_tenant

GIVEN_SECRET = "whsec_" + base64.b64encode(b"k" * 32).decode()


def test_an_endpoint_gets_a_standard_webhooks_secret_shown_once(client: TestClient, tenant: Tenant) -> None:
    response = client.post("/v1/webhooks", json={"url": "https://example.com/hooks"}, headers=tenant.headers)
    assert response.status_code == 201, response.text
    created = response.json()
    assert created["url"] == "https://example.com/hooks"
    assert created["events"] == ["*"]
    assert created["active"] is True
    secret = created["secret"]
    assert secret.startswith("whsec_")
    assert len(base64.b64decode(secret.removeprefix("whsec_"))) == 32
    Webhook(secret)
    shown = client.get(f"/v1/webhooks/{created['id']}", headers=tenant.headers).json()
    assert "secret" not in shown
    assert shown == {k: v for k, v in created.items() if k != "secret"}
    listed = client.get("/v1/webhooks", headers=tenant.headers).json()
    assert listed == {"data": [shown], "pagination": {"total": 1, "limit": 50, "offset": 0}}


def test_a_given_secret_and_events_are_kept(client: TestClient, tenant: Tenant) -> None:
    body = {
        "url": "http://127.0.0.1:9/x",
        "events": ["call.completed", "batch.status_changed"],
        "secret": GIVEN_SECRET,
    }
    created = client.post("/v1/webhooks", json=body, headers=tenant.headers).json()
    assert created["secret"] == GIVEN_SECRET
    assert created["events"] == ["call.completed", "batch.status_changed"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"url": "not a url"}, "url"),
        ({"url": "ftp://example.com/hooks"}, "url"),
        ({"url": ""}, "url"),
        ({"url": "https://"}, "url"),
        ({"url": "https://example.com/" + "a" * 2100}, "url"),
        ({}, "url"),
        ({"url": "https://example.com", "events": []}, "events"),
        ({"url": "https://example.com", "events": ["call.exploded"]}, "events"),
        ({"url": "https://example.com", "events": "call.completed"}, "events"),
        ({"url": "https://example.com", "secret": "plain-text"}, "secret"),
        ({"url": "https://example.com", "secret": "whsec_not base64!"}, "secret"),
        ({"url": "https://example.com", "secret": "whsec_" + base64.b64encode(b"short").decode()}, "secret"),
        ({"url": "https://example.com", "colour": "blue"}, "colour"),
    ],
)
def test_a_bad_endpoint_is_422_and_stores_nothing(
    client: TestClient, tenant: Tenant, body: dict[str, object], field: str
) -> None:
    response = client.post("/v1/webhooks", json=body, headers=tenant.headers)
    assert response.status_code == 422, response.text
    assert field in response.json()["message"]
    assert client.get("/v1/webhooks", headers=tenant.headers).json()["pagination"]["total"] == 0


def test_the_unknown_event_error_names_the_known_ones(client: TestClient, tenant: Tenant) -> None:
    body = {"url": "https://example.com", "events": ["call.exploded"]}
    message = client.post("/v1/webhooks", json=body, headers=tenant.headers).json()["message"]
    assert "call.exploded" in message
    assert all(event.value in message for event in EventType)


def test_update_and_delete(client: TestClient, tenant: Tenant) -> None:
    created = client.post(
        "/v1/webhooks", json={"url": "https://example.com/a"}, headers=tenant.headers
    ).json()
    path = f"/v1/webhooks/{created['id']}"
    response = client.patch(
        path,
        json={
            "url": "https://example.com/b",
            "events": ["call.failed"],
            "active": False,
            "secret": GIVEN_SECRET,
        },
        headers=tenant.headers,
    )
    assert response.status_code == 200, response.text
    updated = response.json()
    assert (updated["url"], updated["events"], updated["active"]) == (
        "https://example.com/b",
        ["call.failed"],
        False,
    )
    assert "secret" not in updated
    assert client.patch(path, json={"url": "gopher://x"}, headers=tenant.headers).status_code == 422
    assert client.get(path, headers=tenant.headers).json() == updated
    assert client.delete(path, headers=tenant.headers).status_code == 204
    assert client.get(path, headers=tenant.headers).status_code == 404
    assert client.delete(path, headers=tenant.headers).status_code == 404


@pytest.mark.parametrize("scopes", [["read"], ["call_management"]])
def test_only_admin_keys_manage_endpoints(
    client: TestClient, runtime: Runtime, tenant: Tenant, scopes: list[str]
) -> None:
    created = client.post(
        "/v1/webhooks", json={"url": "https://example.com/a"}, headers=tenant.headers
    ).json()
    other = make_tenant(runtime, "Team", scopes=scopes).headers
    # The scope is checked before the id, so a key of another workspace is refused the same way.
    for method, path, body in [
        ("POST", "/v1/webhooks", {"url": "https://example.com/b"}),
        ("PATCH", f"/v1/webhooks/{created['id']}", {"active": False}),
        ("DELETE", f"/v1/webhooks/{created['id']}", None),
        ("POST", f"/v1/webhooks/{created['id']}/deliveries/x/redeliver", None),
    ]:
        response = client.request(method, path, json=body, headers=other)
        assert response.status_code == 403, (method, path, response.text)
    assert client.get("/v1/webhooks", headers=other).status_code == 200


def test_another_workspace_sees_no_endpoint_of_this_one(
    client: TestClient, tenant: Tenant, other_tenant: Tenant
) -> None:
    created = client.post(
        "/v1/webhooks", json={"url": "https://example.com/a"}, headers=tenant.headers
    ).json()
    path = f"/v1/webhooks/{created['id']}"
    theirs = other_tenant.headers
    for method, url, body in [
        ("GET", path, None),
        ("PATCH", path, {"active": False}),
        ("DELETE", path, None),
        ("GET", f"{path}/deliveries", None),
        ("GET", f"{path}/deliveries/x", None),
        ("POST", f"{path}/deliveries/x/redeliver", None),
    ]:
        response = client.request(method, url, json=body, headers=theirs)
        assert response.status_code == 404, (method, url, response.text)
        assert created["id"] in response.json()["message"]
    assert client.get("/v1/webhooks", headers=theirs).json()["data"] == []
    assert client.get(path, headers=tenant.headers).json()["active"] is True


PRIVATE_TARGETS = [
    "http://127.0.0.1:8080/hooks",
    "http://127.1/hooks",
    "http://2130706433/hooks",
    "http://0x7f000001/hooks",
    "http://0177.0.0.1/hooks",
    "http://[::ffff:127.0.0.1]/hooks",
    "http://[::1]/hooks",
    "http://0.0.0.0/hooks",
    "http://localhost/hooks",
    "https://LOCALHOST:8443/hooks",
    "http://169.254.169.254/latest/meta-data/",
    "http://10.0.0.7/hooks",
    "http://172.16.0.1/hooks",
    "https://192.168.1.1/hooks",
    "http://100.64.0.1/hooks",
    "http://224.0.0.1/hooks",
    "http://240.0.0.1/hooks",
    "http://[fe80::1]/hooks",
    "http://[fc00::1]/hooks",
    "http://[2002:7f00:1::]/hooks",
    "http://[64:ff9b::a9fe:a9fe]/hooks",
]


@pytest.mark.parametrize("url", PRIVATE_TARGETS)
def test_a_private_target_is_refused_unless_allowed(
    client: TestClient, runtime: Runtime, tenant: Tenant, url: str
) -> None:
    runtime.settings.allow_private_targets = False
    response = client.post("/v1/webhooks", json={"url": url}, headers=tenant.headers)
    assert response.status_code == 422, response.text
    message = response.json()["message"]
    assert message.startswith("url: ")
    assert "public" in message
    assert "BATCHCALL_ALLOW_PRIVATE_TARGETS" in message
    assert client.get("/v1/webhooks", headers=tenant.headers).json()["pagination"]["total"] == 0
    runtime.settings.allow_private_targets = True
    assert client.post("/v1/webhooks", json={"url": url}, headers=tenant.headers).status_code == 201


def test_an_endpoint_cannot_be_moved_to_a_private_target(
    client: TestClient, runtime: Runtime, tenant: Tenant
) -> None:
    runtime.settings.allow_private_targets = False
    created = client.post("/v1/webhooks", json={"url": "https://8.8.8.8/hooks"}, headers=tenant.headers)
    assert created.status_code == 201, created.text
    path = f"/v1/webhooks/{created.json()['id']}"
    response = client.patch(path, json={"url": "http://[::1]:9/x"}, headers=tenant.headers)
    assert response.status_code == 422, response.text
    assert "BATCHCALL_ALLOW_PRIVATE_TARGETS" in response.json()["message"]
    assert client.get(path, headers=tenant.headers).json()["url"] == "https://8.8.8.8/hooks"


@pytest.mark.parametrize(
    "url",
    [
        "https://8.8.8.8/hooks",
        "http://[2606:4700:4700::1111]:8443/hooks",
        "http://[64:ff9b::808:808]/hooks",
        # A name that does not resolve yet is accepted: every connection checks it again.
        "https://hooks.name-that-does-not-resolve.invalid/x",
    ],
)
def test_a_public_or_unresolved_target_is_accepted(
    client: TestClient, runtime: Runtime, tenant: Tenant, url: str
) -> None:
    runtime.settings.allow_private_targets = False
    response = client.post("/v1/webhooks", json={"url": url}, headers=tenant.headers)
    assert response.status_code == 201, response.text
