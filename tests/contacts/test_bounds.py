"""What one contacts request may hold: counted before it is read, its errors listed up to the setting."""

from typing import Any

from fastapi.testclient import TestClient

from batchcall.runtime import Runtime
from tests.support import Tenant


def _folder(client: TestClient, tenant: Tenant) -> str:
    response = client.post("/v1/contact-folders", json={"name": "Renewals"}, headers=tenant.headers)
    assert response.status_code == 201, response.text
    folder_id: str = response.json()["id"]
    return folder_id


def _add(client: TestClient, tenant: Tenant, folder_id: str, **body: Any) -> Any:
    return client.post(f"/v1/contact-folders/{folder_id}/contacts", json=body, headers=tenant.headers)


def test_more_contacts_than_the_cap_are_refused_by_their_count(
    client: TestClient, runtime: Runtime, tenant: Tenant
) -> None:
    folder_id = _folder(client, tenant)
    runtime.settings.max_rows_per_request = 3
    refused = _add(client, tenant, folder_id, contacts=[{}] * 4)
    assert refused.status_code == 422
    assert refused.json()["errors"] == [
        {"field": "contacts", "message": "at most 3 per request; this one has 4"}
    ]
    assert _add(client, tenant, folder_id, contact_ids=["x"] * 4).status_code == 422


def test_a_422_lists_at_most_max_errors_listed_fields_and_says_how_many_more(
    client: TestClient, tenant: Tenant
) -> None:
    folder_id = _folder(client, tenant)
    refused = _add(client, tenant, folder_id, contacts=[{"phone_number": ""}] * 1_005)
    assert refused.status_code == 422
    answer = refused.json()
    assert len(answer["errors"]) == 1_000
    assert answer["errors"][0]["field"] == "contacts.0.phone_number"
    assert answer["message"].endswith("; and 5 more")


def test_contact_attributes_are_bounded_like_row_metadata(client: TestClient, tenant: Tenant) -> None:
    deep: dict[str, Any] = {}
    for _ in range(300):
        deep = {"next": deep}
    for attributes, fault in ((deep, "nests deeper than"), ({"note": "x" * 70_000}, "is larger than")):
        response = client.post(
            "/v1/contacts",
            json={"phone_number": "+14155550101", "attributes": attributes},
            headers=tenant.headers,
        )
        assert response.status_code == 422
        assert response.json()["message"].startswith(f"attributes: {fault}")
