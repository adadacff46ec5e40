"""The five seed dialects: each a thin translation of a vendor's wire format onto the native services."""

from fastapi import APIRouter

from batchcall.dialects import batch_call, batch_calls, bulk_calls, call_batch, call_contact_bulk

ROUTERS: tuple[APIRouter, ...] = (
    bulk_calls.router,
    batch_calls.router,
    batch_call.router,
    call_batch.router,
    call_contact_bulk.router,
)
