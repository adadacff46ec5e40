"""Email templates through the native API: created, listed, read, changed and deleted; a name taken in
the workspace is 409; a part that does not compile, that uses what an email template may not (what lets a
short template do unbounded work), or a template without a body, is 422 naming the field.
Who may reach a template is tests/test_tenancy.py and tests/auth; render alone is
tests/rules/email_templates."""

from typing import Any

from fastapi.testclient import TestClient

from batchcall import db
from batchcall.auth import service as auth
from batchcall.kit.clock import ManualClock
from batchcall.runtime import Runtime
from tests.store import snapshot
from tests.support import Tenant

WELCOME = {
    "name": "welcome",
    "subject": "Welcome, {{ first_name }}",
    "html": "<p>Hello {{ first_name }}</p>",
    "text": "Hello {{ first_name }}",
}


def _create(client: TestClient, tenant: Tenant, **fields: Any) -> Any:
    return client.post("/v1/email-templates", json={**WELCOME, **fields}, headers=tenant.headers)


def _template(client: TestClient, tenant: Tenant, **fields: Any) -> dict[str, Any]:
    response = _create(client, tenant, **fields)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


def _patch(client: TestClient, tenant: Tenant, template_id: str, **fields: Any) -> Any:
    return client.patch(f"/v1/email-templates/{template_id}", json=fields, headers=tenant.headers)


def _stamp(clock: ManualClock) -> str:
    return clock.now().isoformat().replace("+00:00", "Z")


def test_a_template_is_created_read_changed_and_deleted(
    client: TestClient, tenant: Tenant, clock: ManualClock
) -> None:
    created = _template(client, tenant)
    assert created == {
        **WELCOME,
        "id": created["id"],
        "created_at": _stamp(clock),
        "updated_at": _stamp(clock),
    }
    url = f"/v1/email-templates/{created['id']}"
    assert client.get(url, headers=tenant.headers).json() == created

    clock.advance(60)
    patched = _patch(client, tenant, created["id"], subject="Hi {{ first_name }}", html=None)
    assert patched.status_code == 200, patched.text
    changed = {**created, "subject": "Hi {{ first_name }}", "html": None, "updated_at": _stamp(clock)}
    assert patched.json() == changed
    # A name or subject sent as null is no change; a body sent as null is removed (above).
    assert _patch(client, tenant, created["id"], name=None, subject=None).json() == changed
    assert client.get(url, headers=tenant.headers).json() == changed

    assert client.delete(url, headers=tenant.headers).status_code == 204
    for response in (
        client.get(url, headers=tenant.headers),
        _patch(client, tenant, created["id"], name="again"),
        client.delete(url, headers=tenant.headers),
    ):
        assert response.status_code == 404
        assert response.json()["message"] == f"Email template {created['id']} not found"


def test_templates_are_listed_oldest_first_a_page_at_a_time(
    client: TestClient, tenant: Tenant, clock: ManualClock
) -> None:
    names = ["first", "second", "third"]
    for name in names:
        _template(client, tenant, name=name)
        clock.advance(1)
    first = client.get("/v1/email-templates", params={"limit": 2}, headers=tenant.headers).json()
    assert [t["name"] for t in first["data"]] == names[:2]
    assert first["pagination"] == {"total": 3, "limit": 2, "offset": 0}
    rest = client.get("/v1/email-templates", params={"limit": 2, "offset": 2}, headers=tenant.headers)
    assert [t["name"] for t in rest.json()["data"]] == names[2:]


def test_a_name_already_in_the_workspace_is_409_and_writes_nothing(
    client: TestClient, runtime: Runtime, tenant: Tenant, other_tenant: Tenant
) -> None:
    _template(client, tenant)
    other = _template(client, tenant, name="reminder")
    before = snapshot(runtime)

    again = _create(client, tenant, subject="Another")
    assert again.status_code == 409, again.text
    assert again.json() == {
        "error": "wrong_state",
        "message": "An email template named 'welcome' already exists in this workspace",
    }
    renamed = _patch(client, tenant, other["id"], name="welcome", subject="Changed")
    assert renamed.status_code == 409, renamed.text
    assert "'welcome'" in renamed.json()["message"]
    assert snapshot(runtime) == before
    kept = client.get(f"/v1/email-templates/{other['id']}", headers=tenant.headers).json()
    assert (kept["name"], kept["subject"]) == ("reminder", WELCOME["subject"])
    # Keeping its own name is no clash, and another workspace has names of its own.
    assert _patch(client, tenant, other["id"], name="reminder").status_code == 200
    _template(client, other_tenant)


def test_a_part_that_does_not_compile_is_422_naming_the_field_and_the_line(
    client: TestClient, runtime: Runtime, tenant: Tenant
) -> None:
    before = snapshot(runtime)
    for field, source, line in (
        ("subject", "Hello {{ first_name", 1),
        ("html", "<p>Hello</p>\n\n<p>{{ first_name }</p>", 3),
        ("text", "Hello\n\n{{ first_name | }}", 3),
        ("text", "Hello {{ first_name | no_such_filter }}", 1),
    ):
        refused = _create(client, tenant, **{field: source})
        assert refused.status_code == 422, refused.text
        body = refused.json()
        assert body["error"] == "invalid"
        [error] = body["errors"]
        assert error["field"] == field
        assert error["message"].startswith(f"line {line}: ")
        assert body["message"] == f"{field}: {error['message']}"
    assert snapshot(runtime) == before

    template = _template(client, tenant)
    refused = _patch(client, tenant, template["id"], subject="{{ a }", text="{% endfor %}")
    assert refused.status_code == 422
    assert [e["field"] for e in refused.json()["errors"]] == ["subject", "text"]
    assert client.get(f"/v1/email-templates/{template['id']}", headers=tenant.headers).json() == template


