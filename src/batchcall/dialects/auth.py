"""The header styles the dialects authenticate with; each ends in the native key check.

A, B and E send ``Authorization: Bearer <key>`` (the native dependency); C sends the two halves of a key
as ``X-API-KEY`` (key id) and ``X-API-SECRET``; D sends the whole key as ``x-api-key``.
"""

from functools import partial
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials
from sqlalchemy.orm import Session

from batchcall.auth import service
from batchcall.auth.dependencies import authenticate, bearer, requires
from batchcall.auth.scopes import Scope
from batchcall.auth.service import Principal
from batchcall.kit.errors import Unauthorized
from batchcall.web.routing import get_session

key_id_header = APIKeyHeader(
    name="X-API-KEY", auto_error=False, scheme_name="X-API-KEY", description="The key id (`key_id`)"
)
key_secret_header = APIKeyHeader(
    name="X-API-SECRET",
    auto_error=False,
    scheme_name="X-API-SECRET",
    description="The key secret (`key_secret`)",
)
whole_key_header = APIKeyHeader(
    name="x-api-key",
    auto_error=False,
    scheme_name="x-api-key",
    description="`<key_id>.<secret>`",
)


def key_and_secret_principal(
    request: Request,
    session: Annotated[Session, Depends(get_session)],
    key_id: Annotated[str | None, Depends(key_id_header)],
    secret: Annotated[str | None, Depends(key_secret_header)],
) -> Principal:
    if not key_id or not secret:
        raise Unauthorized("Missing API credentials: send both 'X-API-KEY' and 'X-API-SECRET'")
    return authenticate(request, partial(service.verify, session, key_id.strip(), secret.strip()))


def whole_key_principal(
    request: Request,
    session: Annotated[Session, Depends(get_session)],
    api_key: Annotated[str | None, Depends(whole_key_header)],
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> Principal:
    """``x-api-key``, or a Bearer token with the same key, which D's reference also names."""
    key = api_key or (credentials.credentials if credentials is not None else None)
    if not key:
        raise Unauthorized("Missing API key: send 'x-api-key: <key>'")
    return authenticate(request, partial(service.verify_api_key, session, key))


BearerWriter = Annotated[Principal, Depends(requires(Scope.CALL_MANAGEMENT))]
BearerReader = Annotated[Principal, Depends(requires(Scope.READ))]
KeySecretWriter = Annotated[Principal, Depends(requires(Scope.CALL_MANAGEMENT, key_and_secret_principal))]
KeySecretReader = Annotated[Principal, Depends(requires(Scope.READ, key_and_secret_principal))]
WholeKeyWriter = Annotated[Principal, Depends(requires(Scope.CALL_MANAGEMENT, whole_key_principal))]
