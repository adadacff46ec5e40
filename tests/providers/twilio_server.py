"""A Twilio-speaking server on loopback, for the real ``twilio`` client to talk to.

It answers the parts of Twilio's REST API (2010-04-01) the adapter uses, with the statuses and error bodies
Twilio documents: the account, its incoming phone numbers, calls (create, fetch, hang up) and messages
(create, fetch). A test then plays each call as Twilio would: fetches its TwiML, and posts its status
callbacks (and the asynchronous answering-machine verdict), each signed with ``X-Twilio-Signature`` as
Twilio signs it, in any order and as often as the test asks; a message likewise reports sent, then
delivered or not; and a person can text one of the account's numbers.

An answered call whose TwiML says ``<Connect><Stream>`` runs its Media Stream before the call ends, as
Twilio does: a WebSocket to the stream's URL, signed, carrying Twilio's documented messages both ways.
"""

import base64
import itertools
import json
import random
import secrets
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit
from xml.etree import ElementTree

import httpx
from twilio.request_validator import RequestValidator
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus
from websockets.sync.client import ClientConnection, connect

API = "/2010-04-01/Accounts"
# What the contact says on a Media Stream: a few 20 ms frames of mu-law silence (160 bytes at 8 kHz).
CONTACT_FRAMES = 5
SILENCE_FRAME = base64.b64encode(b"\xff" * 160).decode()
# How Twilio's AnsweredBy begins when no person took the call.
MACHINES = ("machine_", "fax")


@dataclass
class Account:
    sid: str = field(default_factory=lambda: "AC" + secrets.token_hex(16))
    auth_token: str = field(default_factory=lambda: secrets.token_hex(16))
    status: str = "active"
    numbers: list[str] = field(default_factory=list)


@dataclass
class Outcome:
    """How a call to a number goes: Twilio's final CallStatus, and who answered when someone did."""

    status: str = "completed"
    answered_by: str = "human"
    duration: int = 42
    price: str = "-0.01300"


@dataclass
class Call:
    sid: str
    account: Account
    params: dict[str, list[str]]
    status: str = "queued"
    twiml: str | None = None
    answered_by: str | None = None
    duration: int | None = None
    price: str | None = None
    # The Media Stream of its <Connect><Stream>: every message the other side sent on it, when the first of
    # its audio came (by time.monotonic()), the HTTP status that refused the WebSocket (0: no connection at
    # all), and whether the fake stopped the stream because the other side never hung up.
    stream_sid: str | None = None
    stream_received: list[dict[str, Any]] = field(default_factory=list)
    first_agent_audio_at: float | None = None
    stream_refused: int | None = None
    stream_stopped_by_twilio: bool = False
    media: "MediaStream | None" = None
    # What the application asked of the call while it was on: new TwiML (a voicemail's message), or a
    # hang-up; ``updated`` is set by either.
    updated_twiml: str | None = None
    hung_up: bool = False
    updated: threading.Event = field(default_factory=threading.Event)

    def one(self, name: str) -> str:
        return self.params.get(name, [""])[0]

    def resource(self) -> dict[str, Any]:
        return {
            "sid": self.sid,
            "account_sid": self.account.sid,
            "to": self.one("To"),
            "from": self.one("From"),
            "status": self.status,
            "direction": "outbound-api",
            "answered_by": self.answered_by,
            "duration": str(self.duration) if self.duration is not None else None,
            "price": self.price,
            "price_unit": "USD",
            "start_time": None,
            "end_time": None,
            "uri": f"{API}/{self.account.sid}/Calls/{self.sid}.json",
        }


@dataclass
class MessageOutcome:
    """How a text to a number goes: Twilio's final MessageStatus, with its error code when it failed."""

    status: str = "delivered"
    error_code: int | None = None
    price: str = "-0.00790"


@dataclass
class Message:
    sid: str
    account: Account
    params: dict[str, list[str]]
    status: str = "queued"
    error_code: int | None = None
    price: str | None = None
    date_sent: datetime | None = None

    def one(self, name: str) -> str:
        return self.params.get(name, [""])[0]

    def resource(self) -> dict[str, Any]:
        return {
            "sid": self.sid,
            "account_sid": self.account.sid,
            "to": self.one("To"),
            "from": self.one("From"),
            "body": self.one("Body"),
            "status": self.status,
            "direction": "outbound-api",
            "num_segments": "1",
            "error_code": self.error_code,
            "error_message": None,
            "price": self.price,
            "price_unit": "USD",
            "date_sent": format_datetime(self.date_sent, usegmt=True) if self.date_sent else None,
            "uri": f"{API}/{self.account.sid}/Messages/{self.sid}.json",
        }


