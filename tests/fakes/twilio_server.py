"""A fake of the part of Twilio's REST API (2010-04-01) batchcall's Twilio adapter uses: a real HTTP server
on loopback, so the tests drive the real ``twilio`` client and receive Twilio's signed callbacks, mocking
nothing.

Calls and messages wait, once created, until ``play()`` runs them to their end (or, with ``auto``, a thread
does): a test decides when Twilio "happens", and in what order its callbacks arrive.
"""

import base64
import itertools
import json
import math
import queue
import random
import re
import secrets
import threading
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Self
from urllib.parse import parse_qs, urlsplit

import httpx
from twilio.request_validator import RequestValidator

API_VERSION = "2010-04-01"
E164 = re.compile(r"\+[1-9]\d{1,14}")
CALL_OUTCOMES = frozenset({"completed", "busy", "no-answer", "failed", "canceled"})
MESSAGE_OUTCOMES = frozenset({"delivered", "undelivered", "failed"})
# Answering-machine detection asked for, by the values of MachineDetection Twilio knows.
DETECTING = frozenset({"Enable", "DetectMessageEnd"})
# How long the fake's answering-machine detection takes, in milliseconds (MachineDetectionDuration).
DETECTION_MS = "2300"
# Scripted error codes Twilio answers when the call or message is created, not later in a callback.
REFUSED_AT_CREATE = {
    21215: "Account not authorized to call {to}. Perhaps you need to enable some international permissions: "
    "https://www.twilio.com/console/voice/calls/geo-permissions/low-risk",
    21610: "Attempt to send to unsubscribed recipient",
    21614: "'{to}' is not a valid mobile number",
}
# The fake only ever requests loopback: nothing a test configures wrongly reaches the internet.
LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})
PATH = re.compile(
    r"/2010-04-01/Accounts/(?P<account>[^/]+?)(?:/(?P<collection>\w+)(?:/(?P<item>[^/]+?))?)?\.json"
)


@dataclass
class FakeAccount:
    account_sid: str
    auth_token: str
    status: str = "active"
    numbers: list[str] = field(default_factory=list)
    # API key SID ("SK...") -> secret, accepted as Basic auth for this account as Twilio does.
    api_keys: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    # The form fields of a POST, the query of a GET; a list per name, since StatusCallbackEvent repeats.
    params: dict[str, list[str]]
    auth_user: str | None


@dataclass
class FakeCall:
    sid: str
    account_sid: str
    to: str
    from_: str
    url: str
    status_callback: str | None
    status_callback_event: list[str]
    timeout: int
    machine_detection: str | None
    async_amd: bool
    async_amd_status_callback: str | None
    date_created: datetime
    status: str = "queued"
    start_time: datetime | None = None
    end_time: datetime | None = None
    duration: int | None = None
    price: str | None = None
    price_unit: str = "USD"
    answered_by: str | None = None
    twiml: str | None = None
    played: bool = False
    hung_up: bool = False


@dataclass
class FakeMessage:
    sid: str
    account_sid: str
    to: str
    # None until a message sent through a messaging service is given one of the account's numbers.
    from_: str | None
    messaging_service_sid: str | None
    body: str
    status_callback: str | None
    date_created: datetime
    status: str = "queued"
    date_sent: datetime | None = None
    price: str | None = None
    price_unit: str = "USD"
    error_code: int | None = None
    played: bool = False


@dataclass(frozen=True)
class Script:
    outcome: str
    answered_by: str | None = None
    duration: int = 30
    price: str = "-0.01300"
    price_unit: str = "USD"
    error_code: int | None = None


ANSWERED = Script("completed")
DELIVERED = Script("delivered")


class TwilioError(Exception):
    """An error answer in Twilio's shape, raised anywhere while a request is served."""

    def __init__(self, status: int, code: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


@dataclass(frozen=True)
class _Answer:
    status: int
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)
    # The call or message just created, to be played once its creator has the answer (``auto``).
    created: str | None = None


@dataclass(frozen=True)
class _Post:
    url: str
    params: dict[str, str]
    # Twilio keeps one idempotency token across the redeliveries of a callback.
    idempotency_token: str


