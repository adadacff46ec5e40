"""Where the dispatcher runs: in its own process (``batchcall worker``) or beside the API (``serve``)."""

import logging
import signal
import threading
from types import FrameType

from batchcall.dispatcher.loop import Dispatcher
from batchcall.runtime import Runtime

log = logging.getLogger("batchcall.dispatcher")


def run_worker(runtime: Runtime) -> None:
    """Run until SIGTERM or SIGINT; then finish this worker's calls in flight, or stop at a second signal.

    Calls still in flight when the worker stops keep their lease; another worker recovers them when it
    lapses, by asking the provider.
    """
    stop, drained = threading.Event(), threading.Event()

    def on_signal(number: int, _frame: FrameType | None) -> None:
        if stop.is_set():
            drained.set()
            return
        log.info("signal %s: no new dials; finishing the calls in flight (again to stop now)", number)
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    Dispatcher(runtime).run(stop, drained)


class BackgroundDispatcher:
    """The dispatcher on a thread of the API process, for as long as the app lives."""

    def __init__(self, runtime: Runtime) -> None:
        self._stop = threading.Event()
        self._dispatcher = Dispatcher(runtime)
        self._thread = threading.Thread(
            target=self._dispatcher.run, args=(self._stop,), name="batchcall-dispatcher", daemon=True
        )

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()
