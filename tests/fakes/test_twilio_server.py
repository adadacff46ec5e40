"""The fake Twilio answers the real ``twilio`` client, and signs its callbacks, as Twilio does."""

import queue
import random
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl

import httpx
import pytest
from twilio.base.exceptions import TwilioRestException
from twilio.request_validator import RequestValidator
from twilio.rest import Client

from tests.fakes.twilio_server import FakeAccount, FakeTwilio

SID = "AC" + "1" * 32
TOKEN = "secret-token"
KEY, KEY_SECRET = "SK" + "2" * 32, "key-secret"
CALLER = "+14155550100"
OTHER_NUMBER = "+14155550101"
CALLEE = "+14155550199"
TWIML = "<Response><Say>Hello</Say></Response>"
ALL_EVENTS = ["initiated", "ringing", "answered", "completed"]


@dataclass(frozen=True)
class Received:
    url: str
    headers: dict[str, str]
    params: dict[str, str]


class Receiver:
    """A stand-in for batchcall's webhook endpoints: records every request; /refuse answers 500, the rest
    TwiML."""

    def __init__(self) -> None:
        self.received: queue.Queue[Received] = queue.Queue()
        # Run on a request to /twiml before it is answered: a handler that acts on the call mid-way.
        self.on_twiml: Callable[[dict[str, str]], None] = lambda params: None
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"])).decode()
                params = dict(parse_qsl(body, keep_blank_values=True))
                receiver.received.put(Received(receiver.url(self.path), dict(self.headers.items()), params))
                if self.path.startswith("/twiml"):
                    receiver.on_twiml(params)
                status, text = (500, "") if self.path.startswith("/refuse") else (200, TWIML)
                self.send_response(status)
                self.send_header("Content-Type", "text/xml")
                self.send_header("Content-Length", str(len(text)))
                self.end_headers()
                self.wfile.write(text.encode())

            def log_message(self, format: str, *args: Any) -> None:
                """Quiet test output."""

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.01,), daemon=True)
        self._thread.start()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}{path}"

    def drain(self) -> list[Received]:
        """What it received so far: ``play`` returns only once every request it made was answered."""
        got: list[Received] = []
        while not self.received.empty():
            got.append(self.received.get_nowait())
        return got

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture
def account() -> FakeAccount:
    return FakeAccount(SID, TOKEN, numbers=[CALLER, OTHER_NUMBER], api_keys={KEY: KEY_SECRET})


@pytest.fixture
def fake(account: FakeAccount) -> Iterator[FakeTwilio]:
    with FakeTwilio([account]) as fake:
        yield fake


@pytest.fixture
def client(fake: FakeTwilio) -> Client:
    return connect(fake, SID, TOKEN)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    receiver = Receiver()
    yield receiver
    receiver.close()


def connect(fake: FakeTwilio, user: str, password: str) -> Client:
    client = Client(user, password, account_sid=SID)
    client.api.base_url = fake.base_url
    return client


def dial(client: Client, receiver: Receiver, to: str = CALLEE, **options: Any) -> str:
    call = client.calls.create(
        to=to,
        from_=CALLER,
        url=receiver.url("/twiml?attempt=a1"),
        method="POST",
        status_callback=receiver.url("/events?attempt=a1"),
        status_callback_event=ALL_EVENTS,
        status_callback_method="POST",
        timeout=25,
        **options,
    )
    sid: str = call.sid
    return sid


def signed(request: Received) -> bool:
    return bool(
        RequestValidator(TOKEN).validate(request.url, request.params, request.headers["X-Twilio-Signature"])
    )


def statuses(received: list[Received]) -> list[str]:
    """The CallStatus of each progress callback, in the order received (not the TwiML nor the AMD request)."""
    return [request.params["CallStatus"] for request in received if "CallbackSource" in request.params]


