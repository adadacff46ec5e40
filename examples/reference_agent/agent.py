"""A reference voice agent for batchcall's ``stream`` transport: a Twilio Media Streams WebSocket server.

batchcall's bridge connects each answered call to the agent's ``stream_url`` and speaks Twilio's Media
Streams protocol on it, with the call's ``call_id`` and ``token`` in the ``start`` message's
``customParameters``. For each call this agent reads its session from batchcall (what to say, to whom,
which dispositions it may give), "talks" by sending a short tone and a mark, posts its result once the mark
comes back (the greeting has played), and hangs up by closing the WebSocket. It has no speech recognition
and no language model: it shows the wire protocols, and the tests use it as the agent at the other end.

    python -m examples.reference_agent.agent --api-url http://127.0.0.1:8000 --port 8765
"""

import argparse
import base64
import json
import logging
import math
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from functools import partial
from typing import Any
from urllib.parse import quote

import httpx
from websockets.exceptions import ConnectionClosed
from websockets.sync.server import ServerConnection, serve

log = logging.getLogger("batchcall.reference_agent")

DEFAULT_API_URL = "http://127.0.0.1:8000"
# batchcall answers a session or a result at once; a host that does not even connect is down.
API_TIMEOUT = httpx.Timeout(10.0, connect=5.0)
SAMPLE_RATE = 8000
FRAME_SAMPLES = 160  # 20 ms at 8 kHz, the frame Twilio sends and expects
GREETING_MARK = "greeting-done"

Session = dict[str, Any]
Result = dict[str, Any]


def mu_law(sample: int) -> int:
    """One 16-bit linear sample as a G.711 mu-law byte, the encoding of Twilio's ``audio/x-mulaw``."""
    sign = 0x80 if sample < 0 else 0
    biased = min(abs(sample), 32635) + 0x84
    exponent = biased.bit_length() - 8
    mantissa = (biased >> (exponent + 3)) & 0x0F
    return ~(sign | exponent << 4 | mantissa) & 0xFF


def tone_frame(frequency: float = 400.0, amplitude: int = 6000) -> str:
    """20 ms of a steady tone as a ``media`` payload: 160 mu-law bytes, base64. At 400 Hz a frame holds a
    whole number of periods, so frames played one after another make one unbroken tone."""
    samples = (
        round(amplitude * math.sin(2 * math.pi * frequency * n / SAMPLE_RATE)) for n in range(FRAME_SAMPLES)
    )
    return base64.b64encode(bytes(mu_law(sample) for sample in samples)).decode()


def scripted_result(session: Session, disposition: str = "interested") -> Result:
    """The result of a call when the agent is told nothing else: it said its prompt, the contact answered
    one line, and the call ends with ``disposition``."""
    contact = session.get("contact") or {}
    said = session.get("prompt") or "Hello, this is a call from batchcall."
    return {
        "disposition": disposition,
        "summary": f"The reference agent spoke to {contact.get('name') or 'the contact'} ({disposition}).",
        "transcript": [
            {"speaker": "agent", "text": said, "at": 0.0},
            {"speaker": "contact", "text": "Yes, tell me more.", "at": 2.5},
        ],
        "data": {},
    }


def answer_of(response: httpx.Response) -> dict[str, Any]:
    """batchcall's JSON answer; an answer that is not a JSON object (a proxy's error page) as its text."""
    try:
        body = response.json()
    except ValueError:
        body = None
    return body if isinstance(body, dict) else {"detail": response.text}


