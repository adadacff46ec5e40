"""The five seed dialects: each a thin translation of a vendor's wire format onto the native services.

A module is named for its seed's letter and the vendor's own name for the resource (``seeds/A-...`` is
``a_bulk_calls``), so the seed a route speaks is in its path.
"""

from fastapi import APIRouter

from batchcall.dialects import a_bulk_calls, b_batch_calls, c_batch_call, d_call_batch, e_call_contact_bulk

ROUTERS: tuple[APIRouter, ...] = (
    a_bulk_calls.router,
    b_batch_calls.router,
    c_batch_call.router,
    d_call_batch.router,
    e_call_contact_bulk.router,
)
