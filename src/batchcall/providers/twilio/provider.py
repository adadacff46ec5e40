"""Twilio voice and SMS through the official ``twilio`` client, against Twilio or any Twilio-compatible API.

A call is created with its TwiML URL, a status callback for every event, a ring timeout and asynchronous
answering-machine detection; a text with its rendered message and a status callback. Callbacks are checked
with ``X-Twilio-Signature`` against the account's auth token and the URL Twilio called. Twilio's faults
map onto the dispatcher's: a throttle (429, 20429) or a server fault places nothing and holds this
process's dials for a while; any other refusal is permanent, and 21610 (the person unsubscribed) says so.
"""

import ssl
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from email.utils import parsedate_to_datetime
from functools import partial
from typing import Any
from urllib.parse import parse_qs, parse_qsl, urlsplit

import requests
from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.http.http_client import TwilioHttpClient
from twilio.request_validator import RequestValidator
from twilio.rest import Client
from twilio.twiml.voice_response import VoiceResponse
from urllib3.exceptions import ConnectTimeoutError, SSLError
from urllib3.util.ssl_match_hostname import CertificateError

from batchcall.kit.clock import Clock
from batchcall.models import CallStatus, Channel
from batchcall.providers.base import (
    Account,
    CallbackForged,
    DialRequest,
    NoStatus,
    ProviderError,
    ProviderRejected,
    ProviderUnanswered,
    ProviderUnavailable,
    StatusEvent,
    Verification,
    VoicemailMessage,
    status_event_id,
)
from batchcall.providers.twilio import urls
from batchcall.providers.twilio.config import TwilioSettings

NAME = "twilio"
# Twilio's error codes that mean something here.
THROTTLED = 20429
UNSUBSCRIBED = 21610
# How long this process holds its dials after a throttle, and after a fault at Twilio.
THROTTLE_SECONDS = 5.0
FAULT_SECONDS = 15.0
CALL_EVENTS = ["initiated", "ringing", "answered", "completed"]

STATUS_OF = {
    "queued": CallStatus.RINGING,
    "initiated": CallStatus.RINGING,
    "ringing": CallStatus.RINGING,
    "in-progress": CallStatus.IN_PROGRESS,
    "completed": CallStatus.COMPLETED,
    "busy": CallStatus.BUSY,
    "no-answer": CallStatus.NO_ANSWER,
    "failed": CallStatus.FAILED,
    # Hung up before anyone answered (the call was ended while it rang): nobody was reached.
    "canceled": CallStatus.NO_ANSWER,
}


# A text's MessageStatus: on its way until the carrier has it ("sent"), over once delivered or not.
MESSAGE_STATUS_OF = {
    "accepted": CallStatus.RINGING,
    "scheduled": CallStatus.RINGING,
    "queued": CallStatus.RINGING,
    "sending": CallStatus.RINGING,
    "sent": CallStatus.IN_PROGRESS,
    "delivered": CallStatus.COMPLETED,
    "read": CallStatus.COMPLETED,
    "undelivered": CallStatus.FAILED,
    "failed": CallStatus.FAILED,
    "canceled": CallStatus.FAILED,
    # Some of a long text's parts reached the phone: the person has most of it.
    "partially_delivered": CallStatus.COMPLETED,
}
# The SID prefixes of Twilio's messages (SMS, MMS); a call's is CA.
MESSAGE_SIDS = ("SM", "MM")


def status_of(twilio_status: str) -> CallStatus:
    """Twilio's CallStatus as a call status; a completed call a machine answered becomes a voicemail where
    the events are applied, whichever callback said who answered."""
    status = STATUS_OF.get(twilio_status)
    if status is None:
        raise ProviderRejected(f"Twilio reported an unknown call status '{twilio_status}'")
    return status


def message_status_of(twilio_status: str) -> CallStatus:
    status = MESSAGE_STATUS_OF.get(twilio_status)
    if status is None:
        raise ProviderRejected(f"Twilio reported an unknown message status '{twilio_status}'")
    return status


def _unsent(fault: requests.RequestException) -> bool:
    """Whether a request failed before Twilio could read it, so that it placed nothing: no connection was
    made (refused, timed out connecting, no such host), or Twilio's certificate was refused. Any other TLS
    fault may have come while the request went or its answer came, as may a dropped connection."""
    reason = getattr(fault.args[0], "reason", None) if fault.args else None
    if isinstance(reason, ConnectTimeoutError):
        return True
    cause = reason.args[0] if isinstance(reason, SSLError) and reason.args else None
    return isinstance(cause, (ssl.SSLCertVerificationError, CertificateError))


