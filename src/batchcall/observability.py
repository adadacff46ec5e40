"""Health, metrics, and the server's logging."""

import copy
import logging
import re
from typing import Any

import uvicorn.config
from fastapi import APIRouter, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, Counter, generate_latest
from sqlalchemy import text

# A signed link's signature is a credential: whoever reads it in a log could open the link.
SIGNATURE_IN_QUERY = re.compile(r"([?&]signature=)[^&\s\"]*", re.IGNORECASE)
REDACTED = "[redacted]"

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


class RedactSignatures(logging.Filter):
    """Blank out ``signature=`` query values: uvicorn's access log writes every request's query string,
    and dialect C's tasks_url carries its signature there."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = _redact(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(_redact(arg) if isinstance(arg, str) else arg for arg in record.args)
        return True


def _redact(line: str) -> str:
    return SIGNATURE_IN_QUERY.sub(rf"\g<1>{REDACTED}", line)


def server_log_config() -> dict[str, Any]:
    """Uvicorn's own logging configuration, with signatures redacted from its access log."""
    config = copy.deepcopy(uvicorn.config.LOGGING_CONFIG)
    config["filters"] = {"redact_signatures": {"()": RedactSignatures}}
    config["loggers"]["uvicorn.access"]["filters"] = ["redact_signatures"]
    return config
