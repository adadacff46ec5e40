"""The sender: posts due deliveries, signed the Standard Webhooks way, and retries them with back-off.

One ``tick`` claims the due deliveries under a lease (``FOR UPDATE SKIP LOCKED`` on PostgreSQL, so any
number of senders share the outbox; SQLite's one writer lock on SQLite), posts them without holding the
database, and records each answer: a 2xx delivers; anything else waits ``backoff`` and is tried again,
until ``webhook_max_attempts`` are spent and the delivery fails. A sender that dies mid-post leaves a
lease that lapses, and the delivery is posted again: receivers see each event at least once, under the
same webhook-id. Tests drive ``tick`` on a manual clock; ``serve`` and ``batchcall worker`` run ``run``.

Posts go through ``kit.outbound``'s client, so they reach public addresses only (unless
``allow_private_targets``), whatever the endpoint's name resolves to by then; a refused target is a failed
attempt like any other, so fixing the name's DNS heals it. Redirects are not followed. Of a reply only the
status is kept, and for a failure a short printable excerpt of its body: the deliveries API shows
``last_error`` to read-only keys, and the receiver may be a server the caller could not read otherwise.
"""

import logging
import random
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta

import httpx
import orjson
from standardwebhooks import Webhook

from batchcall.config import Settings
from batchcall.db import unit_of_work
from batchcall.kit import outbound
from batchcall.runtime import Runtime
from batchcall.webhooks import repository
from batchcall.webhooks.schemas import DeliveryStatus

log = logging.getLogger("batchcall.webhooks")

CLAIM_LIMIT = 100
CONCURRENCY = 16
# A claimed delivery is someone's for the timeout and this much more; then another sender may post it.
LEASE_MARGIN_SECONDS = 30.0
JITTER = 0.2
# Enough of a failed reply's body for its excerpt, read and no more, so a huge reply costs nothing.
REPLY_BYTES = 4 * outbound.EXCERPT_CHARS


def backoff(attempt: int, settings: Settings, rng: random.Random) -> timedelta:
    """How long to wait after failed attempt number ``attempt`` (from 1) before the next: the
    ``webhook_backoff_*`` settings' base times factor**(attempt-1), at most the cap, give or take JITTER.
    By default 10 s, 40 s, 160 s, 11 min, 43 min, 2.8 h, then 6 h; eight attempts span about ten hours."""
    cap = settings.webhook_backoff_cap_seconds
    try:
        delay = min(
            cap, settings.webhook_backoff_base_seconds * settings.webhook_backoff_factor ** (attempt - 1)
        )
    except OverflowError:
        delay = cap
    return timedelta(seconds=delay * rng.uniform(1 - JITTER, 1 + JITTER))


@dataclass(frozen=True, slots=True)
class Outgoing:
    """One claimed delivery, ready to post."""

    delivery_id: str
    attempt: int
    url: str
    headers: dict[str, str]
    body: bytes


