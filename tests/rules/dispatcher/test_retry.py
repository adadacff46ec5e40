"""The retry policy (SPEC 4 rule 9) as a decision with its reason: whether an ended attempt's call is
tried again, and when. tests/acceptance/test_rule9_retries.py proves that retries also wait for the
window and that the dispatcher keeps to these decisions."""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from batchcall.dispatcher.retry import Fallback, RetryDecision, RetryPolicy
from batchcall.models import RETRIABLE

ENDED = datetime(2026, 11, 23, 15, 0, tzinfo=UTC)
POLICY = RetryPolicy(max_retry_attempts=2, retry_delay_seconds=300, retry_on=("busy", "no_answer"))


@dataclass(frozen=True)
class Call:
    """What the policy reads of a call: the attempts it has had, its row's own retry limit, the callbacks
    the person asked for and the fallback steps it took (which add to the attempts allowed), the channel
    it is on and the person's number and address."""

    attempt_count: int
    max_retries: int | None = None
    callbacks: int = 0
    fallbacks: int = 0
    channel: str = "phone"
    to: str | None = "+12025550100"
    email: str | None = None


def test_a_callback_the_person_asked_for_takes_nothing_from_the_retry_budget() -> None:
    assert POLICY.attempts_allowed(Call(attempt_count=4, callbacks=1)) == 4
    after_delay = ENDED + timedelta(seconds=300)
    assert POLICY.decide(Call(attempt_count=3, callbacks=1), "busy", ENDED).at == after_delay
    assert POLICY.decide(Call(attempt_count=4, callbacks=1), "busy", ENDED).at is None


def test_an_outcome_named_in_retry_on_is_tried_again_after_the_delay() -> None:
    assert POLICY.decide(Call(attempt_count=1), "busy", ENDED) == RetryDecision(
        ENDED + timedelta(seconds=300), "busy is retried after 300 s (attempt 2 of 3)"
    )


def test_an_outcome_not_named_ends_the_call_saying_what_is_retried() -> None:
    assert POLICY.decide(Call(attempt_count=1), "failed", ENDED) == RetryDecision(
        None, "failed is not retried (retry_on: busy, no_answer)"
    )
    nothing = RetryPolicy(max_retry_attempts=2, retry_delay_seconds=300, retry_on=())
    assert (
        nothing.decide(Call(attempt_count=1), "busy", ENDED).reason
        == "busy is not retried (retry_on: nothing)"
    )


def test_the_last_allowed_attempt_ends_the_call_saying_none_are_left() -> None:
    assert POLICY.decide(Call(attempt_count=3), "busy", ENDED) == RetryDecision(
        None, "busy after attempt 3 of 3: none left"
    )


def test_a_rows_own_max_retries_wins_over_the_batchs_even_when_it_is_none_at_all() -> None:
    assert POLICY.attempts_allowed(Call(attempt_count=1, max_retries=5)) == 6
    assert POLICY.attempts_allowed(Call(attempt_count=1, max_retries=0)) == 1
    assert POLICY.attempts_allowed(Call(attempt_count=1)) == 3
    assert POLICY.decide(Call(attempt_count=1, max_retries=0), "busy", ENDED).at is None
    assert POLICY.decide(Call(attempt_count=3, max_retries=5), "busy", ENDED).at is not None


def test_a_delay_of_nothing_retries_at_once() -> None:
    at_once = RetryPolicy(max_retry_attempts=1, retry_delay_seconds=0, retry_on=("busy",))
    assert at_once.decide(Call(attempt_count=1), "busy", ENDED).at == ENDED


outcomes = st.sampled_from(["completed", "canceled", *(str(status) for status in RETRIABLE)])
policies = st.builds(
    RetryPolicy,
    max_retry_attempts=st.integers(0, 5),
    retry_delay_seconds=st.integers(0, 86_400),
    retry_on=st.lists(st.sampled_from([str(status) for status in RETRIABLE]), unique=True).map(tuple),
)


@given(policy=policies, row_retries=st.none() | st.integers(0, 5), endings=st.lists(outcomes, min_size=12))
def test_one_budget_per_call_whatever_mix_of_outcomes_led_there(
    policy: RetryPolicy, row_retries: int | None, endings: list[str]
) -> None:
    attempts, ended = 1, ENDED
    for outcome in endings:
        decision = policy.decide(Call(attempts, row_retries), outcome, ended)
        assert outcome in decision.reason
        if decision.at is None:
            assert outcome not in policy.retry_on or attempts == policy.attempts_allowed(
                Call(attempts, row_retries)
            )
            break
        assert outcome in policy.retry_on
        assert decision.at - ended == timedelta(seconds=policy.retry_delay_seconds)
        attempts, ended = attempts + 1, decision.at
    assert attempts <= 1 + (row_retries if row_retries is not None else policy.max_retry_attempts)


VOICE_THEN_TEXT = RetryPolicy(
    max_retry_attempts=1, retry_delay_seconds=300, retry_on=("no_answer",), fallback_channels=("sms",)
)


def test_a_call_that_never_reached_the_person_is_texted_after_its_last_voice_attempt() -> None:
    retried = VOICE_THEN_TEXT.decide(Call(attempt_count=1), "no_answer", ENDED)
    assert retried.fallback is None
    assert retried.at == ENDED + timedelta(seconds=300)
    moved = VOICE_THEN_TEXT.decide(Call(attempt_count=2), "no_answer", ENDED)
    assert moved == RetryDecision(
        ENDED, "no_answer: moves on to sms (fallback 1 of 1)", fallback=Fallback("sms", 1)
    )
    # The text is an attempt of the same call, the budget's third; when it fails too, nothing is left.
    texted = Call(attempt_count=3, fallbacks=1, channel="sms")
    assert VOICE_THEN_TEXT.attempts_allowed(texted) == 3
    assert VOICE_THEN_TEXT.decide(texted, "failed", ENDED).at is None


def test_a_call_that_reached_the_person_or_a_person_without_the_channel_goes_nowhere_else() -> None:
    assert VOICE_THEN_TEXT.decide(Call(attempt_count=2), "completed", ENDED).at is None
    by_email = RetryPolicy(0, 0, (), fallback_channels=("email",))
    assert by_email.decide(Call(attempt_count=1), "busy", ENDED).at is None
    reached = by_email.decide(Call(attempt_count=1, email="ana@example.com"), "busy", ENDED)
    assert reached.fallback == Fallback("email", 1)


def test_a_machine_answering_a_fallback_agent_texts_at_once_even_with_retries_left() -> None:
    policy = RetryPolicy(max_retry_attempts=3, retry_delay_seconds=300, retry_on=("voicemail",))
    decision = policy.decide(Call(attempt_count=1), "voicemail", ENDED, machine_falls_back=True)
    assert decision.at == ENDED
    assert decision.fallback == Fallback("sms", 1)
    # Without the agent's say, a voicemail is retried as the batch's rules have it.
    assert policy.decide(Call(attempt_count=1), "voicemail", ENDED).fallback is None
    # A text that reached a machine (there is none) or a call with no number left stays where it is.
    on_sms = Call(attempt_count=2, fallbacks=1, channel="sms")
    assert policy.decide(on_sms, "voicemail", ENDED, machine_falls_back=True).at is None
