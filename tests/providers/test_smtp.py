"""Email through SMTP, end to end against a real mail server on loopback (aiosmtpd) driven by aiosmtplib:
templates rendered in their sandbox, an unsubscribe link on every message that suppresses the address in
one click, a 4xx tried again later and a 5xx failing the attempt with the server's reason."""

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from batchcall.db import unit_of_work
from batchcall.dispatcher.loop import Dispatcher
from batchcall.kit.clock import ManualClock
from batchcall.mail.suppressions import suppressed
from batchcall.models import Base, Call, WebhookDelivery
from batchcall.runtime import Runtime
from tests.dialling import start
from tests.providers.mail_server import MailServer, self_signed
from tests.providers.twilio_support import attempt_of
from tests.support import Tenant, batch_of

ADA, BOB = "ada@example.com", "bob@example.com"
GREYLISTED, NOBODY = "grey@example.com", "nobody@example.com"


@pytest.fixture
def mail() -> Iterator[MailServer]:
    with MailServer().running() as server:
        yield server


def connect(client: TestClient, tenant: Tenant, mail: MailServer, **changes: Any) -> dict[str, Any]:
    credentials = {
        "host": "127.0.0.1",
        "port": mail.port,
        "tls": "none",
        "username": mail.username,
        "password": mail.password,
        "from_address": "reminders@clinic.example",
        "from_name": "Clinic",
    } | changes
    body = {"vendor": "smtp", "channels": ["email"], "credentials": credentials}
    response = client.post("/v1/provider-accounts", json=body, headers=tenant.headers)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


def emails_of(client: TestClient, tenant: Tenant, batch_id: str) -> dict[str, dict[str, Any]]:
    listed = client.get(f"/v1/batches/{batch_id}/calls", headers=tenant.headers).json()["data"]
    return {call["email"]: call for call in listed}