def error(status: int, code: int, message: str) -> tuple[int, dict[str, Any]]:
    body = {"code": code, "message": message, "more_info": f"https://www.twilio.com/docs/errors/{code}"}
    return status, body | {"status": status}


def stream_of(twiml: str) -> tuple[str, dict[str, str]] | None:
    """The URL and the ``<Parameter>``s of the TwiML's ``<Connect><Stream>``; None when it has none, or is no
    XML at all (an error answer)."""
    try:
        response = ElementTree.fromstring(twiml)
    except ElementTree.ParseError:
        return None
    stream = response.find("./Connect/Stream")
    if stream is None:
        return None
    parameters = {item.get("name", ""): item.get("value", "") for item in stream.findall("Parameter")}
    return stream.get("url", ""), parameters


def read_message(data: str | bytes) -> dict[str, Any]:
    """One message of the other side; what is not a JSON object is kept as it came, for the test to see."""
    try:
        message = json.loads(data)
    except ValueError:
        message = None
    return message if isinstance(message, dict) else {"unreadable": data}


class MediaStream:
    """One Media Stream on its open WebSocket, in Twilio's messages: the contact's side of the conversation,
    and a reader that keeps what the other side sends and answers its marks while the contact speaks."""

    def __init__(self, call: Call, websocket: ClientConnection, parameters: Mapping[str, str]) -> None:
        self.call = call
        self.websocket = websocket
        self.parameters = dict(parameters)
        self.sid = "MZ" + secrets.token_hex(16)
        self._sequence_numbers = itertools.count(1)
        # The reader answers marks while the contact speaks: numbers must go out in the order they are given.
        self._sending = threading.Lock()

    def send(self, event: str, body: dict[str, Any]) -> None:
        with self._sending:
            number = str(next(self._sequence_numbers))
            message = {"event": event, "sequenceNumber": number, **body, "streamSid": self.sid}
            self.websocket.send(json.dumps(message))

    def stop(self) -> None:
        """Stop the stream as Twilio does when the call's TwiML is replaced or the call hangs up."""
        self.call.stream_stopped_by_twilio = True
        with suppress(ConnectionClosed):
            self.send("stop", {"stop": {"accountSid": self.call.account.sid, "callSid": self.call.sid}})
        self.websocket.close()

    def run(self, while_streaming: Callable[[], None] | None, stream_seconds: float) -> None:
        """Connected, start, the test's hook, the contact's frames; then wait up to ``stream_seconds`` for the
        other side to hang up, and stop the stream if it does not."""
        call = self.call
        call.stream_sid = self.sid
        call.media = self
        self.websocket.send(json.dumps({"event": "connected", "protocol": "Call", "version": "1.0.0"}))
        start = {
            "accountSid": call.account.sid,
            "streamSid": self.sid,
            "callSid": call.sid,
            "tracks": ["inbound"],
            "customParameters": self.parameters,
            "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1},
        }
        self.send("start", {"start": start})
        reader = threading.Thread(target=self._read, name=f"media-stream-{self.sid}", daemon=True)
        reader.start()
        if while_streaming is not None:
            while_streaming()
        with suppress(ConnectionClosed):
            for chunk in range(1, CONTACT_FRAMES + 1):
                media = {"track": "inbound", "chunk": str(chunk), "timestamp": str(20 * (chunk - 1))}
                self.send("media", {"media": media | {"payload": SILENCE_FRAME}})
        reader.join(stream_seconds)
        if reader.is_alive():
            self.stop()
            reader.join()

    def _read(self) -> None:
        """Keep every message until the WebSocket closes; a mark is answered at once, as Twilio answers it
        once the audio before it has played (the fake plays audio instantly, so a clear never finds a mark
        still pending)."""
        with suppress(ConnectionClosed):
            while True:
                message = read_message(self.websocket.recv())
                if message.get("event") == "media" and self.call.first_agent_audio_at is None:
                    self.call.first_agent_audio_at = time.monotonic()
                self.call.stream_received.append(message)
                if message.get("event") == "mark":
                    self.send("mark", {"mark": {"name": message.get("mark", {}).get("name", "")}})


