"""Row normalisation spread over worker processes: parsing phone numbers is CPU-bound and the GIL holds
one core. Chunks are normalised ahead of the caller, so the database work of one chunk overlaps the
parsing of the next. Should the pool break, the rows are normalised in this process instead."""

import logging
import multiprocessing
import os
import threading
import time
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from itertools import islice
from typing import Any

from batchcall.ingest.phone import to_e164
from batchcall.ingest.rows import CallDraft, InvalidRow, RowRules, normalize

log = logging.getLogger("batchcall.ingest")

# One number of each of the commonest regions' plans: parsing one loads that plan's metadata.
WARM_UP_NUMBERS = ("+14155550100", "+442079460958", "+61291234567", "+4930123456", "+33123456789")
# Below this many rows a worker round trip costs more than it saves.
INLINE_ROWS = 200

_pool: ProcessPoolExecutor | None = None
_pool_lock = threading.Lock()


def worker_count() -> int:
    return max(1, min(os.cpu_count() or 1, 8))


def _exit_with(parent_pid: int) -> None:
    """Runs in each worker: leave when the process that owns the pool is gone, even after a kill -9."""

    def watch() -> None:
        while True:
            time.sleep(1)
            try:
                os.kill(parent_pid, 0)
            except ProcessLookupError:
                os._exit(0)

    threading.Thread(target=watch, daemon=True, name="parent-watch").start()


def _shared_pool() -> ProcessPoolExecutor | None:
    global _pool
    if worker_count() < 2:
        return None
    with _pool_lock:
        if _pool is None:
            # forkserver, not fork: forking a process that runs threads (server, dispatcher) is unsafe.
            context = multiprocessing.get_context("forkserver")
            context.set_forkserver_preload(["batchcall.ingest.rows"])
            _pool = ProcessPoolExecutor(
                max_workers=worker_count(),
                mp_context=context,
                initializer=_exit_with,
                initargs=(os.getpid(),),
            )
        return _pool


def _discard_pool(pool: ProcessPoolExecutor) -> None:
    global _pool
    with _pool_lock:
        if _pool is pool:
            _pool = None
    pool.shutdown(wait=False, cancel_futures=True)


def warm_up() -> None:
    """Start the worker processes now rather than on the first large submission, and have each load
    the number metadata that ``phonenumbers`` otherwise reads on first use."""
    pool = _shared_pool()
    if pool is not None:
        for future in [pool.submit(_load_metadata) for _ in range(worker_count())]:
            future.result()


def _load_metadata() -> None:
    for sample in WARM_UP_NUMBERS:
        to_e164(sample)


def shutdown() -> None:
    """Stop the workers and wait for them, so they leave nothing behind."""
    global _pool
    with _pool_lock:
        pool, _pool = _pool, None
    if pool is not None:
        pool.shutdown(wait=True, cancel_futures=True)


def normalize_many(rows: list[tuple[int, Any]], rules: RowRules) -> list[CallDraft | InvalidRow]:
    return [normalize(raw, number, rules) for number, raw in rows]


def normalized_chunks(
    rows: Iterable[tuple[int, Any]], rules: RowRules, chunk_rows: int, size_hint: int | None = None
) -> Iterator[list[CallDraft | InvalidRow]]:
    """Normalised rows in order, ``chunk_rows`` at a time (smaller when ``size_hint`` says the input is
    small, so that every worker gets a share)."""
    pool = _shared_pool() if size_hint is None or size_hint >= INLINE_ROWS else None
    if size_hint is not None:
        chunk_rows = max(INLINE_ROWS // 2, min(chunk_rows, -(-size_hint // worker_count())))
    iterator = iter(rows)
    chunks = iter(lambda: list(islice(iterator, chunk_rows)), [])
    if pool is None:
        for chunk in chunks:
            yield normalize_many(chunk, rules)
        return
    ahead: deque[tuple[list[tuple[int, Any]], Future[list[CallDraft | InvalidRow]] | None]] = deque()
    for chunk in chunks:
        ahead.append((chunk, _submit(pool, chunk, rules)))
        if len(ahead) > worker_count():
            yield _result(pool, *ahead.popleft(), rules)
    while ahead:
        yield _result(pool, *ahead.popleft(), rules)


def _submit(
    pool: ProcessPoolExecutor, chunk: list[tuple[int, Any]], rules: RowRules
) -> Future[list[CallDraft | InvalidRow]] | None:
    try:
        return pool.submit(normalize_many, chunk, rules)
    except (BrokenProcessPool, RuntimeError):
        return None


def _result(
    pool: ProcessPoolExecutor,
    chunk: list[tuple[int, Any]],
    future: Future[list[CallDraft | InvalidRow]] | None,
    rules: RowRules,
) -> list[CallDraft | InvalidRow]:
    if future is not None:
        try:
            return future.result()
        except BrokenProcessPool:
            log.warning("the normalisation pool broke; normalising in-process and starting a new pool")
            _discard_pool(pool)
    return normalize_many(chunk, rules)
