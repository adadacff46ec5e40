"""A worker's hold on the calls it dialled: their leases renewed while it lives.

A lease says how long other workers leave a call in flight alone. The worker that placed a call renews
its lease every third of a lease, on a thread and a session of its own so that a long pass or a slow
provider never lets it lapse. A dead worker's calls lapse within one lease and another worker reconciles
them with the provider.

Only the calls this process dialled are held, as only they have an ending coming to it (its provider's
events). A call it took over by reconciling, a call left under its worker id by an earlier process of the
same id, or a dial whose placing it failed to record is not held: its lease lapses, and the provider is
asked about it. Nor is a call held longer than ``longest_hold``: an ending that never came (a callback
the provider lost) must not keep it in flight for as long as the worker lives, so its lease lapses and the
provider is asked.
"""

import itertools
import logging
import threading
from collections.abc import Iterable
from datetime import datetime, timedelta

from batchcall.db import unit_of_work
from batchcall.dispatcher import repository
from batchcall.runtime import Runtime

log = logging.getLogger("batchcall.dispatcher")


class Heartbeat:
    def __init__(self, runtime: Runtime, worker_id: str, lease: timedelta, longest_hold: timedelta) -> None:
        self.runtime = runtime
        self.worker_id = worker_id
        self.lease = lease
        self.longest_hold = longest_hold
        # Call id -> the number of the hold that added it, so a beat forgets only what it saw go.
        self._held: dict[str, int] = {}
        # Hold number -> when it began.
        self._began: dict[int, datetime] = {}
        self._holds = itertools.count()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def hold(self, call_ids: Iterable[str]) -> None:
        """Renew these calls' leases from now on: this worker just claimed them to dial."""
        with self._lock:
            number = next(self._holds)
            self._began[number] = self.runtime.clock.now()
            for call_id in call_ids:
                self._held[call_id] = number

    def release(self, call_ids: Iterable[str]) -> None:
        """Let these calls' leases lapse, so that another pass asks the provider about them."""
        with self._lock:
            for call_id in call_ids:
                self._held.pop(call_id, None)

    def beat(self) -> int:
        """Renew for one lease from now the held calls still in flight under this worker, in one update;
        forget the others (ended, given back, taken over). Answers how many were renewed."""
        now = self.runtime.clock.now()
        with self._lock:
            held = {
                call_id: number
                for call_id, number in self._held.items()
                if now - self._began[number] < self.longest_hold
            }
            self._held = dict(held)
            self._began = {number: self._began[number] for number in set(held.values())}
        if not held:
            return 0
        until = now + self.lease
        with unit_of_work(self.runtime.sessions) as session:
            renewed = repository.renew_leases(session, self.worker_id, list(held), until)
        with self._lock:
            for call_id, number in held.items():
                if call_id not in renewed and self._held.get(call_id) == number:
                    del self._held[call_id]
        return len(renewed)

    def start(self) -> None:
        """Beat every third of a lease on a thread of its own until ``stop``."""
        self._stop.clear()
        self._thread = threading.Thread(
            target=self._run, name=f"batchcall-lease-{self.worker_id}", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def _run(self) -> None:
        while not self._stop.wait(self.lease.total_seconds() / 3):
            try:
                self.beat()
            except Exception:
                # The database is away; the leases hold until they run out, and the next beat tries again.
                log.exception("renewing leases failed", extra={"worker": self.worker_id})