def test_a_call_created_is_queued_and_fetched(fake: FakeTwilio, client: Client, receiver: Receiver) -> None:
    sid = dial(client, receiver)

    assert sid.startswith("CA")
    assert len(sid) == 34
    fetched = client.calls(sid).fetch()
    assert (fetched.status, fetched.to, fetched.direction, fetched.price) == (
        "queued",
        CALLEE,
        "outbound-api",
        None,
    )
    assert fake.calls[sid].status_callback_event == ALL_EVENTS
    assert fake.calls[sid].timeout == 25
    created = fake.requests[0]
    assert (created.method, created.auth_user) == ("POST", SID)
    assert created.params["StatusCallbackEvent"] == ALL_EVENTS


def test_play_posts_signed_callbacks_and_the_call_ends_priced(
    fake: FakeTwilio, client: Client, receiver: Receiver
) -> None:
    sid = dial(
        client,
        receiver,
        machine_detection="Enable",
        async_amd="true",
        async_amd_status_callback=receiver.url("/events?attempt=a1"),
    )

    fake.play()

    received = receiver.drain()
    assert all(signed(request) for request in received)
    assert {request.headers["User-Agent"] for request in received} == {"TwilioProxy/1.1"}
    assert all(request.headers["Content-Type"] == "application/x-www-form-urlencoded" for request in received)
    assert received[2].url.endswith("/twiml?attempt=a1")
    assert received[2].params["CallStatus"] == "in-progress"
    assert statuses(received) == ["initiated", "ringing", "in-progress", "completed"]
    progress = [request.params for request in received if "CallStatus" in request.params]
    assert [params.get("SequenceNumber") for params in progress[:2] + progress[3:]] == ["0", "1", "2", "3"]
    amd = [request.params for request in received if "MachineDetectionDuration" in request.params]
    assert amd == [
        {"AccountSid": SID, "CallSid": sid, "AnsweredBy": "human", "MachineDetectionDuration": "2300"}
    ]
    completed = progress[-1]
    assert (completed["CallDuration"], completed["Duration"]) == ("30", "1")
    assert "Price" not in completed
    assert fake.calls[sid].twiml == TWIML
    assert fake.callback_answers == [(request.url, 200) for request in received]
    call = client.calls(sid).fetch()
    assert (call.status, call.duration, call.price, call.price_unit) == ("completed", "30", "-0.01300", "USD")
    assert call.answered_by == "human"
    assert call.end_time is not None
    assert call.start_time is not None


def test_sync_detection_says_who_answered_in_the_twiml_request_and_callbacks(
    fake: FakeTwilio, client: Client, receiver: Receiver
) -> None:
    fake.script(CALLEE, "completed", answered_by="machine_end_beep", duration=61)
    dial(client, receiver, machine_detection="DetectMessageEnd")

    fake.play()

    received = receiver.drain()
    assert [request.params.get("AnsweredBy") for request in received] == [
        None,
        None,
        "machine_end_beep",
        "machine_end_beep",
        "machine_end_beep",
    ]
    assert received[-1].params["Duration"] == "2"


def test_a_busy_call_rings_then_ends_busy_without_twiml_or_price(
    fake: FakeTwilio, client: Client, receiver: Receiver
) -> None:
    fake.script(CALLEE, "busy")
    sid = dial(client, receiver)

    fake.play(sid)

    received = receiver.drain()
    assert statuses(received) == ["initiated", "ringing", "busy"]
    assert received[-1].params["CallDuration"] == "0"
    call = client.calls(sid).fetch()
    assert (call.status, call.price, call.answered_by) == ("busy", None, None)
    assert fake.calls[sid].twiml is None


def test_a_hang_up_before_the_call_rings_cancels_it(
    fake: FakeTwilio, client: Client, receiver: Receiver
) -> None:
    sid = dial(client, receiver)

    hung_up = client.calls(sid).update(status="completed")
    fake.play()

    assert hung_up.status == "canceled"
    assert fake.calls[sid].hung_up
    assert statuses(receiver.drain()) == ["canceled"]


