"""Property: whatever rows or file a request carries, each row is accepted or reported, never a 500.

A few examples per database: the pure functions behind this are explored widely in tests/rules/ingest.
"""

from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.rules.ingest.test_csvfile import _csv_text, _headers
from tests.rules.ingest.test_rows import _rows
from tests.support import Tenant, create_batch

API_EXAMPLES = settings(
    max_examples=15, deadline=None, database=None, suppress_health_check=list(HealthCheck)
)


@pytest.fixture
def lenient_client(client: TestClient) -> TestClient:
    return TestClient(client.app, raise_server_exceptions=False)


def assert_accounted(answer: dict[str, Any], submitted: int, last_row: int) -> None:
    """Each of ``submitted`` rows, numbered up to ``last_row``, is accepted or skipped with its errors."""
    assert answer["accepted"] + answer["skipped"] == submitted
    assert len(answer["call_ids"]) == answer["accepted"]
    rows = [error["row"] for error in answer["errors"]]
    assert rows == sorted(rows)
    assert all(1 <= row <= last_row for row in rows)
    # A skipped row has one error per field at fault.
    assert len(set(rows)) == answer["skipped"]


@API_EXAMPLES
@given(rows=st.lists(_rows, max_size=6), country_code=st.sampled_from([None, "US", "GB"]))
def test_any_rows_are_each_accepted_or_reported(
    lenient_client: TestClient, tenant: Tenant, rows: list[Any], country_code: str | None
) -> None:
    batch = create_batch(lenient_client, tenant)
    body = {"rows": rows, "country_code": country_code}
    response = lenient_client.post(f"/v1/batches/{batch['id']}/calls", json=body, headers=tenant.headers)
    assert response.status_code == 200, response.text
    assert_accounted(response.json(), len(rows), len(rows))


@API_EXAMPLES
@given(
    data=st.one_of(
        st.binary(max_size=200),
        st.builds(lambda h, body: (h + "\n" + body).encode(), _headers, _csv_text),
        st.builds(lambda h, body: (h + "\n" + body).encode("latin-1", "replace"), _headers, _csv_text),
    )
)
def test_any_file_is_read_row_by_row_or_refused_as_a_whole(
    lenient_client: TestClient, tenant: Tenant, data: bytes
) -> None:
    batch = create_batch(lenient_client, tenant)
    files = {"file": ("any.csv", data, "text/csv")}
    response = lenient_client.post(
        f"/v1/batches/{batch['id']}/calls/upload",
        files=files,
        data={"country_code": "US"},
        headers=tenant.headers,
    )
    assert response.status_code in (200, 422), response.text
    if response.status_code == 422:
        assert response.json()["message"]
        return
    answer = response.json()
    submitted = answer["accepted"] + answer["skipped"]
    # A blank record is numbered, as the spreadsheet numbers it, and skipped without a word.
    assert_accounted(answer, submitted, data.count(b"\n") + data.count(b"\r"))
