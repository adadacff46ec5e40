"""The server never answers 500: schemathesis sends generated requests to every native operation."""

from typing import Any

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests import routes
from tests.support import Tenant, add_rows, create_batch

EXAMPLES_PER_OPERATION = 10


@pytest.fixture
def real_ids(client: TestClient, tenant: Tenant) -> dict[str, str]:
    """Ids that exist, so generated requests also reach past the 404 of a random id."""
    agent = client.post(
        "/v1/agents", json={"name": "A", "required_variables": ["plan"]}, headers=tenant.headers
    )
    batch = create_batch(client, tenant, agent_id=agent.json()["id"])
    [call_id] = add_rows(client, tenant, batch["id"], [{"phone_number": "+14155550101", "plan": "x"}])[
        "call_ids"
    ]
    number = client.post("/v1/phone-numbers", json={"number": "+14155550100"}, headers=tenant.headers)
    contact = client.post("/v1/contacts", json={"phone_number": "+14155550102"}, headers=tenant.headers)
    entry = client.post("/v1/dnc", json={"phone_number": "+14155550103"}, headers=tenant.headers)
    folder = client.post("/v1/contact-folders", json={"name": "F"}, headers=tenant.headers)
    return {
        "agent_id": agent.json()["id"],
        "batch_id": batch["id"],
        "call_id": call_id,
        "number_id": number.json()["id"],
        "contact_id": contact.json()["id"],
        "entry_id": entry.json()["id"],
        "folder_id": folder.json()["id"],
    }


def test_no_generated_request_gets_a_500(
    client: TestClient, tenant: Tenant, real_ids: dict[str, str]
) -> None:
    schema = schemathesis.openapi.from_asgi("/openapi.json", client.app)
    native = set(routes.native_operations())
    failures: list[str] = []
    for result in schema.get_all_operations():
        operation = result.ok()
        if (operation.method.upper(), operation.path) not in native:
            continue

        @settings(
            max_examples=EXAMPLES_PER_OPERATION,
            deadline=None,
            database=None,
            derandomize=True,
            suppress_health_check=list(HealthCheck),
        )
        @given(case=operation.as_strategy(), use_real_ids=st.booleans())
        def run(case: Any, use_real_ids: bool) -> None:
            if use_real_ids and case.path_parameters:
                case.path_parameters = {
                    name: real_ids.get(name, value) for name, value in case.path_parameters.items()
                }
            try:
                response = case.call(headers=tenant.headers)
            except Exception as exc:  # the in-process transport re-raises what the app did not handle
                failures.append(f"{case.as_curl_command()}\n  -> {type(exc).__name__}: {str(exc)[:300]}")
                return
            if response.status_code >= 500:
                failures.append(
                    f"{case.as_curl_command()}\n  -> {response.status_code}: {response.text[:300]}"
                )

        run()
    assert not failures, "\n".join(failures)