def test_a_part_using_what_an_email_template_may_not_is_422_naming_the_field_the_line_and_what(
    client: TestClient, runtime: Runtime, tenant: Tenant
) -> None:
    before = snapshot(runtime)
    for field, source, line, what in (
        ("text", "Hi\n{% macro m() %}{{ m() }}{{ m() }}{% endmacro %}", 2, "{% macro %}"),
        ("html", "{% call m() %}{% endcall %}", 1, "{% call %}"),
        ("text", "{% set s %}{{ s }}{{ s }}{% endset %}", 1, "{% set %} blocks"),
        ("text", "{% filter upper %}hi{% endfilter %}", 1, "{% filter %}"),
        ("html", "{% for x in tree recursive %}{{ loop(x) }}{% endfor %}", 1, "recursive loops"),
        ("text", "{% block b %}{{ self.b() }}{% endblock %}", 1, "{% block %}"),
        ("text", '{% extends "base" %}', 1, "{% extends %}"),
        ("text", '{% include "header" %}', 1, "{% include %}"),
        ("text", '{% import "macros" as m %}', 1, "{% import %}"),
        ("text", '{% from "macros" import m %}', 1, "{% from %}"),
        ("subject", "{{ '' | center(999999999) }}", 1, "the filter 'center'"),
        ("text", "Hi\n\n{{ first_name | indent(999999999) }}", 3, "the filter 'indent'"),
        ("text", "{{ first_name | wordwrap(5) }}", 1, "the filter 'wordwrap'"),
        ("text", "{{ first_name | batch(999999999, 'x') | list }}", 1, "the filter 'batch'"),
        ("text", "{{ first_name | pprint }}", 1, "the filter 'pprint'"),
        ("text", "{% if first_name is someday %}{% endif %}", 1, "the test 'someday'"),
    ):
        refused = _create(client, tenant, **{field: source})
        assert refused.status_code == 422, refused.text
        [error] = refused.json()["errors"]
        assert error["field"] == field
        assert error["message"] == f"line {line}: an email template cannot use {what}"
    # Nested deeper than Jinja2 can compile (it would have been a 500).
    refused = _create(client, tenant, text="{{ " + "(" * 5000 + "1" + ")" * 5000 + " }}")
    assert refused.status_code == 422, refused.text
    assert refused.json()["errors"] == [
        {"field": "text", "message": "line 1: an email template cannot nest this deeply"}
    ]
    assert snapshot(runtime) == before


def test_a_template_without_a_body_is_422_naming_html_and_text(
    client: TestClient, runtime: Runtime, tenant: Tenant
) -> None:
    before = snapshot(runtime)
    for bodies in ({"html": None, "text": None}, {}, {"html": "", "text": "  "}):
        refused = client.post(
            "/v1/email-templates", json={"name": "bare", "subject": "Hi", **bodies}, headers=tenant.headers
        )
        assert refused.status_code == 422, refused.text
        assert [e["field"] for e in refused.json()["errors"]] == ["html", "text"]
    assert snapshot(runtime) == before

    text_only = _template(client, tenant, html=None)
    refused = _patch(client, tenant, text_only["id"], text=None)
    assert refused.status_code == 422
    assert "html: an email needs an html or a text body" in refused.json()["message"]
    # One body may go while the other comes.
    swapped = _patch(client, tenant, text_only["id"], text=None, html="<p>Hi</p>")
    assert swapped.status_code == 200, swapped.text
    assert (swapped.json()["html"], swapped.json()["text"]) == ("<p>Hi</p>", None)


def test_the_parts_are_bounded(client: TestClient, tenant: Tenant) -> None:
    for fields in (
        {"name": ""},
        {"name": "x" * 256},
        {"subject": ""},
        {"subject": "x" * 999},
        {"html": "x" * (256 * 1024 + 1)},
        {"text": "x" * (256 * 1024 + 1)},
    ):
        response = _create(client, tenant, **fields)
        assert response.status_code == 422, fields
        assert response.json()["errors"][0]["field"] == next(iter(fields))
    assert _create(client, tenant, subject="x" * 998, text="x" * 256 * 1024).status_code == 201


def test_a_read_key_reads_templates_but_cannot_write_them(
    client: TestClient, runtime: Runtime, tenant: Tenant
) -> None:
    template = _template(client, tenant)
    url = f"/v1/email-templates/{template['id']}"
    with db.unit_of_work(runtime.sessions) as session:
        key = auth.create_key(session, tenant.workspace_id, runtime.clock.now(), scopes=["read"])
    reader = {"Authorization": f"Bearer {key.api_key}"}
    before = snapshot(runtime)
    for response in (
        client.post("/v1/email-templates", json={**WELCOME, "name": "mine"}, headers=reader),
        client.patch(url, json={"name": "mine"}, headers=reader),
        client.delete(url, headers=reader),
    ):
        assert response.status_code == 403, response.text
        assert "'admin'" in response.json()["message"]
    assert snapshot(runtime) == before
    assert client.get(url, headers=reader).json() == template
    assert client.get("/v1/email-templates", headers=reader).json()["data"] == [template]
