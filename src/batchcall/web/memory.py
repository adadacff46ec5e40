"""The memory a large request used goes back to the operating system once it is answered.

CPython frees a request's objects when the request ends, but not all of it to the system: objects caught
in a reference cycle (an exception's traceback holds the frames that hold the request's rows) wait for
the cyclic collector's next full pass, which may be long in coming on a quiet server, and glibc keeps
freed blocks in its per-thread arenas. After a request whose body was large, one full collection and
``malloc_trim(0)`` give both back (``bench/memory.py`` measures the server before and after). And glibc
is kept from raising its mmap threshold after a large block is freed (a 10 MB body would raise it to
10 MB), so large blocks keep coming from mmap and go back to the system whole when freed.
"""

import ctypes
import ctypes.util
import gc
from functools import cache
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Receive, Scope, Send

from batchcall.web.http import BODY_BYTES

LARGE_BODY_BYTES = 1024 * 1024
# glibc's mallopt parameter, and its own starting value, kept rather than raised as large blocks are freed.
M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD_BYTES = 128 * 1024


@cache
def _glibc(function: str) -> Any:
    """A glibc function, or None where the C library has no such function (musl, macOS)."""
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    return getattr(ctypes.CDLL(name), function, None)


def keep_mmap_threshold() -> None:
    mallopt = _glibc("mallopt")
    if mallopt is not None:
        mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES)


def release_memory() -> None:
    gc.collect()
    trim = _glibc("malloc_trim")
    if trim is not None:
        trim(0)


class ReleaseMemory:
    """After a request whose body reached ``large_body_bytes``, collect its garbage and trim the heap.

    The body is measured by ``BodySizeLimit``, which must wrap this middleware."""

    def __init__(self, app: ASGIApp, large_body_bytes: int = LARGE_BODY_BYTES) -> None:
        self.app = app
        self.large_body_bytes = large_body_bytes
        keep_mmap_threshold()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        try:
            await self.app(scope, receive, send)
        finally:
            if scope.get("state", {}).get(BODY_BYTES, 0) >= self.large_body_bytes:
                await run_in_threadpool(release_memory)
