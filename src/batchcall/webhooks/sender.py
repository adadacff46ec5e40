"""The sender: posts due deliveries, signed the Standard Webhooks way, and retries them with back-off.

One ``tick`` claims the due deliveries under a lease (``FOR UPDATE SKIP LOCKED`` on PostgreSQL, so any
number of senders share the outbox; SQLite's one writer lock on SQLite), posts them without holding the
database, and records each answer: a 2xx delivers; anything else waits ``backoff`` and is tried again,
until ``webhook_max_attempts`` are spent and the delivery fails. A sender that dies mid-post leaves a
lease that lapses, and the delivery is posted again: receivers see each event at least once, under the
same webhook-id. Tests drive ``tick`` on a manual clock; ``serve`` and ``batchcall worker`` run ``run``.
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

from batchcall.db import unit_of_work
from batchcall.runtime import Runtime
from batchcall.webhooks import repository
from batchcall.webhooks.schemas import DeliveryStatus

log = logging.getLogger("batchcall.webhooks")

CLAIM_LIMIT = 100
CONCURRENCY = 16
# A claimed delivery is someone's for the timeout and this much more; then another sender may post it.
LEASE_MARGIN_SECONDS = 30.0
# Retry n (from 1) waits BACKOFF_BASE * BACKOFF_FACTOR**(n-1), at most BACKOFF_CAP, give or take JITTER:
# 10 s, 40 s, 160 s, 11 min, 43 min, 2.8 h, then 6 h; eight attempts span about ten hours.
BACKOFF_BASE_SECONDS = 10.0
BACKOFF_FACTOR = 4.0
BACKOFF_CAP_SECONDS = 6 * 3600.0
JITTER = 0.2
ERROR_CHARS = 500


def backoff(attempt: int, rng: random.Random) -> timedelta:
    """How long to wait after failed attempt number ``attempt`` (from 1) before the next."""
    delay = min(BACKOFF_CAP_SECONDS, BACKOFF_BASE_SECONDS * BACKOFF_FACTOR ** (attempt - 1))
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
        self.client = httpx.Client(timeout=settings.webhook_timeout_seconds, follow_redirects=False)
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
            response = self.client.post(outgoing.url, content=outgoing.body, headers=outgoing.headers)
        except httpx.HTTPError as fault:
            reason = f"{type(fault).__name__}: {fault}"[:ERROR_CHARS]
            return Answer(outgoing.delivery_id, outgoing.attempt, None, reason)
        refused = (
            None if response.is_success else f"HTTP {response.status_code}: {response.text[:ERROR_CHARS]}"
        )
        return Answer(outgoing.delivery_id, outgoing.attempt, response.status_code, refused)

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
                    delivery.next_attempt_at = now + backoff(delivery.attempts, self.rng)
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
