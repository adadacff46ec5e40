"""An agent's pure rules: its template rendered for a call, and whether it may place calls at all."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from batchcall.agents.service import Prompt, render_prompt, require_callable
from batchcall.kit.errors import Invalid
from batchcall.models import Agent


def _prompt(template: str, **defaults: str) -> Prompt:
    return Prompt(template, defaults)


def test_every_placeholder_with_a_value_is_filled_spaces_inside_the_braces_or_not() -> None:
    template = "Hi {{first_name}}, your {{ item }} is due on {{due-date}} ({{account.id}})."
    values = {"first_name": "Ada", "item": "car", "due-date": "Monday", "account.id": "A-1"}
    assert render_prompt(_prompt(template), values) == "Hi Ada, your car is due on Monday (A-1)."


def test_a_placeholder_without_a_value_is_empty_never_written_out() -> None:
    template = "Remind {{first_name}} about {{ invoice }}{{missing}}."
    assert render_prompt(_prompt(template), {"first_name": None, "invoice": ""}) == "Remind  about ."


def test_the_agents_default_fills_what_the_row_leaves_out_and_the_rows_value_wins() -> None:
    prompt = _prompt("Hi {{first_name}}, call {{desk}}.", first_name="there", desk="the front desk")
    assert render_prompt(prompt, {"desk": "Ada's desk"}) == "Hi there, call Ada's desk."
    assert render_prompt(prompt, {"first_name": "", "desk": None}) == "Hi there, call the front desk."


def test_values_that_are_not_text_are_written_as_text() -> None:
    assert render_prompt(_prompt("{{n}} x {{price}}"), {"n": 3, "price": 12.5}) == "3 x 12.5"


def test_text_that_only_looks_like_a_placeholder_is_left_alone() -> None:
    template = "{single} {{}} {{two words}} {{{name}}}"
    assert (
        render_prompt(_prompt(template), {"single": "x", "two words": "x", "name": "N"})
        == "{single} {{}} {{two words}} {N}"
    )


def test_a_value_is_never_read_as_a_template_itself() -> None:
    assert render_prompt(_prompt("{{a}} {{b}}"), {"a": "{{b}}", "b": "x"}) == "{{b}} x"


# Few names, so that a template often names a variable it has and often one it has not.
names = st.sampled_from(["first_name", "account.id", "due-date", "item_2"])
plain_text = st.text(st.characters(blacklist_characters="{}"), max_size=20)


@given(
    values=st.dictionaries(names, plain_text, max_size=4),
    segments=st.lists(st.tuples(plain_text, names), max_size=6),
    tail=plain_text,
)
def test_each_placeholder_becomes_its_value_or_nothing_and_the_text_between_is_kept(
    values: dict[str, str], segments: list[tuple[str, str]], tail: str
) -> None:
    template = "".join(f"{text}{{{{{name}}}}}" for text, name in segments) + tail
    expected = "".join(text + values.get(name, "") for text, name in segments) + tail
    assert render_prompt(_prompt(template), values) == expected


def _agent(active: bool, ready: bool) -> Agent:
    return Agent(id="agt_1", active=active, ready=ready)


def test_an_active_ready_agent_may_place_calls() -> None:
    require_callable(_agent(active=True, ready=True))


@pytest.mark.parametrize(
    ("active", "ready", "message"),
    [
        (False, True, "Agent agt_1 is not active"),
        (True, False, "Agent agt_1 is not ready for calls"),
        (False, False, "Agent agt_1 is not active"),
    ],
)
def test_an_inactive_or_unready_agent_is_refused_saying_which(
    active: bool, ready: bool, message: str
) -> None:
    with pytest.raises(Invalid) as refused:
        require_callable(_agent(active, ready))
    assert str(refused.value) == message
