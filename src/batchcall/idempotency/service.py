"""A POST retried with the same idempotency key gets the first answer; with another body, a 422."""

import hashlib
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from batchcall.kit.errors import Invalid
from batchcall.models import IdempotencyRecord

HEADERS = ("idempotency-key", "x-idempotency-key")


@dataclass(frozen=True)
class Pending:
    """A keyed request whose answer will be stored with the request's own writes."""

    workspace_id: str
    key: str
    request_hash: str


@dataclass(frozen=True)
class StoredAnswer:
    status_code: int
    body: bytes
    media_type: str


class Replay(Exception):
    def __init__(self, answer: StoredAnswer) -> None:
        self.answer = answer


def request_hash(method: str, path: str, body: bytes) -> str:
    digest = hashlib.sha256(f"{method} {path}\n".encode())
    digest.update(body)
    return digest.hexdigest()


def check(session: Session, workspace_id: str, key: str, hashed: str) -> Pending:
    """Raise ``Replay`` with the stored answer, or 422 when the key was used for another request."""
    if len(key) > 255:
        raise Invalid("Idempotency key is longer than 255 characters")
    record = session.scalar(
        select(IdempotencyRecord).where(
            IdempotencyRecord.workspace_id == workspace_id, IdempotencyRecord.key == key
        )
    )
    if record is None:
        return Pending(workspace_id, key, hashed)
    if record.request_hash != hashed:
        raise Invalid(f"Idempotency key '{key}' was already used with a different request")
    raise Replay(StoredAnswer(record.status_code, record.response_body.encode(), record.media_type))


def store(session: Session, pending: Pending, answer: StoredAnswer, now: datetime) -> None:
    session.add(
        IdempotencyRecord(
            workspace_id=pending.workspace_id,
            key=pending.key,
            request_hash=pending.request_hash,
            status_code=answer.status_code,
            response_body=answer.body.decode(),
            media_type=answer.media_type,
            created_at=now,
        )
    )
    session.flush()