class FakeTwilio:
    def __init__(self, *accounts: Account) -> None:
        self.accounts = {account.sid: account for account in accounts}
        self.calls: dict[str, Call] = {}
        self.outcomes: dict[str, Outcome] = {}
        self.messages: dict[str, Message] = {}
        self.message_outcomes: dict[str, MessageOutcome] = {}
        # Errors the next call creations answer, first first: (HTTP status, Twilio code, message).
        self.failures: list[tuple[int, int, str]] = []
        # How long the next call creations wait before answering, first first: the call is placed at once.
        self.slow_answers: list[float] = []
        self.requests: list[tuple[str, str]] = []
        # (URL, status) of every request this server made to the application.
        self.answers: list[tuple[str, int]] = []
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.base_url = f"http://127.0.0.1:{self._server.server_address[1]}"

    @contextmanager
    def running(self) -> Iterator["FakeTwilio"]:
        thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        thread.start()
        try:
            yield self
        finally:
            self._server.shutdown()
            self._server.server_close()
            thread.join()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def _answer(self, method: str) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                form = parse_qs(self.rfile.read(length).decode(), keep_blank_values=True)
                status, body = fake.answer(method, self.path, self.headers.get("Authorization", ""), form)
                payload = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def do_GET(self) -> None:
                self._answer("GET")

            def do_POST(self) -> None:
                self._answer("POST")

        return Handler

    def _authenticated(self, authorization: str) -> Account | None:
        if not authorization.startswith("Basic "):
            return None
        user, _, password = base64.b64decode(authorization[6:]).decode().partition(":")
        account = self.accounts.get(user)
        return account if account is not None and password == account.auth_token else None

    def answer(
        self, method: str, path: str, authorization: str, form: dict[str, list[str]]
    ) -> tuple[int, dict[str, Any]]:
        self.requests.append((method, path))
        account = self._authenticated(authorization)
        if account is None:
            return error(401, 20003, "Authenticate")
        parts = urlsplit(path).path.removeprefix(f"{API}/").removesuffix(".json").split("/")
        if parts[0] != account.sid:
            return error(404, 20404, "The requested resource was not found")
        if parts == [account.sid] and method == "GET":
            return 200, {
                "sid": account.sid,
                "friendly_name": "Fake",
                "status": account.status,
                "type": "Full",
            }
        if parts[1:] == ["IncomingPhoneNumbers"] and method == "GET":
            numbers = [
                {"sid": "PN" + secrets.token_hex(16), "phone_number": n, "account_sid": account.sid}
                for n in account.numbers
            ]
            return 200, {"incoming_phone_numbers": numbers, "page": 0, "page_size": 50, "next_page_uri": None}
        if parts[1:] == ["Calls"] and method == "POST":
            return self._create_call(account, form)
        if len(parts) == 3 and parts[1] == "Calls":
            call = self.calls.get(parts[2])
            if call is None or call.account is not account:
                return error(404, 20404, "The requested resource was not found")
            if method == "POST" and form.get("Status", [""])[0] in ("completed", "canceled"):
                call.status = form["Status"][0]
                call.hung_up = True
            if method == "POST" and form.get("Twiml"):
                call.updated_twiml = form["Twiml"][0]
            if method == "POST" and (call.hung_up or call.updated_twiml):
                if call.media is not None:
                    call.media.stop()
                call.updated.set()
            return 200, call.resource()
        if parts[1:] == ["Messages"] and method == "POST":
            return self._create_message(account, form)
        if len(parts) == 3 and parts[1] == "Messages" and method == "GET":
            message = self.messages.get(parts[2])
            if message is None or message.account is not account:
                return error(404, 20404, "The requested resource was not found")
            return 200, message.resource()
        return error(404, 20404, "The requested resource was not found")

    def _create_call(self, account: Account, form: dict[str, list[str]]) -> tuple[int, dict[str, Any]]:
        with self._lock:
            if self.failures:
                return error(*self.failures.pop(0))
        to, from_ = form.get("To", [""])[0], form.get("From", [""])[0]
        if not to.startswith("+") or not to[1:].isdigit():
            return error(400, 21211, f"The 'To' number {to} is not a valid phone number.")
        if from_ not in account.numbers:
            return error(400, 21210, f"The source phone number provided, {from_}, is not yet verified")
        if to in self.outcomes and self.outcomes[to].status == "unsubscribed":
            return error(400, 21610, "Attempt to send to unsubscribed recipient")
        call = Call("CA" + secrets.token_hex(16), account, form)
        self.calls[call.sid] = call
        with self._lock:
            delay = self.slow_answers.pop(0) if self.slow_answers else 0.0
        time.sleep(delay)
        return 201, call.resource()

    def _create_message(self, account: Account, form: dict[str, list[str]]) -> tuple[int, dict[str, Any]]:
        with self._lock:
            if self.failures:
                return error(*self.failures.pop(0))
        to, from_ = form.get("To", [""])[0], form.get("From", [""])[0]
        if not form.get("Body", [""])[0]:
            return error(400, 21602, "Message body is required.")
        if not to.startswith("+") or not to[1:].isdigit():
            return error(400, 21211, f"The 'To' number {to} is not a valid phone number.")
        if from_ not in account.numbers:
            return error(
                400, 21606, f"The From phone number {from_} is not a valid, SMS-capable inbound phone number"
            )
        if to in self.message_outcomes and self.message_outcomes[to].status == "unsubscribed":
            return error(400, 21610, "Attempt to send to unsubscribed recipient")
        message = Message("SM" + secrets.token_hex(16), account, form)
        self.messages[message.sid] = message
        return 201, message.resource()

    def play_message(self, sid: str, *, reversed_order: bool = False, twice: bool = False) -> None:
        """Take the text to its end as Twilio would: sent to the carrier, then delivered, undelivered or
        failed, each reported to its status callback; in reverse order, or each twice."""
        message = self.messages[sid]
        outcome = self.message_outcomes.get(message.one("To"), MessageOutcome())
        common = {
            "AccountSid": message.account.sid,
            "MessageSid": sid,
            "SmsSid": sid,
            "From": message.one("From"),
            "To": message.one("To"),
            "ApiVersion": "2010-04-01",
        }
        stages = ["sent", outcome.status] if outcome.status != "failed" else ["failed"]
        posts = []
        for stage in stages:
            params = common | {"MessageStatus": stage, "SmsStatus": stage}
            if stage == outcome.status and outcome.error_code is not None:
                params["ErrorCode"] = str(outcome.error_code)
            posts.append(params)
        message.status = outcome.status
        message.error_code = outcome.error_code
        message.price = outcome.price
        message.date_sent = datetime.now(UTC)
        if reversed_order:
            posts.reverse()
        for params in posts * 2 if twice else posts:
            self.post(message.one("StatusCallback"), params, message.account.auth_token)

    def text_in(self, url: str, account: Account, from_: str, to: str, body: str) -> httpx.Response:
        """A person texts ``body`` to one of the account's numbers: Twilio posts it to the number's
        messaging webhook, signed."""
        sid = "SM" + secrets.token_hex(16)
        params = {
            "AccountSid": account.sid,
            "MessageSid": sid,
            "SmsSid": sid,
            "SmsMessageSid": sid,
            "From": from_,
            "To": to,
            "Body": body,
            "NumMedia": "0",
            "NumSegments": "1",
            "SmsStatus": "received",
            "ApiVersion": "2010-04-01",
        }
        return self.post(url, params, account.auth_token)

    def sign(self, url: str, params: Mapping[str, str], token: str) -> str:
        signature: str = RequestValidator(token).compute_signature(url, dict(params))
        return signature

    def post(self, url: str, params: dict[str, str], token: str) -> httpx.Response:
        """A request from Twilio to the application, signed with the account's token."""
        headers = {"X-Twilio-Signature": self.sign(url, params, token), "User-Agent": "TwilioProxy/1.1"}
        response = httpx.post(url, data=params, headers=headers, timeout=10)
        self.answers.append((url, response.status_code))
        return response

    def stream(
        self,
        call: Call,
        url: str,
        parameters: Mapping[str, str],
        *,
        while_streaming: Callable[[], None] | None = None,
        stream_seconds: float = 10.0,
    ) -> None:
        """Run the call's Media Stream to ``url`` as Twilio runs a ``<Connect><Stream>``: the WebSocket
        handshake signed over the URL as written (no parameters), then connected, start (``parameters`` as
        its customParameters), ``while_streaming``, the contact's frames, until the other side closes or
        ``stream_seconds`` pass. A WebSocket that cannot be opened is recorded in ``call.stream_refused``."""
        signature = self.sign(url, {}, call.account.auth_token)
        try:
            websocket = connect(url, additional_headers={"X-Twilio-Signature": signature})
        except InvalidStatus as rejection:
            call.stream_refused = rejection.response.status_code
            return
        except (OSError, InvalidHandshake):
            call.stream_refused = 0
            return
        with websocket:
            MediaStream(call, websocket, parameters).run(while_streaming, stream_seconds)

    def play(
        self,
        sid: str,
        *,
        shuffled: random.Random | None = None,
        twice: bool = False,
        while_streaming: Callable[[], None] | None = None,
        stream_seconds: float = 10.0,
        machine_wait_seconds: float = 10.0,
    ) -> None:
        """Take the call to its end as Twilio would: fetch the TwiML once answered, run the Media Stream its
        ``<Connect><Stream>`` asks for (see ``stream``), then post the status callbacks (and the asynchronous
        machine verdict) it asked for; in a shuffled order, or each twice.

        A machine (an outcome answered by ``machine_*`` or ``fax``) gives its asynchronous verdict while the
        call is on, as Twilio does once it has heard the greeting (or its end, with ``DetectMessageEnd``):
        the call then waits up to ``machine_wait_seconds`` for the application to hang it up or replace its
        TwiML (which stops its Media Stream), before it ends."""
        call = self.calls[sid]
        outcome = self.outcomes.get(call.one("To"), Outcome())
        answered = outcome.status == "completed"
        common = {
            "AccountSid": call.account.sid,
            "CallSid": sid,
            "From": call.one("From"),
            "To": call.one("To"),
            "Direction": "outbound-api",
            "ApiVersion": "2010-04-01",
        }
        verdict = common | {"AnsweredBy": outcome.answered_by, "MachineDetectionDuration": "2100"}
        machine = answered and call.one("AsyncAmd") == "true" and outcome.answered_by.startswith(MACHINES)

        def machine_answers() -> None:
            if while_streaming is not None:
                while_streaming()
            self.post(call.one("AsyncAmdStatusCallback"), verdict, call.account.auth_token)
            call.updated.wait(machine_wait_seconds)

        if answered:
            twiml = self.post(
                call.one("Url"), common | {"CallStatus": "in-progress"}, call.account.auth_token
            )
            call.twiml = twiml.text
            media_stream = stream_of(twiml.text) if twiml.is_success else None
            if media_stream is not None:
                url, parameters = media_stream
                hook = machine_answers if machine else while_streaming
                self.stream(call, url, parameters, while_streaming=hook, stream_seconds=stream_seconds)
            elif machine:
                machine_answers()
        stages = ["initiated", "ringing", *(["in-progress"] if answered else []), outcome.status]
        asked = set(call.params.get("StatusCallbackEvent", []))
        now = format_datetime(datetime.now(UTC), usegmt=True)
        posts: list[tuple[str, dict[str, str]]] = []
        for number, stage in enumerate(stages):
            event = "answered" if stage == "in-progress" else stage
            if event not in asked and stage not in ("busy", "no-answer", "failed", "canceled"):
                continue
            params = common | {"CallStatus": stage, "Timestamp": now, "SequenceNumber": str(number)}
            params["CallbackSource"] = "call-progress-events"
            if stage == outcome.status and answered:
                params |= {"CallDuration": str(outcome.duration), "Duration": str(-(-outcome.duration // 60))}
            posts.append((call.one("StatusCallback"), params))
        if answered and call.one("AsyncAmd") == "true" and not machine:
            posts.insert(len(posts) - 1, (call.one("AsyncAmdStatusCallback"), verdict))
        call.status = outcome.status
        call.answered_by = outcome.answered_by if answered else None
        call.duration = outcome.duration if answered else 0
        call.price = outcome.price if answered else None
        if shuffled is not None:
            shuffled.shuffle(posts)
        for url, params in posts * 2 if twice else posts:
            self.post(url, params, call.account.auth_token)