def test_a_hang_up_while_the_twiml_is_fetched_ends_the_call_completed(
    fake: FakeTwilio, client: Client, receiver: Receiver
) -> None:
    receiver.on_twiml = lambda params: client.calls(params["CallSid"]).update(status="completed")
    sid = dial(client, receiver)

    fake.play()

    assert statuses(receiver.drain()) == ["initiated", "ringing", "in-progress", "completed"]
    call = client.calls(sid).fetch()
    assert (call.status, call.duration) == ("completed", "0")
    assert fake.calls[sid].hung_up


def test_shuffled_and_duplicated_callbacks_are_the_same_ones_twice(
    fake: FakeTwilio, client: Client, receiver: Receiver
) -> None:
    dial(client, receiver)
    dial(client, receiver)
    first, second = fake.calls
    fake.play(first)
    in_order = receiver.drain()

    fake.play(second, shuffle=random.Random(7), duplicate=True)

    again = receiver.drain()
    assert all(signed(request) for request in again)
    events = [request for request in again if "SequenceNumber" in request.params]

    def key(request: Received) -> tuple[str, str]:
        return request.params["SequenceNumber"], request.params["CallStatus"]

    once = [key(request) for request in in_order if "SequenceNumber" in request.params]
    assert Counter(map(key, events)) == Counter(once * 2)
    assert [key(request) for request in events] != sorted(map(key, events))
    tokens = Counter(request.headers["I-Twilio-Idempotency-Token"] for request in events)
    assert set(tokens.values()) == {2}


def test_callbacks_not_answered_2xx_are_recorded(
    fake: FakeTwilio, client: Client, receiver: Receiver
) -> None:
    client.calls.create(
        to=CALLEE, from_=CALLER, url=receiver.url("/twiml"), status_callback=receiver.url("/refuse")
    )

    fake.play()

    assert fake.callback_answers == [(receiver.url("/twiml"), 200), (receiver.url("/refuse"), 500)]


def test_auto_plays_each_call_once_created(fake: FakeTwilio, client: Client, receiver: Receiver) -> None:
    fake.auto = True
    dial(client, receiver)

    seen = [receiver.received.get(timeout=5).params.get("CallStatus") for _ in range(5)]

    assert seen[-1] == "completed"


def test_the_account_and_its_numbers_are_listed(client: Client) -> None:
    account = client.api.v2010.accounts(SID).fetch()
    assert (account.sid, account.status, account.type) == (SID, "active", "Full")
    assert account.date_created is not None

    assert [number.phone_number for number in client.incoming_phone_numbers.list()] == [CALLER, OTHER_NUMBER]
    assert len(client.incoming_phone_numbers.list(page_size=1)) == 2
    found = client.incoming_phone_numbers.list(phone_number=OTHER_NUMBER)
    assert [(number.phone_number, number.capabilities["voice"]) for number in found] == [(OTHER_NUMBER, True)]


def test_an_api_key_authenticates_for_its_account(fake: FakeTwilio) -> None:
    client = connect(fake, KEY, KEY_SECRET)

    assert client.api.v2010.accounts(SID).fetch().status == "active"
    assert fake.requests[-1].auth_user == KEY


def test_a_wrong_token_is_refused_401(fake: FakeTwilio) -> None:
    with pytest.raises(TwilioRestException) as raised:
        connect(fake, SID, "wrong").api.v2010.accounts(SID).fetch()

    assert (raised.value.status, raised.value.code) == (401, 20003)


def test_a_suspended_account_reads_but_cannot_call(
    fake: FakeTwilio, account: FakeAccount, client: Client, receiver: Receiver
) -> None:
    account.status = "suspended"

    assert client.api.v2010.accounts(SID).fetch().status == "suspended"
    with pytest.raises(TwilioRestException) as raised:
        dial(client, receiver)
    assert (raised.value.status, raised.value.code) == (401, 20003)


