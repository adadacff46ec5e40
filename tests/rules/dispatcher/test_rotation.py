"""Which caller id a call goes out from: random, sequential or round robin over the batch's pool, never a
caller id whose day is spent, and a retry from the caller id its call was dialled from before."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from batchcall.dispatcher.caps import CallerCapacity
from batchcall.dispatcher.rotation import choose
from batchcall.models import Batch, Rotation

POOL = [f"+1212555010{digit}" for digit in range(4)]
A, B, C, D = POOL


def _batch(rotation: Rotation, pool: list[str] = POOL, cursor: int = 0) -> Batch:
    """A batch as the rotation reads it, never stored."""
    return Batch(rotation=rotation, from_numbers=pool, rotation_cursor=cursor)


def _capacity(**left: int) -> CallerCapacity:
    """Dials left today by caller id (``A=0``: spent); a caller id not named has no cap."""
    numbers = dict(zip("ABCD", POOL, strict=True))
    return CallerCapacity(left={numbers[name]: count for name, count in left.items()}, days={})


def _picks(batch: Batch, capacity: CallerCapacity, count: int) -> list[str | None]:
    return [choose(batch, capacity, previous=None) for _ in range(count)]


def test_round_robin_takes_the_pool_in_turn_from_the_cursor_and_moves_it() -> None:
    batch = _batch(Rotation.ROUND_ROBIN, cursor=2)
    assert _picks(batch, _capacity(), 6) == [C, D, A, B, C, D]
    assert batch.rotation_cursor == 0


def test_round_robin_passes_over_a_spent_caller_id() -> None:
    batch = _batch(Rotation.ROUND_ROBIN)
    assert _picks(batch, _capacity(B=0), 4) == [A, C, D, A]


def test_sequential_uses_each_caller_id_until_its_cap_then_the_next() -> None:
    assert _picks(_batch(Rotation.SEQUENTIAL), _capacity(A=2, B=1, C=0, D=1), 5) == [A, A, B, D, None]


def test_sequential_stays_on_an_uncapped_caller_id() -> None:
    assert _picks(_batch(Rotation.SEQUENTIAL), _capacity(), 3) == [A, A, A]


def test_random_picks_only_caller_ids_with_capacity_left() -> None:
    picks = _picks(_batch(Rotation.RANDOM), _capacity(A=0, B=0, C=0, D=3), 4)
    assert picks == [D, D, D, None]


@pytest.mark.parametrize("rotation", list(Rotation))
def test_no_caller_id_when_every_one_is_spent_or_the_pool_is_empty(rotation: Rotation) -> None:
    assert choose(_batch(rotation), _capacity(A=0, B=0, C=0, D=0), previous=None) is None
    assert choose(_batch(rotation, pool=[]), _capacity(), previous=None) is None


@pytest.mark.parametrize("rotation", list(Rotation))
def test_a_retry_goes_out_from_its_previous_caller_id_and_leaves_the_turn_alone(rotation: Rotation) -> None:
    batch = _batch(rotation, cursor=1)
    capacity = _capacity(C=1)
    assert choose(batch, capacity, previous=C) == C
    assert capacity.left[C] == 0
    assert batch.rotation_cursor == 1


@pytest.mark.parametrize("rotation", list(Rotation))
def test_a_retry_whose_caller_id_is_spent_or_gone_takes_the_rotations_pick(rotation: Rotation) -> None:
    spent = choose(_batch(rotation, pool=[A, B]), _capacity(A=0), previous=A)
    gone = choose(_batch(rotation, pool=[A, B]), _capacity(A=0), previous="+12125550199")
    assert spent == gone == B


def test_a_dial_spends_one_of_its_caller_ids_daily_capacity() -> None:
    capacity = _capacity(A=2, B=5)
    choose(_batch(Rotation.SEQUENTIAL), capacity, previous=None)
    assert capacity.left == {A: 1, B: 5}


pools = st.lists(st.sampled_from(POOL), min_size=1, max_size=4, unique=True)
lefts = st.fixed_dictionaries({}, optional={name: st.integers(0, 3) for name in "ABCD"})


@given(pool=pools, left=lefts, cursor=st.integers(0, 3), turns=st.integers(1, 3))
def test_round_robin_visits_every_usable_caller_id_once_per_turn(
    pool: list[str], left: dict[str, int], cursor: int, turns: int
) -> None:
    capacity = _capacity(**{name: 10**6 if count else 0 for name, count in left.items()})
    batch = _batch(Rotation.ROUND_ROBIN, pool=pool, cursor=cursor % len(pool))
    usable = [number for number in pool if capacity.usable(number)]
    picks = _picks(batch, capacity, turns * len(usable))
    for turn in range(turns):
        turn_picks = picks[turn * len(usable) : (turn + 1) * len(usable)]
        assert sorted(turn_picks, key=str) == sorted(usable)


@given(rotation=st.sampled_from(list(Rotation)), pool=pools, left=lefts, dials=st.integers(0, 15))
def test_no_caller_id_dials_past_its_cap_or_outside_the_pool(
    rotation: Rotation, pool: list[str], left: dict[str, int], dials: int
) -> None:
    capacity = _capacity(**left)
    caps = dict(capacity.left)
    picks = _picks(_batch(rotation, pool=pool), capacity, dials)
    for number in POOL:
        assert picks.count(number) <= (caps.get(number, dials) if number in pool else 0)
    if None in picks:
        assert not any(capacity.usable(number) for number in pool)
