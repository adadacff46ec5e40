"""SMTP adapter benchmark: emails sent per second by one worker through aiosmtplib to a real mail server on
loopback (aiosmtpd, with a login), beside the same emails through the simulated provider, in one run.

Both send the same batch (every row rendered from a stored template, so the sandboxed Jinja2 render is in
both); the difference per email is what sending over SMTP adds: a connection, the greeting and login, the
message and its answer. A real server adds its network round trips on top.
"""

import time
import uuid

from tests.providers.mail_server import MailServer

from batchcall import db
from batchcall.agents import service as agents
from batchcall.agents.schemas import AgentCreate
from batchcall.auth import service as auth
from batchcall.batches import service as batches
from batchcall.batches.schemas import BatchCreate
from batchcall.calls import ingestion
from batchcall.dispatcher.loop import Dispatcher
from batchcall.email_templates import service as email_templates
from batchcall.email_templates.schemas import EmailTemplateCreate
from batchcall.kit.sealing import new_key
from batchcall.models import Batch, BatchStatus
from batchcall.provider_accounts import service as provider_accounts
from batchcall.provider_accounts.schemas import ProviderAccountCreate
from batchcall.runtime import Runtime
from batchcall.testing import scratch_database
from bench.dispatch import runtime_for
from bench.support import machine_load

EMAILS = 300


def new_batch(runtime: Runtime, mail: MailServer | None) -> str:
    """A started batch of EMAILS emails from a template, through ``mail`` (None: the simulated provider)."""
    now = runtime.clock.now()
    with db.unit_of_work(runtime.sessions) as session:
        workspace = auth.create_workspace(session, f"bench {uuid.uuid4().hex[:8]}", now)
        if mail is not None:
            credentials = {
                "host": "127.0.0.1",
                "port": mail.port,
                "tls": "none",
                "username": mail.username,
                "password": mail.password,
                "from_address": "bench@example.com",
            }
            account = ProviderAccountCreate(vendor="smtp", channels=["email"], credentials=credentials)
            provider_accounts.create(session, workspace.id, account, runtime.sealer, now, allow_private=True)
        template = EmailTemplateCreate(
            name="bench", subject="Hello {{ first_name }}", text="Hi {{ first_name }}, see you {{ when }}."
        )
        email_templates.create(session, workspace.id, template, now)
        agent = agents.create(session, workspace.id, AgentCreate(name="bench"), now)
        settings = BatchCreate(
            name="bench",
            agent_id=agent.id,
            channel="email",
            schedule="immediate",
            max_concurrent_calls=EMAILS,
        )
        batch = batches.create(session, workspace.id, settings, now)
        rows = (
            (
                n,
                {
                    "email": f"person{n}@example.com",
                    "channel": "email",
                    "first_name": f"P{n}",
                    "email_template_name": "bench",
                    "email_template_params": {"when": "Tuesday"},
                },
            )
            for n in range(1, EMAILS + 1)
        )
        result = ingestion.add_calls(session, batch, rows, now)
        batch_id = batch.id
    assert result.accepted == EMAILS, result.errors.listed[:3]
    return batch_id


def emails_per_second(runtime: Runtime, mail: MailServer | None) -> float:
    batch_id = new_batch(runtime, mail)
    dispatcher = Dispatcher(runtime, worker_id="bench")
    started = time.perf_counter()
    while True:
        dispatcher.tick()
        with runtime.sessions() as session:
            batch = session.get(Batch, batch_id)
            assert batch is not None
            if batch.status == BatchStatus.COMPLETED:
                break
    return EMAILS / (time.perf_counter() - started)


def run(kind: str) -> None:
    with scratch_database(kind, "batchcall_bench_smtp") as url, MailServer().running() as mail:
        runtime = runtime_for(
            url, secret_keys=new_key(), public_url="http://127.0.0.1:9", allow_private_targets=True
        )
        simulated_rate = emails_per_second(runtime, None)
        smtp_rate = emails_per_second(runtime, mail)
        runtime.engine.dispose()
    assert len(mail.received) == EMAILS
    added_ms = (1 / smtp_rate - 1 / simulated_rate) * 1000
    print(
        f"smtp      {kind:<10} through SMTP {smtp_rate:7,.0f} emails/s   "
        f"simulated {simulated_rate:7,.0f} emails/s   ratio {smtp_rate / simulated_rate:5.1%}   "
        f"added per email {added_ms:.3f} ms"
    )


def main() -> None:
    print(
        f"smtp: {EMAILS:,} emails per run from a template, one worker, aiosmtplib against a loopback "
        f"aiosmtpd with a login; {machine_load()}"
    )
    for kind in ("postgresql", "sqlite"):
        run(kind)


if __name__ == "__main__":
    main()