@dataclass(frozen=True, slots=True)
class Answer:
    delivery_id: str
    attempt: int
    status_code: int | None
    error: str | None

    @property
    def delivered(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


def signed(delivery_id: str, payload: object, secret: str, at: datetime) -> tuple[dict[str, str], bytes]:
    """The headers and body of a delivery posted at ``at``."""
    body = orjson.dumps(payload)
    signature = Webhook(secret).sign(delivery_id, at, body.decode())
    headers = {
        "content-type": "application/json",
        "user-agent": "batchcall-webhooks",
        # An uncompressed reply, so the few bytes read of it are text and nothing can inflate them.
        "accept-encoding": "identity",
        "webhook-id": delivery_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": signature,
    }
    return headers, body


class WebhookSender:
    def __init__(self, runtime: Runtime, rng: random.Random | None = None) -> None:
        self.runtime = runtime
        self.rng = rng or random.Random()
        settings = runtime.settings
        self.lease = timedelta(seconds=settings.webhook_timeout_seconds + LEASE_MARGIN_SECONDS)
        self.client = outbound.client(
            allow_private=lambda: runtime.settings.allow_private_targets,
            timeout=settings.webhook_timeout_seconds,
        )
        self.pool = ThreadPoolExecutor(CONCURRENCY, thread_name_prefix="batchcall-webhook")

    def close(self) -> None:
        self.pool.shutdown()
        self.client.close()

    def tick(self) -> int:
        """Post every delivery due now (up to ``CLAIM_LIMIT``); answers how many were posted."""
        outgoing = self.claim()
        if outgoing:
            self.record(list(self.pool.map(self.post, outgoing)))
        return len(outgoing)

    def claim(self) -> list[Outgoing]:
        now = self.runtime.clock.now()
        outgoing: list[Outgoing] = []
        with unit_of_work(self.runtime.sessions) as session:
            for delivery, endpoint in repository.claim_due(session, now, CLAIM_LIMIT):
                delivery.attempts += 1
                delivery.next_attempt_at = now + self.lease
                headers, body = signed(delivery.id, delivery.payload, endpoint.secret, now)
                outgoing.append(Outgoing(delivery.id, delivery.attempts, endpoint.url, headers, body))
        return outgoing

    def post(self, outgoing: Outgoing) -> Answer:
        try:
            with self.client.stream(
                "POST", outgoing.url, content=outgoing.body, headers=outgoing.headers
            ) as response:
                return Answer(
                    outgoing.delivery_id, outgoing.attempt, response.status_code, _failure(response)
                )
        except (outbound.TargetRefused, outbound.TargetUnresolved) as refusal:
            return Answer(outgoing.delivery_id, outgoing.attempt, None, refusal.message)
        except httpx.HTTPError as fault:
            reason = outbound.excerpt(f"{type(fault).__name__}: {fault}")
            return Answer(outgoing.delivery_id, outgoing.attempt, None, reason)

    def record(self, answers: Sequence[Answer]) -> None:
        """Store each answer, unless the delivery changed hands meanwhile (redelivered, or deleted)."""
        now = self.runtime.clock.now()
        max_attempts = self.runtime.settings.webhook_max_attempts
        with unit_of_work(self.runtime.sessions) as session:
            deliveries = repository.lock_deliveries(session, [a.delivery_id for a in answers])
            for answer in answers:
                delivery = deliveries.get(answer.delivery_id)
                if (
                    delivery is None
                    or delivery.attempts != answer.attempt
                    or delivery.status != DeliveryStatus.PENDING
                ):
                    continue
                delivery.last_status_code = answer.status_code
                delivery.last_error = answer.error
                if answer.delivered:
                    delivery.status = DeliveryStatus.DELIVERED
                    delivery.delivered_at = now
                    delivery.next_attempt_at = None
                elif delivery.attempts >= max_attempts:
                    delivery.status = DeliveryStatus.FAILED
                    delivery.next_attempt_at = None
                else:
                    delivery.next_attempt_at = now + backoff(
                        delivery.attempts, self.runtime.settings, self.rng
                    )
                log.info(
                    "webhook %s attempt %d: %s",
                    delivery.id,
                    delivery.attempts,
                    answer.error or "delivered",
                    extra={
                        "delivery_id": delivery.id,
                        "status": delivery.status,
                        "status_code": answer.status_code,
                    },
                )

    def run(self, stop: threading.Event) -> None:
        """Tick until ``stop`` is set; idle passes wait ``poll_interval_seconds``."""
        interval = self.runtime.settings.poll_interval_seconds
        while not stop.is_set():
            try:
                busy = self.tick() > 0
            except Exception:
                # A failed pass changed nothing it did not commit; leases bring back what it claimed.
                log.exception("webhook pass failed")
                busy = False
            if not busy:
                stop.wait(interval)


def _failure(response: httpx.Response) -> str | None:
    """Why the reply does not deliver, with a short clean excerpt of what it said; None if it does."""
    head = b""
    # Read even a success's first bytes: a reply read to its end leaves the connection for the next post.
    for chunk in response.iter_raw():
        head += chunk
        if len(head) >= REPLY_BYTES:
            break
    if response.is_success:
        return None
    status = f"HTTP {response.status_code}"
    if response.is_redirect:
        location = outbound.excerpt(response.headers.get("location", ""))
        return f"{status}: redirects are not followed; register the URL it points to: {location}"
    said = outbound.excerpt(head[:REPLY_BYTES].decode("utf-8", errors="replace"))
    return f"{status}: {said}" if said else status


class BackgroundSender:
    """The sender on a thread, beside the API (``serve``) or the dispatcher (``batchcall worker``)."""

    def __init__(self, runtime: Runtime) -> None:
        self._stop = threading.Event()
        self._sender = WebhookSender(runtime)
        self._thread = threading.Thread(
            target=self._sender.run, args=(self._stop,), name="batchcall-webhooks", daemon=True
        )

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()
        self._sender.close()
