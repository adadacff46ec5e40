"""The unsubscribe link of every email: a page for the person who clicks it, and the one-click POST their
mail provider sends (RFC 8058), which puts the address on the workspace's suppression list at once; and
that list, read and kept by the workspace's keys.

Opening the link only asks: link scanners and previews open links too, and must not unsubscribe anyone.
"""

from html import escape
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from batchcall.auth.dependencies import DbSession, Reader, Writer
from batchcall.kit.pagination import Limit, Offset, Page
from batchcall.mail import suppressions, unsubscribe
from batchcall.mail.schemas import SuppressionCreate, SuppressionRead
from batchcall.web.http import read_body
from batchcall.web.routing import UnitOfWorkRoute, runtime_of

router = APIRouter(tags=["email"], route_class=UnitOfWorkRoute)

# RFC 8058's body is "List-Unsubscribe=One-Click"; anything far larger is not one.
MAX_UNSUBSCRIBE_BYTES = 4 * 1024
NOT_VALID = "This unsubscribe link is not valid. Use the link in the email you received."
PAGE = {"content": {"text/html": {"schema": {"type": "string"}}}}
# A link that is not one this server signed is a page too, for the person who followed it.
HTML: dict[int | str, dict[str, Any]] = {200: PAGE, 404: {"description": "Link not valid", **PAGE}}


def _page(title: str, body: str, status_code: int = 200) -> HTMLResponse:
    return HTMLResponse(
        f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{title}</title>'
        '<meta name="viewport" content="width=device-width, initial-scale=1"></head>'
        f"<body><main><h1>{title}</h1>{body}</main></body></html>",
        status_code=status_code,
    )


@router.get("/unsubscribe", response_class=HTMLResponse, responses=HTML)
def ask_to_unsubscribe(request: Request, token: str = "") -> HTMLResponse:
    named = unsubscribe.read(runtime_of(request).installation_secret(unsubscribe.UNSUBSCRIBE_KEY), token)
    if named is None:
        return _page("Link not valid", f"<p>{NOT_VALID}</p>", 404)
    _, address = named
    form = (
        f"<p>Stop all email to <strong>{escape(address)}</strong>?</p>"
        f'<form method="post" action="?token={escape(token)}">'
        '<input type="hidden" name="List-Unsubscribe" value="One-Click">'
        '<button type="submit">Unsubscribe</button></form>'
    )
    return _page("Unsubscribe", form)


@router.post("/unsubscribe", response_class=HTMLResponse, responses=HTML)
async def unsubscribe_now(request: Request, session: DbSession, token: str = "") -> HTMLResponse:
    await read_body(request, MAX_UNSUBSCRIBE_BYTES)
    runtime = runtime_of(request)
    named = unsubscribe.read(runtime.installation_secret(unsubscribe.UNSUBSCRIBE_KEY), token)
    if named is None:
        return _page("Link not valid", f"<p>{NOT_VALID}</p>", 404)
    workspace_id, address = named
    suppressions.suppress(session, workspace_id, address, "unsubscribed by its link", runtime.clock.now())
    return _page("Unsubscribed", f"<p>No more email will be sent to <strong>{escape(address)}</strong>.</p>")


suppressions_router = APIRouter(tags=["email"], route_class=UnitOfWorkRoute)


@suppressions_router.post("/email-suppressions", status_code=201)
def add_suppression(
    request: Request, body: SuppressionCreate, principal: Writer, session: DbSession
) -> SuppressionRead:
    now = runtime_of(request).clock.now()
    entry = suppressions.suppress(session, principal.workspace_id, body.address, body.reason, now)
    return SuppressionRead.model_validate(entry)


@suppressions_router.get("/email-suppressions")
def list_suppressions(
    principal: Reader, session: DbSession, limit: Limit = 50, offset: Offset = 0
) -> Page[SuppressionRead]:
    entries, total = suppressions.listed(session, principal.workspace_id, limit, offset)
    return Page.of([SuppressionRead.model_validate(e) for e in entries], total, limit, offset)


@suppressions_router.delete("/email-suppressions/{suppression_id}", status_code=204)
def remove_suppression(suppression_id: str, principal: Writer, session: DbSession) -> None:
    session.delete(suppressions.get(session, principal.workspace_id, suppression_id))
    session.flush()
