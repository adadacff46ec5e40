"""Health and metrics."""

from fastapi import APIRouter, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, Counter, generate_latest
from sqlalchemy import text

router = APIRouter(tags=["operations"])

SUBMITTED_ROWS = Counter(
    "batchcall_submitted_rows", "Rows submitted to batches, by what became of them", ["outcome"]
)


@router.get("/healthz")
def healthz(request: Request) -> dict[str, str]:
    with request.app.state.runtime.engine.connect() as connection:
        connection.execute(text("SELECT 1"))
    return {"status": "ok"}


@router.get("/metrics", response_class=Response)
def metrics() -> Response:
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