def cost_micros(price: str | None) -> int | None:
    """Twilio's price (a negative decimal string, "-0.01300") as a positive count of millionths."""
    if not price:
        return None
    try:
        return abs(int(Decimal(price) * 1_000_000))
    except InvalidOperation:
        return None


class Pacer:
    """At most ``per_second`` requests a second from this process, and none while a throttle holds (on the
    injected clock, as every rule of time is)."""

    def __init__(self, per_second: float, clock: Clock) -> None:
        self._gap = 1.0 / per_second
        self._next = 0.0
        self._clock = clock
        self._held_until: datetime | None = None
        self._lock = threading.Lock()

    def wait_turn(self) -> None:
        with self._lock:
            if self._held_until is not None and self._clock.now() < self._held_until:
                left = (self._held_until - self._clock.now()).total_seconds()
                raise ProviderUnavailable("Twilio asked to slow down; dials wait", retry_after_seconds=left)
            now = time.monotonic()
            turn = max(now, self._next)
            self._next = turn + self._gap
        time.sleep(max(0.0, turn - now))

    def hold(self, seconds: float) -> None:
        with self._lock:
            until = self._clock.now() + timedelta(seconds=seconds)
            self._held_until = until if self._held_until is None else max(self._held_until, until)


class TwilioProvider:
    name = NAME

    def __init__(
        self,
        account: Account,
        settings: TwilioSettings,
        clock: Clock,
        public_url: str,
        twiml_key: bytes,
    ) -> None:
        credentials = account.credentials
        self._account_id = account.id
        self._account_sid: str = credentials["account_sid"]
        self._auth_token: str = credentials["auth_token"]
        self._client = Client(
            username=credentials.get("api_key") or self._account_sid,
            password=credentials.get("api_secret") or self._auth_token,
            account_sid=self._account_sid,
            http_client=TwilioHttpClient(timeout=settings.request_timeout_seconds),
        )
        self._client.api.base_url = account.api_base_url or settings.api_base_url
        self._settings = settings
        self._clock = clock
        self._public_url = public_url.rstrip("/")
        self._twiml_key = twiml_key
        self._pacer = Pacer(account.calls_per_second, clock)

    def start_call(self, request: DialRequest) -> str:
        if not self._public_url:
            raise ProviderRejected(
                "BATCHCALL_PUBLIC_URL is not set, so Twilio could not fetch the call's TwiML or report on it"
            )
        if request.channel == Channel.SMS:
            return self._send_text(request)
        self._pacer.wait_turn()
        events = urls.events_url(self._public_url, request.attempt_id, self._account_id)
        detection: dict[str, Any] = (
            {
                # A message is left after the beep: Twilio's verdict then waits for the greeting's end.
                "machine_detection": "DetectMessageEnd" if request.leaves_message else "Enable",
                "async_amd": "true",
                "async_amd_status_callback": events,
                "async_amd_status_callback_method": "POST",
            }
            if self._settings.machine_detection
            else {}
        )
        create = partial(
            self._client.calls.create,
            to=request.to,
            from_=request.from_number,
            url=urls.twiml_url(self._public_url, self._twiml_key, request.attempt_id),
            method="POST",
            status_callback=events,
            status_callback_event=CALL_EVENTS,
            status_callback_method="POST",
            timeout=self._settings.ring_timeout_seconds,
            **detection,
        )
        sid: str = self._asked(create, creates=True).sid
        return sid

    def _send_text(self, request: DialRequest) -> str:
        """The row's rendered message through the Messages API, from the batch's caller id."""
        if not request.from_number:
            raise ProviderRejected("a text through Twilio needs a caller id: give the batch from_numbers")
        if not request.prompt:
            raise ProviderRejected(
                "the text is empty: give the row an instruction or the agent an sms_template"
            )
        self._pacer.wait_turn()
        send = partial(
            self._client.messages.create,
            to=request.to,
            from_=request.from_number,
            body=request.prompt,
            status_callback=urls.events_url(self._public_url, request.attempt_id, self._account_id),
        )
        sid: str = self._asked(send, creates=True).sid
        return sid

    def _asked(self, request: Callable[[], Any], creates: bool = False) -> Any:
        """What Twilio answered ``request``, or the fault it answered as the dispatcher's. A request that
        ``creates`` a call or a text and was lost once Twilio could read it (a timeout waiting for the
        answer, a connection dropped meanwhile) may have placed it: only a callback can tell."""
        try:
            return request()
        except TwilioRestException as fault:
            raise self._fault(fault) from None
        except (requests.RequestException, TwilioException) as fault:
            if creates and isinstance(fault, requests.RequestException) and not _unsent(fault):
                raise ProviderUnanswered(f"Twilio did not answer: {fault}") from None
            raise ProviderUnavailable(f"Twilio could not be reached: {fault}", FAULT_SECONDS) from None

    def _fault(self, fault: TwilioRestException) -> ProviderUnavailable | ProviderRejected:
        described = f"Twilio {fault.code or fault.status}: {fault.msg}"
        if fault.status == 429 or fault.code == THROTTLED:
            self._pacer.hold(THROTTLE_SECONDS)
            return ProviderUnavailable(described, THROTTLE_SECONDS)
        if fault.status >= 500:
            self._pacer.hold(FAULT_SECONDS)
            return ProviderUnavailable(described, FAULT_SECONDS)
        code = str(fault.code) if fault.code else None
        return ProviderRejected(described, code=code, opted_out=fault.code == UNSUBSCRIBED)

    def end_call(self, provider_call_id: str) -> None:
        if provider_call_id.startswith(MESSAGE_SIDS):
            return  # a text on its way cannot be called back
        try:
            self._client.calls(provider_call_id).update(status="completed")
        except TwilioRestException as fault:
            raise self._fault(fault) from None

    def leave_message(self, provider_call_id: str, message: VoicemailMessage) -> None:
        """The call's TwiML replaced by the message (said, or played) and a hang-up,
        as Twilio's answering-machine guide has it once ``DetectMessageEnd`` heard the beep."""
        answer = VoiceResponse()
        if message.audio_url:
            answer.play(message.audio_url)
        else:
            answer.say(message.text or "")
        answer.hangup()
        self._asked(partial(self._client.calls(provider_call_id).update, twiml=str(answer)))

    def fetch_status(self, provider_call_id: str) -> StatusEvent:
        if provider_call_id.startswith(MESSAGE_SIDS):
            return self._fetch_text(provider_call_id)
        call = self._asked(self._client.calls(provider_call_id).fetch)
        status = status_of(call.status or "")
        final = status not in (CallStatus.RINGING, CallStatus.IN_PROGRESS)
        return StatusEvent(
            event_id=status_event_id(provider_call_id, status),
            provider_call_id=provider_call_id,
            status=status,
            occurred_at=call.end_time or call.start_time or self._clock.now(),
            answered_at=call.start_time if call.start_time and status != CallStatus.RINGING else None,
            ended_at=call.end_time if final else None,
            duration_seconds=float(call.duration) if call.duration else None,
            answered_by=call.answered_by,
            cost_micros=cost_micros(call.price),
            currency=call.price_unit,
        )

    def _fetch_text(self, sid: str) -> StatusEvent:
        """A text's status; one the carrier took and never confirmed counts as delivered once it has
        waited ``sms_receipt_wait_seconds`` for the receipt."""
        message = self._asked(self._client.messages(sid).fetch)
        status = message_status_of(message.status or "")
        now = self._clock.now()
        sent_at = message.date_sent
        waited = sent_at is not None and now - sent_at >= timedelta(
            seconds=self._settings.sms_receipt_wait_seconds
        )
        if status == CallStatus.IN_PROGRESS and waited:
            status = CallStatus.COMPLETED
        final = status not in (CallStatus.RINGING, CallStatus.IN_PROGRESS)
        return StatusEvent(
            event_id=status_event_id(sid, status),
            provider_call_id=sid,
            status=status,
            occurred_at=sent_at or now,
            ended_at=(sent_at or now) if final else None,
            error_code=str(message.error_code) if message.error_code else None,
            error=message.error_message or None,
            cost_micros=cost_micros(message.price),
            currency=message.price_unit,
        )

    def lookup(self, attempt_ids: Sequence[str]) -> Mapping[str, StatusEvent | NoStatus]:
        """Twilio cannot be searched by our attempt id; its callbacks carry it, and find the attempt."""
        return dict.fromkeys(attempt_ids, NoStatus.CANNOT_TELL)

    def poll_events(self) -> Sequence[StatusEvent]:
        return []

    def parse_callback(self, headers: Mapping[str, str], body: bytes, url: str = "") -> Sequence[StatusEvent]:
        """A status, answering-machine or text status callback of this account, checked as Twilio signs it."""
        params = self.verified(headers, body, url)
        attempt_id = parse_qs(urlsplit(url).query).get("attempt", [None])[0]
        if "MessageStatus" in params:
            return [self._text_event(params, attempt_id)]
        sid = params.get("CallSid")
        if not sid:
            raise ProviderRejected("the callback names no CallSid")
        now = self._clock.now()
        occurred_at = _timestamp(params.get("Timestamp")) or now
        answered_by = params.get("AnsweredBy") or None
        if "CallStatus" not in params:
            # Answering-machine detection's own callback: who answered, while the call goes on.
            if answered_by is None:
                raise ProviderRejected("the callback carries neither CallStatus nor AnsweredBy")
            return [
                StatusEvent(
                    event_id=f"{sid}:answered_by",
                    provider_call_id=sid,
                    status=CallStatus.IN_PROGRESS,
                    occurred_at=occurred_at,
                    attempt_id=attempt_id,
                    answered_by=answered_by,
                    payload=params,
                )
            ]
        status = status_of(params["CallStatus"])
        final = status not in (CallStatus.RINGING, CallStatus.IN_PROGRESS)
        duration = params.get("CallDuration")
        event = StatusEvent(
            event_id=status_event_id(sid, status),
            provider_call_id=sid,
            status=status,
            occurred_at=occurred_at,
            attempt_id=attempt_id,
            answered_at=occurred_at if status == CallStatus.IN_PROGRESS else None,
            ended_at=occurred_at if final else None,
            duration_seconds=float(duration) if duration else None,
            error=params.get("ErrorMessage") or None,
            error_code=params.get("ErrorCode") or None,
            answered_by=answered_by,
            payload=params,
        )
        return [self._priced(event) if final else event]

    def _text_event(self, params: Mapping[str, str], attempt_id: str | None) -> StatusEvent:
        sid = params.get("MessageSid")
        if not sid:
            raise ProviderRejected("the callback names no MessageSid")
        status = message_status_of(params["MessageStatus"])
        final = status not in (CallStatus.RINGING, CallStatus.IN_PROGRESS)
        now = self._clock.now()
        event = StatusEvent(
            event_id=status_event_id(sid, status),
            provider_call_id=sid,
            status=status,
            occurred_at=now,
            attempt_id=attempt_id,
            ended_at=now if final else None,
            error_code=params.get("ErrorCode") or None,
            error=f"Twilio {params['ErrorCode']}: the text was {params['MessageStatus']}"
            if params.get("ErrorCode")
            else None,
            payload=params,
        )
        return self._priced(event) if final else event

    def verified(self, headers: Mapping[str, str], body: bytes, url: str) -> dict[str, str]:
        """The form fields of a request Twilio made to ``url``; raises CallbackForged unless its
        ``X-Twilio-Signature`` is this account's for that URL and those fields."""
        try:
            params = dict(parse_qsl(body.decode(), keep_blank_values=True, strict_parsing=False))
        except UnicodeDecodeError:
            raise CallbackForged("the request body is not form-encoded text") from None
        self.check_signature(headers, url, params)
        if params.get("AccountSid") != self._account_sid:
            raise CallbackForged("the request is for another Twilio account")
        return params

    def check_signature(self, headers: Mapping[str, str], url: str, params: Mapping[str, str]) -> None:
        """Raises CallbackForged unless ``X-Twilio-Signature`` is this account's for the URL and the form
        fields (none for a WebSocket, whose handshake Twilio signs by its URL alone)."""
        signature = {name.lower(): value for name, value in headers.items()}.get("x-twilio-signature")
        if not signature:
            raise CallbackForged("the request carries no X-Twilio-Signature")
        if not RequestValidator(self._auth_token).validate(url, dict(params), signature):
            raise CallbackForged("X-Twilio-Signature does not match this account's auth token and the URL")

    def _priced(self, event: StatusEvent) -> StatusEvent:
        """The final event with Twilio's price for the call, where Twilio has it already (it can come
        later than the call's end; the attempt then has none)."""
        try:
            fetched = self.fetch_status(event.provider_call_id)
        except ProviderError:
            return event
        return replace(
            event,
            cost_micros=fetched.cost_micros,
            currency=fetched.currency,
            answered_by=event.answered_by or fetched.answered_by,
        )

    def verify(self, caller_ids: Sequence[str]) -> Verification:
        try:
            account = self._client.api.v2010.accounts(self._account_sid).fetch()
            owned = {number.phone_number for number in self._client.incoming_phone_numbers.list()}
        except TwilioRestException as fault:
            return Verification(False, f"Twilio answered {fault.status}: {fault.msg}")
        except (requests.RequestException, TwilioException) as fault:
            return Verification(False, f"Twilio could not be reached: {fault}")
        active = account.status == "active"
        return Verification(
            ok=active,
            detail="the account is active" if active else f"the account is {account.status}",
            account_status=account.status,
            caller_ids_owned=tuple(n for n in caller_ids if n in owned),
            caller_ids_not_owned=tuple(n for n in caller_ids if n not in owned),
        )


def _timestamp(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        return parsedate_to_datetime(value).astimezone(UTC)
    except (TypeError, ValueError):
        return None
