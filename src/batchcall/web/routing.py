"""Every request runs in one unit of work: the route commits after the handler, or rolls back."""

from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request, Response
from fastapi.routing import APIRoute
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.requests import HTTPConnection

from batchcall.bounds import SETTINGS_IN_EFFECT
from batchcall.idempotency import service as idempotency
from batchcall.runtime import Runtime


def runtime_of(request: HTTPConnection) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


def public_base(request: HTTPConnection) -> str:
    """The base URL callers reach this server at: ``BATCHCALL_PUBLIC_URL``, else the one this request used."""
    return runtime_of(request).settings.public_url.rstrip("/") or str(request.base_url).rstrip("/")


def public_url_of(request: HTTPConnection) -> str:
    """The URL this request was sent to as its sender saw it (behind a proxy too): the public base, the
    path and the query, as a vendor that signs the URL (Twilio) signed it."""
    query = request.url.query
    return f"{public_base(request)}{request.url.path}" + (f"?{query}" if query else "")


def get_session(request: Request) -> Session:
    session: Session = request.state.session
    return session


class UnitOfWorkRoute(APIRoute):
    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def run_in_unit_of_work(request: Request) -> Response:
            runtime = runtime_of(request)
            bounds = SETTINGS_IN_EFFECT.set(runtime.settings)
            session = runtime.sessions()
            request.state.session = session
            request.state.idempotency = None
            try:
                response = await handler(request)
                if response.status_code >= 400:
                    await run_in_threadpool(session.rollback)
                    return response
                pending: idempotency.Pending | None = request.state.idempotency
                if pending is not None:
                    answer = idempotency.StoredAnswer(
                        response.status_code, bytes(response.body), response.media_type or "application/json"
                    )
                    await run_in_threadpool(idempotency.store, session, pending, answer, runtime.clock.now())
                await run_in_threadpool(session.commit)
                return response
            except idempotency.Replay as replay:
                await run_in_threadpool(session.rollback)
                return _replayed(replay.answer)
            except IntegrityError:
                await run_in_threadpool(session.rollback)
                replayed = await run_in_threadpool(_replay_after_race, request)
                if replayed is None:
                    raise
                return replayed
            except BaseException:
                await run_in_threadpool(session.rollback)
                raise
            finally:
                await run_in_threadpool(session.close)
                SETTINGS_IN_EFFECT.reset(bounds)

        return run_in_unit_of_work


def _replayed(answer: idempotency.StoredAnswer) -> Response:
    return Response(answer.body, status_code=answer.status_code, media_type=answer.media_type)


def _replay_after_race(request: Request) -> Response | None:
    """Two requests with one key raced; the loser answers with the winner's stored answer."""
    pending: idempotency.Pending | None = request.state.idempotency
    if pending is None:
        return None
    with runtime_of(request).sessions() as session:
        try:
            idempotency.check(session, pending.workspace_id, pending.key, pending.request_hash)
        except idempotency.Replay as replay:
            return _replayed(replay.answer)
    return None