class _Outbox:
    """Where one play's callbacks go: posted at once, or held to be posted in a random order at the end."""

    def __init__(
        self, fake: "FakeTwilio", token: str, shuffle: random.Random | None, duplicate: bool
    ) -> None:
        self._fake = fake
        self.token = token
        self._shuffle = shuffle
        self._copies = 2 if duplicate else 1
        self._held: list[_Post] = []

    def post(self, url: str | None, params: dict[str, str]) -> None:
        if not url:
            return
        copies = [_Post(url, params, uuid.uuid4().hex)] * self._copies
        if self._shuffle is None:
            for post in copies:
                self._fake._deliver(post, self.token)
        else:
            self._held.extend(copies)

    def flush(self) -> None:
        if self._shuffle is not None:
            self._shuffle.shuffle(self._held)
        for post in self._held:
            self._fake._deliver(post, self.token)


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, fake: "FakeTwilio") -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.fake = fake


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def do_GET(self) -> None:
        self._serve("GET")

    def do_POST(self) -> None:
        self._serve("POST")

    def _serve(self, method: str) -> None:
        split = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        text = self.rfile.read(length).decode() if method == "POST" else split.query
        params = parse_qs(text, keep_blank_values=True)
        answer = self.server.fake._answer(method, split.path, params, self.headers.get("Authorization"))
        body = json.dumps(answer.body).encode()
        self.send_response(answer.status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        for name, value in answer.headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)
        self.wfile.flush()
        if answer.created:
            self.server.fake._created(answer.created)

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the tests read ``FakeTwilio.requests``, not stderr."""


class FakeTwilio:
    """Twilio's REST API for the given accounts on a free loopback port, with what Twilio would send back."""

    def __init__(self, accounts: Sequence[FakeAccount], *, auto: bool = False) -> None:
        self.calls: dict[str, FakeCall] = {}
        self.messages: dict[str, FakeMessage] = {}
        self.requests: list[RecordedRequest] = []
        self.callback_answers: list[tuple[str, int]] = []
        self.auto = auto
        self._accounts = list(accounts)
        self._created_at = _now()
        self._call_scripts: dict[str, Script] = {}
        self._message_scripts: dict[str, Script] = {}
        self._failures: list[TwilioError] = []
        self._lock = threading.Lock()
        # Plain HTTP to loopback only: no proxy from the environment, and no certificate store to load (which
        # would cost some 60 ms a fake).
        self._http = httpx.Client(timeout=10.0, trust_env=False, verify=False)
        self._server = _Server(self)
        self.base_url = f"http://127.0.0.1:{self._server.server_address[1]}"
        # A short poll, so that closing the fake takes milliseconds, not the default half second.
        self._serving = threading.Thread(
            target=self._server.serve_forever, args=(0.01,), name="fake-twilio", daemon=True
        )
        self._autoplay: queue.Queue[str | None] = queue.Queue()
        self._player = threading.Thread(target=self._play_created, name="fake-twilio-auto", daemon=True)
        # What went wrong in the ``auto`` thread, raised when the fake is closed rather than lost.
        self._player_errors: list[Exception] = []

    def __enter__(self) -> Self:
        self._serving.start()
        self._player.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self._autoplay.put(None)
        self._player.join(timeout=10)
        self._server.shutdown()
        self._server.server_close()
        self._http.close()
        if self._player_errors and error is None:
            raise self._player_errors[0]

    def fail_next(self, status: int, code: int, message: str, times: int = 1) -> None:
        """The next ``times`` POSTs that create a call or a message answer this error instead."""
        with self._lock:
            self._failures.extend([TwilioError(status, code, message)] * times)

    def script(
        self,
        to: str,
        outcome: str,
        *,
        answered_by: str | None = None,
        duration: int = 30,
        price: str = "-0.01300",
        price_unit: str = "USD",
        error_code: int | None = None,
    ) -> None:
        """What happens to calls (a call outcome) or messages (a message outcome; "failed" is both) to
        ``to``."""
        if outcome not in CALL_OUTCOMES | MESSAGE_OUTCOMES:
            raise ValueError(f"unknown outcome {outcome!r}")
        script = Script(outcome, answered_by, duration, price, price_unit, error_code)
        with self._lock:
            if outcome in CALL_OUTCOMES:
                self._call_scripts[to] = script
            if outcome in MESSAGE_OUTCOMES:
                self._message_scripts[to] = script

    def play(
        self, sid: str | None = None, *, shuffle: random.Random | None = None, duplicate: bool = False
    ) -> None:
        """Run the calls and messages not played yet (or only ``sid``) to their end, in this thread: their
        TwiML fetched and every callback answered before it returns. ``shuffle`` posts each one's callbacks
        in a random order, ``duplicate`` posts each callback twice, as Twilio may."""
        with self._lock:
            if sid is None:
                chosen: list[FakeCall | FakeMessage] = [*self.calls.values(), *self.messages.values()]
            else:
                found = self.calls.get(sid) or self.messages.get(sid)
                if found is None:
                    raise KeyError(sid)
                chosen = [found]
            targets = [target for target in chosen if not target.played]
            for target in targets:
                target.played = True
        for target in targets:
            outbox = _Outbox(self, self._account(target.account_sid).auth_token, shuffle, duplicate)
            if isinstance(target, FakeCall):
                self._play_call(target, outbox)
            else:
                self._play_message(target, outbox)
            outbox.flush()

    def inbound_sms(self, url: str, from_: str, to: str, body: str, account: FakeAccount) -> int:
        """Post the webhook of a message received on one of ``account``'s numbers; answers its HTTP status."""
        sid = _sid("SM")
        params = {
            "MessageSid": sid,
            "SmsSid": sid,
            "SmsMessageSid": sid,
            "AccountSid": account.account_sid,
            "From": from_,
            "To": to,
            "Body": body,
            "NumMedia": "0",
            "NumSegments": "1",
            "SmsStatus": "received",
            "ApiVersion": API_VERSION,
        }
        status, _ = self._deliver(_Post(url, params, uuid.uuid4().hex), account.auth_token)
        return status

    def sign(self, url: str, params: Mapping[str, str], token: str) -> str:
        """The X-Twilio-Signature Twilio puts on a request of these form fields to ``url``."""
        return str(RequestValidator(token).compute_signature(url, dict(params)))

    # The requests it serves.

    def _answer(
        self, method: str, path: str, params: dict[str, list[str]], authorization: str | None
    ) -> _Answer:
        user, password = _basic(authorization)
        self.requests.append(RecordedRequest(method, path, params, user))
        try:
            return self._route(method, path, params, self._authenticate(user, password))
        except TwilioError as error:
            body = {
                "code": error.code,
                "message": error.message,
                "more_info": f"https://www.twilio.com/docs/errors/{error.code}",
                "status": error.status,
            }
            return _Answer(error.status, body, {"Retry-After": "1"} if error.status == 429 else {})

    def _authenticate(self, user: str | None, password: str | None) -> FakeAccount:
        for account in self._accounts:
            if user == account.account_sid and password == account.auth_token:
                return account
            if user is not None and user in account.api_keys and account.api_keys[user] == password:
                return account
        raise TwilioError(401, 20003, "Authenticate")

    def _route(self, method: str, path: str, params: dict[str, list[str]], account: FakeAccount) -> _Answer:
        match = PATH.fullmatch(path)
        if match is None or match["account"] != account.account_sid:
            raise _not_found(path)
        collection, item = match["collection"], match["item"]
        if method == "GET" and collection is None:
            return _Answer(200, self._account_resource(account))
        if method == "GET" and collection == "IncomingPhoneNumbers" and item is None:
            return _Answer(200, self._numbers_page(account, params))
        if collection == "Calls" and item is None and method == "POST":
            return self._create_call(account, params)
        call = self.calls.get(item or "")
        if collection == "Calls" and call is not None and call.account_sid == account.account_sid:
            if method == "POST":
                self._update_call(call, _one(params, "Status"))
            return _Answer(200, self._call_resource(call))
        if collection == "Messages" and item is None and method == "POST":
            return self._create_message(account, params)
        message = self.messages.get(item or "") if collection == "Messages" and method == "GET" else None
        if message is not None and message.account_sid == account.account_sid:
            return _Answer(200, self._message_resource(message))
        raise _not_found(path)

    def _account_resource(self, account: FakeAccount) -> dict[str, Any]:
        uri = f"/2010-04-01/Accounts/{account.account_sid}"
        return {
            "sid": account.account_sid,
            "owner_account_sid": account.account_sid,
            "friendly_name": "Fake Twilio account",
            "status": account.status,
            "type": "Full",
            "date_created": _rfc2822(self._created_at),
            "date_updated": _rfc2822(self._created_at),
            "uri": f"{uri}.json",
            "subresource_uris": {
                "calls": f"{uri}/Calls.json",
                "messages": f"{uri}/Messages.json",
                "incoming_phone_numbers": f"{uri}/IncomingPhoneNumbers.json",
            },
        }

    def _numbers_page(self, account: FakeAccount, params: dict[str, list[str]]) -> dict[str, Any]:
        wanted = _one(params, "PhoneNumber")
        numbers = [number for number in account.numbers if wanted in (None, number)]
        size, page = int(_one(params, "PageSize") or 50), int(_one(params, "Page") or 0)
        start = page * size
        shown = numbers[start : start + size]
        base = f"/2010-04-01/Accounts/{account.account_sid}/IncomingPhoneNumbers.json?PageSize={size}"
        more = start + size < len(numbers)
        return {
            "incoming_phone_numbers": [
                {
                    "sid": _number_sid(account, number),
                    "account_sid": account.account_sid,
                    "phone_number": number,
                    "friendly_name": number,
                    "capabilities": {"voice": True, "sms": True, "mms": False, "fax": False},
                    "status": "in-use",
                    "api_version": API_VERSION,
                    "uri": f"/2010-04-01/Accounts/{account.account_sid}/IncomingPhoneNumbers/"
                    f"{_number_sid(account, number)}.json",
                }
                for number in shown
            ],
            "page": page,
            "page_size": size,
            "start": start,
            "end": start + len(shown) - 1,
            "uri": f"{base}&Page={page}",
            "first_page_uri": f"{base}&Page=0",
            "next_page_uri": f"{base}&Page={page + 1}" if more else None,
            "previous_page_uri": f"{base}&Page={page - 1}" if page > 0 else None,
        }

    def _created_refused(self, account: FakeAccount, to: str, script: Script | None) -> None:
        """Raises what Twilio answers a create on an inactive account, or to a number scripted refused."""
        if account.status != "active":
            raise TwilioError(401, 20003, "Authenticate")
        if script is not None and script.error_code in REFUSED_AT_CREATE:
            raise TwilioError(400, script.error_code, REFUSED_AT_CREATE[script.error_code].format(to=to))

    def _next_failure(self) -> None:
        with self._lock:
            failure = self._failures.pop(0) if self._failures else None
        if failure is not None:
            raise failure

    def _create_call(self, account: FakeAccount, params: dict[str, list[str]]) -> _Answer:
        self._next_failure()
        to, from_, url = _one(params, "To"), _one(params, "From"), _one(params, "Url")
        if not to:
            raise TwilioError(400, 21201, "No 'To' number is specified")
        if not from_:
            raise TwilioError(400, 21213, "No 'From' number is specified")
        if not url:
            raise TwilioError(400, 21205, "Url parameter is required.")
        if not E164.fullmatch(to):
            raise TwilioError(400, 21211, f"The 'To' number {to} is not a valid phone number.")
        if from_ not in account.numbers:
            raise TwilioError(
                400,
                21210,
                f"The source phone number provided, {from_}, is not yet verified for your account. You may "
                "only make calls from phone numbers that you've verified or purchased from Twilio.",
            )
        _only_post(params, "Method", "StatusCallbackMethod", "AsyncAmdStatusCallbackMethod")
        self._created_refused(account, to, self._call_scripts.get(to))
        call = FakeCall(
            sid=_sid("CA"),
            account_sid=account.account_sid,
            to=to,
            from_=from_,
            url=url,
            status_callback=_one(params, "StatusCallback"),
            status_callback_event=[
                event for value in params.get("StatusCallbackEvent", []) for event in value.split()
            ],
            timeout=int(_one(params, "Timeout") or 60),
            machine_detection=_one(params, "MachineDetection"),
            async_amd=_one(params, "AsyncAmd") == "true",
            async_amd_status_callback=_one(params, "AsyncAmdStatusCallback"),
            date_created=_now(),
        )
        with self._lock:
            self.calls[call.sid] = call
        return _Answer(201, self._call_resource(call), created=call.sid)

    def _update_call(self, call: FakeCall, status: str | None) -> None:
        """Hangs up as Twilio does: a call not answered yet is canceled, whichever status was asked; asking
        to cancel an answered call, or to end one already ended, changes nothing."""
        if status not in ("completed", "canceled"):
            raise TwilioError(400, 20001, "Status must be 'completed' or 'canceled'")
        with self._lock:
            if call.status in ("queued", "ringing"):
                self._end(call, "canceled", _now())
            elif call.status == "in-progress" and status == "completed":
                self._end(call, "completed", _now())
            else:
                return
            call.hung_up = True

    def _call_resource(self, call: FakeCall) -> dict[str, Any]:
        account = self._account(call.account_sid)
        with self._lock:
            return {
                "sid": call.sid,
                "account_sid": call.account_sid,
                "parent_call_sid": None,
                "to": call.to,
                "from": call.from_,
                "phone_number_sid": _number_sid(account, call.from_),
                "status": call.status,
                "direction": "outbound-api",
                "api_version": API_VERSION,
                "date_created": _rfc2822(call.date_created),
                "date_updated": _rfc2822(call.end_time or call.start_time or call.date_created),
                "start_time": _rfc2822(call.start_time),
                "end_time": _rfc2822(call.end_time),
                "duration": None if call.duration is None else str(call.duration),
                "price": call.price,
                "price_unit": call.price_unit,
                "answered_by": call.answered_by,
                "uri": f"/2010-04-01/Accounts/{call.account_sid}/Calls/{call.sid}.json",
            }

    def _create_message(self, account: FakeAccount, params: dict[str, list[str]]) -> _Answer:
        self._next_failure()
        to, from_, service = _one(params, "To"), _one(params, "From"), _one(params, "MessagingServiceSid")
        body = _one(params, "Body")
        if not to:
            raise TwilioError(400, 21604, "A 'To' phone number is required.")
        if not from_ and not service:
            raise TwilioError(400, 21603, "A 'From' phone number is required.")
        if not body:
            raise TwilioError(400, 21602, "Message body is required.")
        if not E164.fullmatch(to):
            raise TwilioError(400, 21211, f"The 'To' number {to} is not a valid phone number.")
        if from_ and from_ not in account.numbers:
            raise TwilioError(
                400,
                21606,
                f"The From phone number {from_} is not a valid, SMS-capable inbound phone number or short "
                "code for your account.",
            )
        _only_post(params, "StatusCallbackMethod")
        self._created_refused(account, to, self._message_scripts.get(to))
        message = FakeMessage(
            sid=_sid("SM"),
            account_sid=account.account_sid,
            to=to,
            from_=from_,
            messaging_service_sid=service,
            body=body,
            status_callback=_one(params, "StatusCallback"),
            date_created=_now(),
            # A messaging service accepts the message before it picks the number it goes from.
            status="queued" if from_ else "accepted",
        )
        with self._lock:
            self.messages[message.sid] = message
        return _Answer(201, self._message_resource(message), created=message.sid)

    def _message_resource(self, message: FakeMessage) -> dict[str, Any]:
        uri = f"/2010-04-01/Accounts/{message.account_sid}/Messages/{message.sid}"
        with self._lock:
            return {
                "sid": message.sid,
                "account_sid": message.account_sid,
                "messaging_service_sid": message.messaging_service_sid,
                "to": message.to,
                "from": message.from_,
                "body": message.body,
                "status": message.status,
                "direction": "outbound-api",
                "num_segments": "1",
                "num_media": "0",
                "api_version": API_VERSION,
                "price": message.price,
                "price_unit": message.price_unit,
                "error_code": message.error_code,
                "error_message": None,
                "date_created": _rfc2822(message.date_created),
                "date_updated": _rfc2822(message.date_sent or message.date_created),
                "date_sent": _rfc2822(message.date_sent),
                "uri": f"{uri}.json",
                "subresource_uris": {"media": f"{uri}/Media.json"},
            }

    # What Twilio does with a call or message once created.

    def _created(self, sid: str) -> None:
        if self.auto:
            self._autoplay.put(sid)

    def _play_created(self) -> None:
        while (sid := self._autoplay.get()) is not None:
            try:
                self.play(sid)
            except Exception as error:
                self._player_errors.append(error)

    def _play_call(self, call: FakeCall, outbox: _Outbox) -> None:
        """Initiated, ringing, then answered (its TwiML fetched, who answered detected) or not, then ended;
        a hang-up through the API, also from a callback's handler, ends it where it is."""
        script = self._call_scripts.get(call.to, ANSWERED)
        detecting = call.machine_detection in DETECTING
        answered_by = (script.answered_by or "human") if detecting else None
        sync_amd = detecting and not call.async_amd
        sequence = itertools.count()

        def progress(event: str, status: str, when: datetime, extra: dict[str, str]) -> None:
            if event not in (call.status_callback_event or ["completed"]):
                return
            params = {
                **self._call_params(call, status),
                "Timestamp": format_datetime(when),
                "CallbackSource": "call-progress-events",
                "SequenceNumber": str(next(sequence)),
                **extra,
            }
            outbox.post(call.status_callback, params)

        if call.status == "queued":
            progress("initiated", "initiated", _now(), {})
            with self._lock:
                if call.status == "queued":
                    call.status = "ringing"
            if call.status == "ringing":
                progress("ringing", "ringing", _now(), {})
        with self._lock:
            if call.status == "ringing" and script.outcome == "completed":
                call.status, call.start_time = "in-progress", _now()
                call.answered_by = answered_by if sync_amd else None
            elif call.status == "ringing":
                rang = timedelta(seconds=call.timeout if script.outcome == "no-answer" else 0)
                self._end(call, script.outcome, _now() + rang)
        if call.status == "in-progress" and call.start_time is not None:
            self._fetch_twiml(call, outbox.token, answered_by if sync_amd else None)
            detected = {"AnsweredBy": answered_by} if sync_amd and answered_by else {}
            progress("answered", "in-progress", call.start_time, detected)
            if detecting and call.async_amd and call.status == "in-progress":
                with self._lock:
                    call.answered_by = answered_by
                amd = {"AnsweredBy": answered_by or "unknown", "MachineDetectionDuration": DETECTION_MS}
                outbox.post(
                    call.async_amd_status_callback,
                    {"AccountSid": call.account_sid, "CallSid": call.sid, **amd},
                )
            with self._lock:
                if call.status == "in-progress":
                    self._end(call, "completed", call.start_time + timedelta(seconds=script.duration))
        seconds = call.duration or 0
        ended = {"CallDuration": str(seconds), "Duration": str(math.ceil(seconds / 60))}
        if sync_amd and answered_by and call.start_time is not None:
            ended["AnsweredBy"] = answered_by
        if script.error_code is not None and call.status != "completed":
            ended["ErrorCode"] = str(script.error_code)
        progress("completed", call.status, call.end_time or _now(), ended)

    def _end(self, call: FakeCall, status: str, when: datetime) -> None:
        """A call's end, its duration and price (charged only once answered); the caller holds the lock."""
        script = self._call_scripts.get(call.to, ANSWERED)
        call.status, call.end_time = status, when
        call.duration = max(0, int((when - call.start_time).total_seconds())) if call.start_time else 0
        call.price = script.price if call.start_time else None
        call.price_unit = script.price_unit

    def _call_params(self, call: FakeCall, status: str) -> dict[str, str]:
        return {
            "AccountSid": call.account_sid,
            "CallSid": call.sid,
            "CallStatus": status,
            "ApiVersion": API_VERSION,
            "Direction": "outbound-api",
            "From": call.from_,
            "To": call.to,
        }

    def _fetch_twiml(self, call: FakeCall, token: str, answered_by: str | None) -> None:
        """The request Twilio makes to the call's Url once it is answered; its answer is the call's TwiML."""
        params = self._call_params(call, "in-progress")
        if answered_by:
            params["AnsweredBy"] = answered_by
        status, text = self._deliver(_Post(call.url, params, uuid.uuid4().hex), token)
        with self._lock:
            call.twiml = text if 200 <= status < 300 else None

    def _play_message(self, message: FakeMessage, outbox: _Outbox) -> None:
        """Queued, sent, then delivered or undelivered; or queued then failed, never sent."""
        script = self._message_scripts.get(message.to, DELIVERED)
        account = self._account(message.account_sid)

        def report(status: str) -> None:
            with self._lock:
                message.status = status
                if status == "sent":
                    message.date_sent = _now()
                if status in MESSAGE_OUTCOMES:
                    message.price = None if status == "failed" else script.price
                    message.price_unit = script.price_unit
                    message.error_code = None if status == "delivered" else script.error_code
                params = {
                    "AccountSid": message.account_sid,
                    "MessageSid": message.sid,
                    "SmsSid": message.sid,
                    "MessageStatus": status,
                    "SmsStatus": status,
                    "From": message.from_ or "",
                    "To": message.to,
                    "ApiVersion": API_VERSION,
                }
                if message.messaging_service_sid:
                    params["MessagingServiceSid"] = message.messaging_service_sid
                if message.error_code is not None:
                    params["ErrorCode"] = str(message.error_code)
            outbox.post(message.status_callback, params)

        with self._lock:
            if message.from_ is None and account.numbers:
                message.from_ = account.numbers[0]
        report("queued")
        if script.outcome != "failed":
            report("sent")
        report(script.outcome)

    def _deliver(self, post: _Post, token: str) -> tuple[int, str]:
        """POST ``post`` signed with ``token`` as Twilio does; its status (0: nothing answered) and body."""
        if urlsplit(post.url).hostname not in LOOPBACK:
            raise ValueError(f"the fake Twilio only requests loopback, not {post.url}")
        headers = {
            "X-Twilio-Signature": self.sign(post.url, post.params, token),
            "I-Twilio-Idempotency-Token": post.idempotency_token,
            "User-Agent": "TwilioProxy/1.1",
            "Content-Type": "application/x-www-form-urlencoded",
        }
        try:
            response = self._http.post(post.url, data=post.params, headers=headers)
        except httpx.HTTPError:
            status, text = 0, ""
        else:
            status, text = response.status_code, response.text
        with self._lock:
            self.callback_answers.append((post.url, status))
        return status, text

    def _account(self, account_sid: str) -> FakeAccount:
        return next(account for account in self._accounts if account.account_sid == account_sid)


