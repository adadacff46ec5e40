"""A key sees only its own workspace: every id of workspace A answers 404 to the key of workspace B.

The table below has one case per native endpoint that takes an id in its path. The coverage test reads
the app's OpenAPI paths, so a new native endpoint without a case here fails the suite. (Dialect paths
are excluded by prefix: each dialect answers a foreign id in its own way and is tested with its dialect.)
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.testclient import TestClient

from batchcall import db
from batchcall.models import WebhookDelivery
from batchcall.runtime import Runtime
from tests import routes
from tests.store import snapshot
from tests.support import Tenant, add_rows, create_batch, register_numbers

CSV = ("c.csv", b"phone\n+14155550199\n", "text/csv")


@dataclass(frozen=True)
class Case:
    json: Any = None
    files: Any = None


# (method, path) -> the request B sends, with the ids of A filled into the path.
CASES: dict[tuple[str, str], Case] = {
    ("GET", "/v1/agents/{agent_id}"): Case(),
    ("POST", "/v1/calls/{call_id}/result"): Case(json={"disposition": "interested"}),
    ("PATCH", "/v1/agents/{agent_id}"): Case(json={"name": "taken over"}),
    ("DELETE", "/v1/agents/{agent_id}"): Case(),
    ("GET", "/v1/phone-numbers/{number_id}"): Case(),
    ("PATCH", "/v1/phone-numbers/{number_id}"): Case(json={"label": "taken over"}),
    ("DELETE", "/v1/phone-numbers/{number_id}"): Case(),
    ("GET", "/v1/contacts/{contact_id}"): Case(),
    ("DELETE", "/v1/dnc/{entry_id}"): Case(),
    ("GET", "/v1/contact-folders/{folder_id}"): Case(),
    ("GET", "/v1/contact-folders/{folder_id}/contacts"): Case(),
    ("POST", "/v1/contact-folders/{folder_id}/contacts"): Case(
        json={"contacts": [{"phone_number": "+14155550199"}]}
    ),
    ("GET", "/v1/batches/{batch_id}"): Case(),
    ("PATCH", "/v1/batches/{batch_id}"): Case(json={"name": "taken over"}),
    ("DELETE", "/v1/batches/{batch_id}"): Case(),
    ("POST", "/v1/batches/{batch_id}/schedule"): Case(),
    ("POST", "/v1/batches/{batch_id}/pause"): Case(),
    ("POST", "/v1/batches/{batch_id}/resume"): Case(),
    ("POST", "/v1/batches/{batch_id}/cancel"): Case(),
    ("POST", "/v1/batches/{batch_id}/retry"): Case(),
    ("GET", "/v1/batches/{batch_id}/calls"): Case(),
    ("POST", "/v1/batches/{batch_id}/calls"): Case(json={"rows": [{"phone_number": "+14155550199"}]}),
    ("POST", "/v1/batches/{batch_id}/calls/upload"): Case(files={"file": CSV}),
    ("GET", "/v1/batches/{batch_id}/export"): Case(),
    ("GET", "/v1/batches/{batch_id}/rejected"): Case(),
    ("GET", "/v1/calls/{call_id}"): Case(),
    ("GET", "/v1/provider-accounts/{account_id}"): Case(),
    ("PATCH", "/v1/provider-accounts/{account_id}"): Case(json={"name": "taken over"}),
    ("DELETE", "/v1/provider-accounts/{account_id}"): Case(),
    ("POST", "/v1/provider-accounts/{account_id}/verify"): Case(),
    ("GET", "/v1/email-templates/{template_id}"): Case(),
    ("PATCH", "/v1/email-templates/{template_id}"): Case(json={"name": "taken over"}),
    ("DELETE", "/v1/email-templates/{template_id}"): Case(),
    ("DELETE", "/v1/email-suppressions/{suppression_id}"): Case(),
    ("GET", "/v1/webhooks/{endpoint_id}"): Case(),
    ("PATCH", "/v1/webhooks/{endpoint_id}"): Case(json={"url": "https://b.example/hook"}),
    ("DELETE", "/v1/webhooks/{endpoint_id}"): Case(),
    ("GET", "/v1/webhooks/{endpoint_id}/deliveries"): Case(),
    ("GET", "/v1/webhooks/{endpoint_id}/deliveries/{delivery_id}"): Case(),
    ("POST", "/v1/webhooks/{endpoint_id}/deliveries/{delivery_id}/redeliver"): Case(),
}


def test_every_native_endpoint_with_an_id_has_a_tenancy_case() -> None:
    routes_with_ids = {(method, path) for method, path in routes.native_operations() if "{" in path}
    assert routes_with_ids - CASES.keys() == set(), "add these endpoints to CASES"
    assert CASES.keys() - routes_with_ids == set(), "these cases name endpoints that no longer exist"


def _ok(response: Any) -> dict[str, Any]:
    assert response.status_code in (200, 201), response.text
    body: dict[str, Any] = response.json()
    return body


@pytest.fixture
def ids_of_a(client: TestClient, runtime: Runtime, tenant: Tenant) -> dict[str, str]:
    """One of everything in workspace A."""
    endpoint = _ok(
        client.post("/v1/webhooks", json={"url": "https://a.example/hook"}, headers=tenant.headers)
    )
    delivery = WebhookDelivery(
        workspace_id=tenant.workspace_id,
        endpoint_id=endpoint["id"],
        event_type="batch.status",
        payload={},
        created_at=runtime.clock.now(),
    )
    with db.unit_of_work(runtime.sessions) as session:
        session.add(delivery)
    agent = _ok(client.post("/v1/agents", json={"name": "A's agent"}, headers=tenant.headers))
    account = _ok(
        client.post(
            "/v1/provider-accounts",
            json={"vendor": "simulated", "channels": ["voice"], "name": "A's account"},
            headers=tenant.headers,
        )
    )
    template = _ok(
        client.post(
            "/v1/email-templates",
            json={"name": "A's template", "subject": "Hi", "text": "Hello"},
            headers=tenant.headers,
        )
    )
    suppression = _ok(
        client.post("/v1/email-suppressions", json={"address": "a@example.com"}, headers=tenant.headers)
    )
    number = _ok(
        client.post(
            "/v1/phone-numbers",
            json={"number": "+14155550100", "agent_id": agent["id"]},
            headers=tenant.headers,
        )
    )
    contact = _ok(client.post("/v1/contacts", json={"phone_number": "+14155550111"}, headers=tenant.headers))
    entry = _ok(client.post("/v1/dnc", json={"phone_number": "+14155550112"}, headers=tenant.headers))
    folder = _ok(client.post("/v1/contact-folders", json={"name": "A's folder"}, headers=tenant.headers))
    batch = create_batch(client, tenant, agent_id=agent["id"])
    [call_id] = add_rows(client, tenant, batch["id"], [{"phone_number": "+14155550113"}])["call_ids"]
    return {
        "agent_id": agent["id"],
        "number_id": number["id"],
        "contact_id": contact["id"],
        "entry_id": entry["id"],
        "folder_id": folder["id"],
        "batch_id": batch["id"],
        "call_id": call_id,
        "endpoint_id": endpoint["id"],
        "delivery_id": delivery.id,
        "account_id": account["id"],
        "template_id": template["id"],
        "suppression_id": suppression["id"],
    }


def _views(client: TestClient, tenant: Tenant, ids: dict[str, str]) -> list[Any]:
    """What A sees of its own things."""
    return [
        client.get(path.format(**ids), headers=tenant.headers).json()
        for path in (
            "/v1/agents/{agent_id}",
            "/v1/phone-numbers/{number_id}",
            "/v1/contacts/{contact_id}",
            "/v1/dnc",
            "/v1/contact-folders/{folder_id}",
            "/v1/batches/{batch_id}",
            "/v1/batches/{batch_id}/calls",
            "/v1/calls/{call_id}",
            "/v1/webhooks/{endpoint_id}",
            "/v1/webhooks/{endpoint_id}/deliveries/{delivery_id}",
            "/v1/provider-accounts/{account_id}",
            "/v1/email-templates/{template_id}",
        )
    ]


def test_the_key_of_another_workspace_gets_404_and_changes_nothing(
    client: TestClient,
    runtime: Runtime,
    tenant: Tenant,
    other_tenant: Tenant,
    ids_of_a: dict[str, str],
    subtests: pytest.Subtests,
) -> None:
    before, seen_before = snapshot(runtime), _views(client, tenant, ids_of_a)
    for (method, path), case in sorted(CASES.items()):
        with subtests.test(msg=f"{method} {path}"):
            url = path.format(**ids_of_a)
            response = client.request(
                method, url, json=case.json, files=case.files, headers=other_tenant.headers
            )
            assert response.status_code == 404, response.text
            body = response.json()
            assert body["error"] == "not_found"
            assert url.split("/")[3] in body["message"]
    # Nothing B sent changed anything of A's, or anything at all.
    assert snapshot(runtime) == before
    assert _views(client, tenant, ids_of_a) == seen_before


def test_ids_of_another_workspace_are_refused_inside_bodies(
    client: TestClient, runtime: Runtime, tenant: Tenant, other_tenant: Tenant, ids_of_a: dict[str, str]
) -> None:
    before = snapshot(runtime)
    headers = other_tenant.headers
    assert (
        client.post(
            "/v1/batches", json={"name": "x", "agent_id": ids_of_a["agent_id"]}, headers=headers
        ).status_code
        == 404
    )
    response = client.post(
        "/v1/batches", json={"name": "x", "phone_number_ids": [ids_of_a["number_id"]]}, headers=headers
    )
    assert response.status_code == 422
    assert ids_of_a["number_id"] in response.json()["message"]
    assert (
        client.post(
            "/v1/phone-numbers",
            json={"number": "+14155550100", "agent_id": ids_of_a["agent_id"]},
            headers=headers,
        ).status_code
        == 404
    )
    folder = _ok(client.post("/v1/contact-folders", json={"name": "B's"}, headers=headers))
    response = client.post(
        f"/v1/contact-folders/{folder['id']}/contacts",
        json={"contact_ids": [ids_of_a["contact_id"]]},
        headers=headers,
    )
    assert response.status_code == 404
    theirs = create_batch(client, other_tenant, agent_id=None)
    response = client.patch(
        f"/v1/batches/{theirs['id']}", json={"agent_id": ids_of_a["agent_id"]}, headers=headers
    )
    assert response.status_code == 404
    after = snapshot(runtime)
    assert after["contact_folder_members"] == before["contact_folder_members"]
    assert after["phone_numbers"] == before["phone_numbers"]


def test_lists_show_only_the_own_workspace(
    client: TestClient, tenant: Tenant, other_tenant: Tenant, ids_of_a: dict[str, str]
) -> None:
    for path in (
        "/v1/agents",
        "/v1/phone-numbers",
        "/v1/contacts",
        "/v1/dnc",
        "/v1/contact-folders",
        "/v1/batches",
        "/v1/email-templates",
        "/v1/email-suppressions",
    ):
        mine = client.get(path, headers=tenant.headers).json()
        theirs = client.get(path, headers=other_tenant.headers).json()
        assert mine["pagination"]["total"] >= 1, path
        assert theirs == {"data": [], "pagination": {"total": 0, "limit": 50, "offset": 0}}, path
    response = client.get(
        "/v1/batches", params={"agent_id": ids_of_a["agent_id"]}, headers=other_tenant.headers
    )
    assert response.json()["data"] == []


def test_the_same_number_may_live_in_two_workspaces(
    client: TestClient, tenant: Tenant, other_tenant: Tenant
) -> None:
    for who in (tenant, other_tenant):
        assert (
            client.post("/v1/phone-numbers", json={"number": "+14155550100"}, headers=who.headers).status_code
            == 201
        )
        assert (
            client.post(
                "/v1/contacts", json={"phone_number": "+14155550100"}, headers=who.headers
            ).status_code
            == 201
        )
        assert (
            client.post("/v1/dnc", json={"phone_number": "+14155550100"}, headers=who.headers).status_code
            == 201
        )
    mine = client.get("/v1/contacts", headers=tenant.headers).json()["data"]
    theirs = client.get("/v1/contacts", headers=other_tenant.headers).json()["data"]
    assert mine[0]["id"] != theirs[0]["id"]


# How each entry point that takes caller ids is asked to use ``caller`` (a phone number as the native API
# answers it) as workspace B, with B's agent and B's drafts in ``own``: (send, status when refused).
Send = Callable[[TestClient, Tenant, dict[str, Any], dict[str, str]], Any]
CALLER_ID_ENTRIES: dict[str, tuple[Send, int]] = {
    "native create": (
        lambda client, b, caller, own: client.post(
            "/v1/batches", json={"name": "x", "from_numbers": [caller["number"]]}, headers=b.headers
        ),
        422,
    ),
    "native create by id": (
        lambda client, b, caller, own: client.post(
            "/v1/batches", json={"name": "x", "phone_number_ids": [caller["id"]]}, headers=b.headers
        ),
        422,
    ),
    "native update": (
        lambda client, b, caller, own: client.patch(
            f"/v1/batches/{own['draft_id']}", json={"from_numbers": [caller["number"]]}, headers=b.headers
        ),
        422,
    ),
    "B create": (
        lambda client, b, caller, own: client.post(
            "/v1/batch-calls",
            json={"name": "x", "agent_id": own["agent_id"], "phone_number_ids": [caller["id"]]},
            headers=b.headers,
        ),
        422,
    ),
    "B update": (
        lambda client, b, caller, own: client.patch(
            f"/v1/batch-calls/{own['draft_id']}", json={"phone_number_ids": [caller["id"]]}, headers=b.headers
        ),
        422,
    ),
    "C create": (
        lambda client, b, caller, own: client.post(
            "/batch-call",
            json={
                "from_number": caller["number"],
                "agent_id": f"agent_{own['agent_id']}",
                "tasks": [{"to_number": "+12137774445"}],
            },
            headers={"X-API-KEY": b.key_id, "X-API-SECRET": b.key_secret},
        ),
        422,
    ),
    "D create": (
        lambda client, b, caller, own: client.post(
            "/api/call/createBatch",
            json={"name": "x", "callingNumbers": [caller["number"]]},
            headers={"x-api-key": b.api_key},
        ),
        400,
    ),
    "D create for an agent": (
        lambda client, b, caller, own: client.post(
            "/api/call/createBatch",
            json={"name": "x", "agentId": own["agent_id"], "callingNumbers": [caller["number"]]},
            headers={"x-api-key": b.api_key},
        ),
        400,
    ),
}


@pytest.fixture
def own_of_b(client: TestClient, other_tenant: Tenant) -> dict[str, str]:
    """Workspace B's agent, with a phone number of B's own assigned to it, and a draft of B's."""
    agent = _ok(client.post("/v1/agents", json={"name": "B's agent"}, headers=other_tenant.headers))
    [number] = register_numbers(client, other_tenant, "+14155550200", agent_id=agent["id"])
    draft = create_batch(client, other_tenant, agent_id=agent["id"])
    return {
        "agent_id": agent["id"],
        "draft_id": draft["id"],
        "number": number["number"],
        "number_id": number["id"],
    }


@pytest.mark.parametrize("entry", sorted(CALLER_ID_ENTRIES))
def test_a_workspace_calls_only_from_its_own_numbers(
    client: TestClient,
    runtime: Runtime,
    tenant: Tenant,
    other_tenant: Tenant,
    ids_of_a: dict[str, str],
    own_of_b: dict[str, str],
    entry: str,
) -> None:
    send, refused_status = CALLER_ID_ENTRIES[entry]
    a_number = _ok(client.get(f"/v1/phone-numbers/{ids_of_a['number_id']}", headers=tenant.headers))
    before = snapshot(runtime)

    refused = send(client, other_tenant, a_number, own_of_b)
    assert refused.status_code == refused_status, refused.text
    assert a_number["number"] in refused.text or a_number["id"] in refused.text
    assert snapshot(runtime) == before
    pools = [b["from_numbers"] for b in _ok(client.get("/v1/batches", headers=other_tenant.headers))["data"]]
    assert pools == [[own_of_b["number"]]]

    own_number = {"id": own_of_b["number_id"], "number": own_of_b["number"]}
    assert send(client, other_tenant, own_number, own_of_b).status_code in (200, 201)
