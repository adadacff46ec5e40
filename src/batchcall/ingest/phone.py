"""Phone numbers in, E.164 out, through ``phonenumbers``."""

import re
from functools import lru_cache

import phonenumbers
from phonenumbers import PhoneNumberFormat
from phonenumbers import timezone as number_timezone

_DIGITS = re.compile(r"\d+")
_COUNTRY_CODE = re.compile(r"^[A-Z]{2}$")


class PhoneError(ValueError):
    """The text is not a dialable number; the message says why."""


def check_country_code(code: str) -> str:
    normalized = code.strip().upper()
    if not _COUNTRY_CODE.match(normalized) or normalized not in phonenumbers.SUPPORTED_REGIONS:
        raise PhoneError(f"'{code}' is not an ISO 3166-1 alpha-2 country code")
    return normalized


@lru_cache(maxsize=65_536)
def to_e164(raw: str, country_code: str | None = None) -> str:
    """Parse ``raw`` as E.164, as a national number of ``country_code``, or as a North American number."""
    text = raw.strip()
    if not text:
        raise PhoneError("is required")
    digits = "".join(_DIGITS.findall(text))
    if not digits:
        raise PhoneError(f"'{raw}' has no digits")
    region: str | None = None
    if text.startswith("+"):
        candidate = text
    elif country_code:
        candidate, region = text, check_country_code(country_code)
    elif len(digits) == 10 or (len(digits) == 11 and digits.startswith("1")):
        candidate, region = digits, "US"
    else:
        candidate = "+" + digits
    # Without a '+' or a country the digits were read as international; say how to mean national.
    hint = "" if country_code or text.startswith("+") else "; give country_code for a national number"
    try:
        parsed = phonenumbers.parse(candidate, region)
    except phonenumbers.NumberParseException as exc:
        raise PhoneError(f"'{raw}' is not a phone number ({exc._msg}){hint}") from None
    if phonenumbers.is_valid_number(parsed):
        return phonenumbers.format_number(parsed, PhoneNumberFormat.E164)
    raise PhoneError(f"'{raw}' is not a valid phone number{hint}")


def time_zones(e164: str) -> tuple[str, ...]:
    """Every IANA zone the number may ring in; empty when it cannot be told."""
    zones = number_timezone.time_zones_for_number(phonenumbers.parse(e164, None))
    return tuple(z for z in zones if z != "Etc/Unknown")