class ReferenceAgent:
    """The agent: serves Media Streams WebSockets, one call per connection, and keeps what happened.

    ``decide`` turns a session into the result body; ``speak_when``, when given, holds every greeting until
    it is set (a test's way to keep the agent silent); ``frames`` is how many 20 ms frames the greeting
    lasts. ``sessions``, ``results`` (HTTP status and answer of each result posted) and ``received`` (every
    message of each call, by call id) are filled as calls happen: a call the agent hung up has its result
    posted already; one the other side ended is finished once ``running`` exits.
    """

    def __init__(
        self,
        api_url: str = DEFAULT_API_URL,
        decide: Callable[[Session], Result] = scripted_result,
        speak_when: threading.Event | None = None,
        frames: int = 25,
    ) -> None:
        self.api_url = api_url.rstrip("/")
        self.decide = decide
        self.speak_when = speak_when
        self.frames = frames
        self.sessions: list[Session] = []
        self.results: list[tuple[int, dict[str, Any]]] = []
        self.received: dict[str, list[dict[str, Any]]] = {}
        self._lock = threading.Lock()

    @contextmanager
    def running(self, host: str = "127.0.0.1", port: int = 0) -> Iterator[str]:
        """Serve in a background thread while the block runs; yields the ``ws://`` URL to stream to. On
        leaving, calls still open are closed and waited for."""
        server = serve(self.converse, host, port)
        thread = threading.Thread(target=server.serve_forever, name="reference-agent")
        thread.start()
        try:
            yield f"ws://{host}:{server.socket.getsockname()[1]}/"
        finally:
            server.shutdown()
            thread.join()

    def converse(self, websocket: ServerConnection) -> None:
        """One call, from the Media Stream's start to the agent hanging up. Whatever goes wrong (batchcall
        unreachable, a refused result, a malformed message) is logged and ends this call only."""
        try:
            self._converse(websocket)
        except ConnectionClosed:
            log.info("The call hung up before the agent knew who it was talking to")
        except httpx.HTTPError as fault:
            log.warning("batchcall could not be reached for this call (%s); the agent hangs up", fault)
        except Exception:
            log.exception("The call failed; the agent hangs up")
        finally:
            websocket.close()

    def _converse(self, websocket: ServerConnection) -> None:
        received: list[dict[str, Any]] = []
        start = self._start(websocket, received)
        if start is None:
            return
        parameters = start["start"].get("customParameters") or {}
        call_id, token = parameters.get("call_id"), parameters.get("token")
        if not call_id or not token:
            log.warning("The stream's start carries no call_id and token: not a batchcall call")
            return
        with self._lock:
            self.received[call_id] = received
        headers = {"Authorization": f"Bearer {token}"}
        with httpx.Client(timeout=API_TIMEOUT, headers=headers) as api:
            session = self._session(api, call_id, token)
            if session is None:
                return
            # A daemon: a speaker never let speak (the call ended first) must not keep the process alive.
            speaker = threading.Thread(target=self._talk, args=(websocket, start["streamSid"]), daemon=True)
            speaker.start()
            self._listen(websocket, received)
            self._report(api, call_id, session)

    def _start(self, websocket: ServerConnection, received: list[dict[str, Any]]) -> dict[str, Any] | None:
        """Read up to the ``start`` message (``connected`` comes first); None when the call ends before."""
        while True:
            message: dict[str, Any] = json.loads(websocket.recv())
            received.append(message)
            if message.get("event") == "start":
                return message
            if message.get("event") == "stop":
                return None

    def _session(self, api: httpx.Client, call_id: str, token: str) -> Session | None:
        """What batchcall says about this call: the prompt, the contact, the allowed dispositions, where
        the result goes. None, logged, when batchcall does not give it."""
        response = api.get(f"{self.api_url}/v1/agent-sessions/{quote(token, safe='')}")
        if response.status_code != 200:
            log.warning(
                "No session for call %s: batchcall answered %s %s",
                call_id,
                response.status_code,
                response.text,
            )
            return None
        session: Session = response.json()
        with self._lock:
            self.sessions.append(session)
        return session

    def _talk(self, websocket: ServerConnection, stream_sid: str) -> None:
        """The greeting: a tone, then a mark that comes back once it has played. It runs beside the
        listener, as a real agent speaks while it hears; a call that ended first just stops it."""
        if self.speak_when is not None:
            self.speak_when.wait()
        media = json.dumps({"event": "media", "streamSid": stream_sid, "media": {"payload": tone_frame()}})
        mark = json.dumps({"event": "mark", "streamSid": stream_sid, "mark": {"name": GREETING_MARK}})
        with suppress(ConnectionClosed):
            for _ in range(self.frames):
                websocket.send(media)
            websocket.send(mark)

    def _listen(self, websocket: ServerConnection, received: list[dict[str, Any]]) -> None:
        """Hear the call (the contact's audio is kept, not understood) until the greeting has played or
        the call has ended."""
        with suppress(ConnectionClosed):
            while True:
                message: dict[str, Any] = json.loads(websocket.recv())
                received.append(message)
                if message.get("event") == "stop":
                    return
                if message.get("event") == "mark" and message.get("mark", {}).get("name") == GREETING_MARK:
                    return

    def _report(self, api: httpx.Client, call_id: str, session: Session) -> None:
        """Post the result of the call where the session says; a refusal is logged and kept."""
        response = api.post(session["result_url"], json=self.decide(session))
        answer = answer_of(response)
        with self._lock:
            self.results.append((response.status_code, answer))
        if not response.is_success:
            log.warning(
                "batchcall refused the result of call %s: %s %s", call_id, response.status_code, answer
            )


def main(argv: Sequence[str] | None = None) -> None:
    """Run the reference agent until Ctrl-C."""
    parser = argparse.ArgumentParser(description="A reference voice agent for batchcall's stream transport.")
    parser.add_argument(
        "--api-url", default=DEFAULT_API_URL, help="batchcall's base URL (sessions are read there)"
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--port", type=int, default=8765, help="port to listen on")
    parser.add_argument("--disposition", default="interested", help="the disposition every call reports")
    arguments = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    agent = ReferenceAgent(
        arguments.api_url, decide=partial(scripted_result, disposition=arguments.disposition)
    )
    with serve(agent.converse, arguments.host, arguments.port) as server, suppress(KeyboardInterrupt):
        log.info(
            "Listening on ws://%s:%d/ for batchcall at %s", arguments.host, arguments.port, agent.api_url
        )
        server.serve_forever()


if __name__ == "__main__":
    main()
