"""Contact folders: named sets of contacts that a batch can take its calls from."""

from fastapi.testclient import TestClient

from tests.support import Tenant


def _folder(client: TestClient, tenant: Tenant, name: str = "Renewals") -> str:
    response = client.post("/v1/contact-folders", json={"name": name}, headers=tenant.headers)
    assert response.status_code == 201, response.text
    folder_id: str = response.json()["id"]
    return folder_id


def test_a_folder_is_created_filled_and_listed(client: TestClient, tenant: Tenant) -> None:
    folder_id = _folder(client, tenant)
    existing = client.post(
        "/v1/contacts", json={"phone_number": "+14155550101", "first_name": "Ann"}, headers=tenant.headers
    ).json()

    added = client.post(
        f"/v1/contact-folders/{folder_id}/contacts",
        json={
            "contacts": [
                {"phone_number": "(415) 555-0102", "first_name": "Bob", "attributes": {"plan": "x"}}
            ],
            "contact_ids": [existing["id"]],
        },
        headers=tenant.headers,
    )
    assert added.status_code == 200, added.text
    assert added.json()["added"] == 2
    path = f"/v1/contact-folders/{folder_id}/contacts"
    again = client.post(path, json={"contact_ids": [existing["id"]]}, headers=tenant.headers)
    assert again.json()["added"] == 0

    folder = client.get(f"/v1/contact-folders/{folder_id}", headers=tenant.headers).json()
    assert folder["name"] == "Renewals"
    assert folder["contact_count"] == 2
    listed = client.get("/v1/contact-folders", headers=tenant.headers).json()
    assert [f["id"] for f in listed["data"]] == [folder_id]
    assert listed["pagination"] == {"total": 1, "limit": 50, "offset": 0}
    members = client.get(f"/v1/contact-folders/{folder_id}/contacts", headers=tenant.headers).json()
    assert sorted(c["phone"] for c in members["data"]) == ["+14155550101", "+14155550102"]
    assert members["pagination"]["total"] == 2


def test_bad_members_write_nothing(client: TestClient, tenant: Tenant) -> None:
    folder_id = _folder(client, tenant)
    bad_number = client.post(
        f"/v1/contact-folders/{folder_id}/contacts",
        json={"contacts": [{"phone_number": "+14155550103"}, {"phone_number": "12"}]},
        headers=tenant.headers,
    )
    assert bad_number.status_code == 422
    assert "contacts[1].phone_number" in bad_number.json()["message"]
    unknown = client.post(
        f"/v1/contact-folders/{folder_id}/contacts", json={"contact_ids": ["nope"]}, headers=tenant.headers
    )
    assert unknown.status_code == 404
    assert client.get(f"/v1/contact-folders/{folder_id}", headers=tenant.headers).json()["contact_count"] == 0
    assert client.get("/v1/contacts", headers=tenant.headers).json()["pagination"]["total"] == 0


def test_another_workspace_cannot_see_a_folder(
    client: TestClient, tenant: Tenant, other_tenant: Tenant
) -> None:
    folder_id = _folder(client, tenant)
    assert client.get(f"/v1/contact-folders/{folder_id}", headers=other_tenant.headers).status_code == 404
    response = client.post(
        f"/v1/contact-folders/{folder_id}/contacts",
        json={"contacts": [{"phone_number": "+14155550104"}]},
        headers=other_tenant.headers,
    )
    assert response.status_code == 404
    assert client.get("/v1/contact-folders", headers=other_tenant.headers).json()["data"] == []