def test_another_accounts_path_is_not_found(client: Client) -> None:
    with pytest.raises(TwilioRestException) as raised:
        client.api.v2010.accounts("AC" + "9" * 32).fetch()

    assert (raised.value.status, raised.value.code) == (404, 20404)


def test_an_invalid_to_is_refused_21211(client: Client, receiver: Receiver) -> None:
    with pytest.raises(TwilioRestException) as raised:
        dial(client, receiver, to="4155550199")

    assert (raised.value.status, raised.value.code) == (400, 21211)


def test_a_from_the_account_does_not_own_is_refused_21210(client: Client, receiver: Receiver) -> None:
    with pytest.raises(TwilioRestException) as raised:
        client.calls.create(to=CALLEE, from_="+14155550000", url=receiver.url("/twiml"))

    assert (raised.value.status, raised.value.code) == (400, 21210)


def test_fail_next_answers_the_error_then_lets_calls_through(
    fake: FakeTwilio, client: Client, receiver: Receiver
) -> None:
    fake.fail_next(429, 20429, "Too Many Requests")
    fake.fail_next(503, 20500, "Internal error")

    with pytest.raises(TwilioRestException) as throttled:
        dial(client, receiver)
    with pytest.raises(TwilioRestException) as faulted:
        dial(client, receiver)
    dial(client, receiver)

    assert (throttled.value.status, throttled.value.code) == (429, 20429)
    assert (faulted.value.status, faulted.value.code) == (503, 20500)
    assert len(fake.calls) == 1
    fake.fail_next(429, 20429, "Too Many Requests")
    answer = httpx.post(f"{fake.base_url}/2010-04-01/Accounts/{SID}/Calls.json", auth=(SID, TOKEN))
    assert answer.headers["Retry-After"] == "1"
    assert answer.json() == {
        "code": 20429,
        "message": "Too Many Requests",
        "more_info": "https://www.twilio.com/docs/errors/20429",
        "status": 429,
    }


def test_a_message_is_delivered_with_its_callbacks(
    fake: FakeTwilio, client: Client, receiver: Receiver
) -> None:
    sent = client.messages.create(to=CALLEE, from_=CALLER, body="Hi", status_callback=receiver.url("/sms"))
    assert (sent.sid[:2], sent.status, sent.num_segments, sent.error_code) == ("SM", "queued", "1", None)

    fake.play()

    received = receiver.drain()
    assert all(signed(request) for request in received)
    assert [request.params["MessageStatus"] for request in received] == ["queued", "sent", "delivered"]
    assert received[0].params["SmsSid"] == sent.sid
    assert client.messages(sent.sid).fetch().status == "delivered"


def test_messages_are_refused_or_undelivered_as_scripted(
    fake: FakeTwilio, client: Client, receiver: Receiver
) -> None:
    fake.script(CALLEE, "failed", error_code=21610)
    fake.script(OTHER_NUMBER, "undelivered", error_code=30003)

    with pytest.raises(TwilioRestException) as raised:
        client.messages.create(to=CALLEE, from_=CALLER, body="Hi")
    sent = client.messages.create(
        to=OTHER_NUMBER, from_=CALLER, body="Hi", status_callback=receiver.url("/sms")
    )
    fake.play()

    assert (raised.value.status, raised.value.code) == (400, 21610)
    last = receiver.drain()[-1].params
    assert (last["MessageStatus"], last["ErrorCode"]) == ("undelivered", "30003")
    assert client.messages(sent.sid).fetch().error_code == 30003


def test_an_inbound_message_is_posted_signed(
    fake: FakeTwilio, account: FakeAccount, receiver: Receiver
) -> None:
    status = fake.inbound_sms(receiver.url("/inbound"), CALLEE, CALLER, "STOP", account)

    (request,) = receiver.drain()
    assert status == 200
    assert signed(request)
    assert (request.params["Body"], request.params["NumMedia"], request.params["AccountSid"]) == (
        "STOP",
        "0",
        SID,
    )
