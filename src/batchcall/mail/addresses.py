"""What batchcall takes for an email address: one it can put on the wire as it is.

A local part of RFC 5322's atom characters and dots, an at sign, and a domain of at least two labels of
letters, digits and hyphens. An address in other characters would need the server to speak SMTPUTF8,
which few relays do; an international domain is written in its ``xn--`` form. Nothing that could close an
SMTP command's angle brackets or a header's address list (``<``, ``>``, ``,``, spaces) gets through.
"""

import re
from typing import Annotated

from pydantic import AfterValidator, Field

ADDRESS = r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$"
MAX_ADDRESS_CHARS = 320

_ADDRESS = re.compile(ADDRESS)
# Anything at anything dotted: what a person takes for an address, whatever its characters.
_LOOKS_LIKE_ONE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def is_address(text: str) -> bool:
    return len(text) <= MAX_ADDRESS_CHARS and _ADDRESS.match(text) is not None


def address_fault(text: str) -> str:
    """Why ``text`` is not an address batchcall takes, as the end of a sentence about it."""
    if not text.isascii() and _LOOKS_LIKE_ONE.match(text):
        return "is not an email address batchcall can send to: write it in ASCII (a domain in its xn-- form)"
    return "is not an email address"


def _checked(text: str) -> str:
    if not is_address(text):
        raise ValueError(f"'{text}' {address_fault(text)}")
    return text


# An address in a request body: the rule's pattern in the schema, and its own words when it is broken.
EmailAddress = Annotated[
    str,
    Field(max_length=MAX_ADDRESS_CHARS, json_schema_extra={"pattern": ADDRESS}),
    AfterValidator(_checked),
]