def test_emails_go_out_through_the_workspaces_mail_server(
    client: TestClient,
    runtime: Runtime,
    clock: ManualClock,
    tenant: Tenant,
    mail: MailServer,
    public: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    client.post("/v1/webhooks", json={"url": "https://hooks.example/calls"}, headers=tenant.headers)
    account = connect(client, tenant, mail)
    assert "password" not in account["credentials"]
    assert account["secrets_set"] == ["password"]
    verified = client.post(f"/v1/provider-accounts/{account['id']}/verify", headers=tenant.headers).json()
    assert verified["ok"] is True, verified
    template = {
        "name": "visit",
        "subject": "Your visit on {{ when }}, {{ first_name }}",
        "text": "Hi {{ first_name }}, see you {{ when }}.",
        "html": "<p>Hi {{ first_name }}, see you {{ when }}.</p>",
    }
    assert client.post("/v1/email-templates", json=template, headers=tenant.headers).status_code == 201
    mail.refusals = {
        GREYLISTED: "451 4.7.1 Greylisted, try again later",
        NOBODY: "550 5.1.1 No such mailbox",
    }
    rows = [
        {
            "email": ADA,
            "channel": "email",
            "first_name": "<Ada>",
            "email_template_name": "visit",
            "email_template_params": {"when": "Tuesday"},
        },
        {
            "email": BOB,
            "channel": "email",
            "email_subject": "Hello\r\nBcc: x@evil.example",
            "instruction": "Hi Zoë",
        },
        {"email": GREYLISTED, "channel": "email", "instruction": "Hi"},
        {"email": NOBODY, "channel": "email", "instruction": "Hi"},
        {"email": "eve@example.com", "channel": "email", "email_template_name": "nonesuch"},
    ]
    batch = start(client, tenant, rows, max_retry_attempts=3, retry_on=["failed"])
    dispatcher = Dispatcher(runtime, worker_id="w")
    dispatcher.tick()
    assert {message["To"] for message in mail.received} == {ADA, BOB}
    ada = mail.to(ADA)
    assert ada["Subject"] == "Your visit on Tuesday, <Ada>"
    assert ada["From"] == "Clinic <reminders@clinic.example>"
    html = ada.get_body(("html",))
    text = ada.get_body(("plain",))
    assert html is not None
    assert text is not None
    assert "<p>Hi &lt;Ada&gt;, see you Tuesday.</p>" in html.get_content()
    assert text.get_content().strip() == "Hi <Ada>, see you Tuesday."
    assert ada["List-Unsubscribe"].startswith(f"<{public}/v1/unsubscribe?token=")
    assert ada["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    # On the wire too: one header line a mail client reads as a link, not an encoded word.
    [wire] = [raw for raw in mail.raw if f"To: {ADA}".encode() in raw]
    assert f"\r\nList-Unsubscribe: <{public}/v1/unsubscribe?token=".encode() in wire
    # A line break in a subject adds no header.
    bob = mail.to(BOB)
    assert bob["Subject"] == "Hello Bcc: x@evil.example"
    assert bob["Bcc"] is None
    # Seven-bit on the wire, whatever the text: any server takes it.
    [bob_wire] = [raw for raw in mail.raw if f"To: {BOB}".encode() in raw]
    assert bob_wire.isascii()
    assert bob.get_content().strip() == "Hi Zoë"
    dispatcher.tick()
    emails = emails_of(client, tenant, batch["id"])
    assert (emails[ADA]["status"], emails[BOB]["status"]) == ("completed", "completed")
    assert attempt_of(client, tenant, emails[ADA]["id"])["provider"] == "smtp"
    refused = emails[NOBODY]
    assert (refused["status"], refused["attempts"]) == ("failed", 1)
    attempt = attempt_of(client, tenant, refused["id"])
    assert attempt["error_code"] == "550"
    assert "550 5.1.1 No such mailbox" in attempt["error"]
    assert emails["eve@example.com"]["status"] == "skipped"
    assert "nonesuch" in emails["eve@example.com"]["skip_reason"]
    # The greylisted message went nowhere and is not an attempt; it goes once the server takes it.
    assert (emails[GREYLISTED]["status"], emails[GREYLISTED]["attempts"]) == ("queued", 0)
    del mail.refusals[GREYLISTED]
    clock.advance(runtime.settings.smtp.retry_after_seconds)
    dispatcher.tick()
    dispatcher.tick()
    assert emails_of(client, tenant, batch["id"])[GREYLISTED]["status"] == "completed"
    assert batch_of(client, tenant, batch["id"])["status"] == "completed"
    with runtime.sessions() as session:
        sent = session.scalars(
            select(WebhookDelivery.payload).where(WebhookDelivery.event_type == "call.failed")
        ).all()
        stored = "\n".join(
            repr(row) for table in Base.metadata.sorted_tables for row in session.execute(table.select())
        )
    [failed] = sent
    assert (failed["data"]["attempt"]["provider"], failed["data"]["attempt"]["error_code"]) == ("smtp", "550")
    # The login's password went to the server, and nowhere else in clear.
    assert mail.password not in caplog.text
    assert mail.password not in stored


def test_the_unsubscribe_link_suppresses_the_address_in_one_click_and_only_then(
    client: TestClient, runtime: Runtime, tenant: Tenant, mail: MailServer, public: str
) -> None:
    connect(client, tenant, mail)
    start(client, tenant, [{"email": ADA, "channel": "email", "instruction": "Hi"}])
    Dispatcher(runtime, worker_id="w").tick()
    link = mail.to(ADA)["List-Unsubscribe"].strip("<>")
    path = link.removeprefix(public)
    asked = client.get(path)
    assert asked.status_code == 200
    assert ADA in asked.text
    assert "<form" in asked.text
    forged = client.post(path.replace("token=", "token=x"), data={"List-Unsubscribe": "One-Click"})
    assert forged.status_code == 404
    for garbled in ("x.é", "é", "." * 10_000):
        assert client.get("/v1/unsubscribe", params={"token": garbled}).status_code == 404
        assert client.post("/v1/unsubscribe", params={"token": garbled}).status_code == 404
    # Opening the link (a scanner, a preview) did not unsubscribe: a second email still goes out.
    batch = start(client, tenant, [{"email": ADA, "channel": "email", "instruction": "Again"}], name="Second")
    dispatcher = Dispatcher(runtime, worker_id="w")
    dispatcher.tick()
    assert len(mail.received) == 2
    clicked = client.post(path, data={"List-Unsubscribe": "One-Click"})
    assert clicked.status_code == 200
    assert client.post(path, data={"List-Unsubscribe": "One-Click"}).status_code == 200
    batch = start(
        client, tenant, [{"email": ADA.upper(), "channel": "email", "instruction": "Third"}], name="Third"
    )
    dispatcher.tick()
    assert len(mail.received) == 2
    [call] = emails_of(client, tenant, batch["id"]).values()
    assert call["status"] == "skipped"
    assert "unsubscribed" in call["skip_reason"]
    assert urlsplit(link).path == "/v1/unsubscribe"


def test_verify_says_what_is_wrong_with_a_mail_server(
    client: TestClient, runtime: Runtime, tenant: Tenant, mail: MailServer
) -> None:
    wrong = connect(client, tenant, mail, password="not-it")
    found = client.post(f"/v1/provider-accounts/{wrong['id']}/verify", headers=tenant.headers).json()
    assert found["ok"] is False
    assert "535" in found["detail"]
    runtime.settings = runtime.settings.model_copy(update={"allow_private_targets": False})
    refused = client.post(f"/v1/provider-accounts/{wrong['id']}/verify", headers=tenant.headers).json()
    assert refused["ok"] is False
    assert "refused" in refused["detail"]


def test_the_suppression_list_is_the_workspaces_to_read_and_keep(
    client: TestClient, runtime: Runtime, tenant: Tenant, mail: MailServer, public: str
) -> None:
    connect(client, tenant, mail)
    added = client.post(
        "/v1/email-suppressions",
        json={"address": "Ada@Example.com", "reason": "asked by phone"},
        headers=tenant.headers,
    )
    assert added.status_code == 201
    assert added.json()["address"] == ADA
    again = client.post("/v1/email-suppressions", json={"address": ADA}, headers=tenant.headers)
    assert again.json()["id"] == added.json()["id"]
    for wrong, fault in (
        ("not-an-address", "'not-an-address' is not an email address"),
        ("josé@example.com", "'josé@example.com' is not an email address batchcall can send to"),
    ):
        refused = client.post("/v1/email-suppressions", json={"address": wrong}, headers=tenant.headers)
        assert refused.status_code == 422
        assert refused.json()["errors"][0]["message"].startswith(fault)
    [listed] = client.get("/v1/email-suppressions", headers=tenant.headers).json()["data"]
    assert (listed["address"], listed["reason"]) == (ADA, "asked by phone")
    with runtime.sessions() as session:
        assert suppressed(session, tenant.workspace_id, {"Ada@Example.com", "ADA@EXAMPLE.COM", BOB}) == {ADA}
    dispatcher = Dispatcher(runtime, worker_id="w")
    start(client, tenant, [{"email": ADA, "channel": "email", "instruction": "Hi"}])
    dispatcher.tick()
    assert mail.received == []
    removed = client.delete(f"/v1/email-suppressions/{listed['id']}", headers=tenant.headers)
    assert removed.status_code == 204
    start(client, tenant, [{"email": ADA, "channel": "email", "instruction": "Hi"}], name="Again")
    dispatcher.tick()
    assert [message["To"] for message in mail.received] == [ADA]


def test_emails_share_a_connection_and_one_the_server_let_go_is_opened_again(
    client: TestClient, runtime: Runtime, tenant: Tenant, mail: MailServer, public: str
) -> None:
    connect(client, tenant, mail)
    rows = [{"email": f"p{n}@example.com", "channel": "email", "instruction": "Hi"} for n in range(5)]
    batch = start(client, tenant, rows)
    dispatcher = Dispatcher(runtime, worker_id="w")
    dispatcher.tick()
    assert (len(mail.received), mail.logins) == (5, 1)
    mail.hang_up()
    later = start(
        client, tenant, [{"email": "q@example.com", "channel": "email", "instruction": "Hi"}], name="B"
    )
    dispatcher.tick()
    dispatcher.tick()
    assert (len(mail.received), mail.logins) == (6, 2)
    assert batch_of(client, tenant, later["id"])["status"] == "completed"
    assert batch_of(client, tenant, batch["id"])["status"] == "completed"


def test_starttls_is_used_and_a_certificate_nothing_vouches_for_is_refused(
    client: TestClient, runtime: Runtime, tenant: Tenant, tmp_path: Path, public: str
) -> None:
    certificate, key = self_signed(tmp_path)
    with MailServer(tls=(certificate, key)).running() as secure:
        account = connect(client, tenant, secure, tls="starttls")
        verify = f"/v1/provider-accounts/{account['id']}/verify"
        untrusted = client.post(verify, headers=tenant.headers).json()
        assert untrusted["ok"] is False
        assert "certificate" in untrusted["detail"].lower()
        smtp = runtime.settings.smtp.model_copy(update={"ca_file": str(certificate)})
        runtime.settings = runtime.settings.model_copy(update={"smtp": smtp})
        trusted = client.post(verify, headers=tenant.headers).json()
        assert trusted["ok"] is True, trusted
        assert "starttls" in trusted["detail"]
        start(client, tenant, [{"email": ADA, "channel": "email", "instruction": "Over TLS"}])
        dispatcher = Dispatcher(runtime, worker_id="w")
        dispatcher.tick()
        dispatcher.tick()
        assert [message["To"] for message in secure.received] == [ADA]


def test_an_email_whose_answer_was_lost_is_never_sent_twice(
    client: TestClient, runtime: Runtime, clock: ManualClock, tenant: Tenant, mail: MailServer, public: str
) -> None:
    connect(client, tenant, mail)
    mail.lost_answers = {ADA}
    rows = [{"email": address, "channel": "email", "instruction": "Hi"} for address in (ADA, BOB)]
    batch = start(client, tenant, rows)
    dispatcher = Dispatcher(runtime, worker_id="w")
    dispatcher.tick()
    # The server hung up on Ada's message after taking it; Bob's went on a new connection.
    assert [message["To"] for message in mail.received] == [ADA, BOB]
    for _ in range(3):
        clock.advance(runtime.settings.lease_seconds + 1)
        dispatcher.tick()
    assert len(mail.received) == 2
    clock.advance(runtime.settings.unconfirmed_dial_timeout_seconds)
    dispatcher.tick()
    assert len(mail.received) == 2
    emails = emails_of(client, tenant, batch["id"])
    assert (emails[ADA]["status"], emails[BOB]["status"]) == ("unknown", "completed")
    assert batch_of(client, tenant, batch["id"])["status"] == "completed"


def test_an_address_the_server_could_not_be_given_fails_alone(
    client: TestClient, runtime: Runtime, tenant: Tenant, mail: MailServer, public: str
) -> None:
    """A row stored before addresses had to be ASCII fails with the reason, and the next email still goes
    out on the same connection."""
    connect(client, tenant, mail)
    rows = [{"email": address, "channel": "email", "instruction": "Hi"} for address in (ADA, BOB)]
    batch = start(client, tenant, rows)
    with unit_of_work(runtime.sessions) as session:
        session.execute(update(Call).where(Call.email == ADA).values(email="adá@example.com"))
    dispatcher = Dispatcher(runtime, worker_id="w")
    dispatcher.tick()
    dispatcher.tick()
    assert [message["To"] for message in mail.received] == [BOB]
    emails = emails_of(client, tenant, batch["id"])
    assert emails["adá@example.com"]["status"] == "failed"
    attempt = attempt_of(client, tenant, emails["adá@example.com"]["id"])
    assert "write it in ASCII" in attempt["error"]
