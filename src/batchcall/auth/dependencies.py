"""FastAPI dependencies that turn credentials into a ``Principal`` with the scope the route needs."""

import hashlib
from collections.abc import Callable, Coroutine
from functools import partial
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from batchcall import ratelimit
from batchcall.auth import service
from batchcall.auth.scopes import Scope
from batchcall.auth.service import Principal
from batchcall.idempotency import service as idempotency
from batchcall.kit.errors import Unauthorized
from batchcall.web.routing import get_session

FORM_TYPES = ("multipart/form-data", "application/x-www-form-urlencoded")

bearer = HTTPBearer(auto_error=False, description="An API key: `Authorization: Bearer <key_id>.<secret>`")


def authenticate(request: Request, verify: Callable[[], Principal]) -> Principal:
    """Check a presented credential, counting the client's failures and the key's requests.

    A client past its failures is refused before its credential is looked at, so neither the answer nor
    the time it takes tells a right credential from a wrong one.
    """
    ratelimit.refuse_failing_client(request)
    try:
        principal = verify()
    except Unauthorized:
        ratelimit.count_failed_authentication(request)
        raise
    ratelimit.limit_key(request, principal.key_id)
    return principal


def bearer_principal(
    request: Request,
    session: Annotated[Session, Depends(get_session)],
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> Principal:
    if credentials is None:
        raise Unauthorized("Missing API key: send 'Authorization: Bearer <key>'")
    return authenticate(request, partial(service.verify_api_key, session, credentials.credentials))


async def guard_idempotency(request: Request, session: Session, principal: Principal) -> None:
    """Replay a keyed POST that was answered before; remember a new one so its answer is stored."""
    if request.method != "POST":
        return
    key = next((request.headers[h] for h in idempotency.HEADERS if h in request.headers), None)
    if key is None:
        return
    # The query is part of what was asked: a dry run and the real request under one key are two requests.
    target = f"{request.url.path}?{request.url.query}" if request.url.query else request.url.path
    hashed = idempotency.request_hash(request.method, target, await _content(request))
    request.state.idempotency = await run_in_threadpool(
        idempotency.check, session, principal.workspace_id, key, hashed
    )


async def _content(request: Request) -> bytes:
    """What makes two requests the same: the raw body, or for a form its fields and files.

    FastAPI has already streamed a form into its parts, so its raw body is gone; hashing the parts
    also lets a client resend one file under a new multipart boundary.
    """
    if not request.headers.get("content-type", "").startswith(FORM_TYPES):
        return await request.body()
    form = await request.form()
    return await run_in_threadpool(_form_digest, list(form.multi_items()))


def _form_digest(items: list[tuple[str, UploadFile | str]]) -> bytes:
    digest = hashlib.sha256()
    for name, value in sorted(items, key=lambda item: item[0]):
        digest.update(f"\n{len(name)}:{name}=".encode())
        if isinstance(value, str):
            digest.update(value.encode())
            continue
        digest.update(f"file {value.filename!r}\n".encode())
        value.file.seek(0)
        while block := value.file.read(1 << 20):
            digest.update(block)
        value.file.seek(0)
    return digest.digest()


def requires(
    scope: Scope, authenticate: Callable[..., Principal] = bearer_principal
) -> Callable[..., Coroutine[Any, Any, Principal]]:
    """A dependency that authenticates, checks ``scope`` and applies idempotency keys."""

    async def dependency(
        request: Request,
        session: Annotated[Session, Depends(get_session)],
        principal: Annotated[Principal, Depends(authenticate)],
    ) -> Principal:
        principal.require(scope)
        await guard_idempotency(request, session, principal)
        return principal

    return dependency


Reader = Annotated[Principal, Depends(requires(Scope.READ))]
Writer = Annotated[Principal, Depends(requires(Scope.CALL_MANAGEMENT))]
Admin = Annotated[Principal, Depends(requires(Scope.ADMIN))]
DbSession = Annotated[Session, Depends(get_session)]
