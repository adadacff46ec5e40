"""How a conversation ended, as the agent says: a small standard set every agent may use, and the codes a
workspace adds for its own agents."""

from typing import Annotated

from pydantic import Field

# The person would like what was offered; declined; is not the person the call was for; asked to be called
# at another time; asked never to be called again; a message was left on their voicemail.
STANDARD = (
    "interested",
    "not_interested",
    "wrong_person",
    "callback_requested",
    "do_not_call",
    "voicemail_left",
)
# The disposition that stops every call and text to the number, as an opt-out does.
DO_NOT_CALL = "do_not_call"
CODE_PATTERN = r"^[a-z][a-z0-9_]{0,63}$"
Disposition = Annotated[
    str,
    Field(
        pattern=CODE_PATTERN,
        description="A standard disposition, or one of the agent's own: lower-case letters, digits and _",
    ),
]
MAX_OWN_DISPOSITIONS = 100


def allowed(own: list[str]) -> list[str]:
    """The dispositions an agent's results may carry: the standard ones, then its own."""
    return [*STANDARD, *(code for code in own if code not in STANDARD)]