def _now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def _rfc2822(moment: datetime | None) -> str | None:
    return None if moment is None else format_datetime(moment)


def _sid(prefix: str) -> str:
    return prefix + secrets.token_hex(16)


def _number_sid(account: FakeAccount, number: str) -> str:
    """The same PN SID for a number every time it is shown."""
    return "PN" + uuid.uuid5(uuid.NAMESPACE_URL, account.account_sid + number).hex


def _one(params: dict[str, list[str]], name: str) -> str | None:
    values = params.get(name)
    return values[0] if values else None


def _only_post(params: dict[str, list[str]], *names: str) -> None:
    """The fake requests its webhooks by POST only; a GET asked for fails loudly rather than being ignored."""
    for name in names:
        if (_one(params, name) or "POST").upper() != "POST":
            raise TwilioError(400, 20001, f"the fake Twilio only POSTs webhooks, and {name} asks for another")


def _basic(authorization: str | None) -> tuple[str | None, str | None]:
    scheme, _, encoded = (authorization or "").partition(" ")
    if scheme.lower() != "basic":
        return None, None
    try:
        user, _, password = base64.b64decode(encoded).decode().partition(":")
    except (ValueError, UnicodeDecodeError):
        return None, None
    return user, password


def _not_found(path: str) -> TwilioError:
    return TwilioError(404, 20404, f"The requested resource {path} was not found")
