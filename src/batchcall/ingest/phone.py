"""Phone numbers in, E.164 out, through ``phonenumbers``; countries as ``ingest.country`` reads them."""

import re
from functools import lru_cache

import phonenumbers
from phonenumbers import NumberParseException, PhoneNumberFormat
from phonenumbers import timezone as number_timezone

from batchcall.ingest.country import alpha_2, name_of

_DIGITS = re.compile(r"\d+")
# What to do about a number without a '+' that is no North American number, when no country was given.
_GIVE_COUNTRY = "give it with + and its country code, or give country_code"


class PhoneError(ValueError):
    """The text is not a dialable number; the message says why."""


def check_country_code(code: str) -> str:
    """The ISO 3166-1 alpha-2 code of the country ``code`` names: a code (``US``, ``USA``) or a name
    (``United States``, ``UK``, ``Deutschland``) whose numbers ``phonenumbers`` knows."""
    region = alpha_2(code)
    if region is None or region not in phonenumbers.SUPPORTED_REGIONS:
        raise PhoneError(
            f"'{code.strip()}' is not an ISO 3166-1 alpha-2 country code, an alpha-3 code or a country's "
            "name (e.g. 'US', 'USA', 'United States')"
        )
    return region


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
    guessed = not country_code and not text.startswith("+") and region is None
    try:
        parsed = phonenumbers.parse(candidate, region)
    except NumberParseException as exc:
        raise PhoneError(_unparsable(raw, exc, guessed)) from None
    if phonenumbers.is_valid_number(parsed):
        return phonenumbers.format_number(parsed, PhoneNumberFormat.E164)
    if guessed:
        raise PhoneError(f"'{raw}' is not a valid phone number: {_GIVE_COUNTRY}")
    where = f" in {name_of(region)}" if region is not None and not text.startswith("+") else ""
    raise PhoneError(f"'{raw}' is not a valid phone number{where}")


def _unparsable(raw: str, exc: NumberParseException, guessed: bool) -> str:
    """Why ``raw`` is no number at all, in words, not in the library's ('Could not interpret numbers after
    plus-sign')."""
    if guessed:
        return f"'{raw}' is not a phone number: {_GIVE_COUNTRY}"
    if exc.error_type == NumberParseException.INVALID_COUNTRY_CODE:
        return f"'{raw}' is not a phone number: it does not start with a country's calling code"
    if exc.error_type == NumberParseException.TOO_LONG:
        return f"'{raw}' is not a phone number: it has too many digits"
    if exc.error_type in (NumberParseException.TOO_SHORT_NSN, NumberParseException.TOO_SHORT_AFTER_IDD):
        return f"'{raw}' is not a phone number: it has too few digits"
    return f"'{raw}' is not a phone number"


def country_disagreement(e164: str, region: str) -> str | None:
    """Why the country ``region`` cannot be the country of the number ``e164``, when it cannot: the number's
    calling code is another's. Countries that share a calling code (the US and Canada) agree."""
    # Calling codes are prefix-free, so the number starts with its country's code and no other.
    if e164[1:].startswith(str(phonenumbers.country_code_for_region(region))):
        return None
    calling_code = phonenumbers.parse(e164, None).country_code or 0
    # The main country of the code: +44 is the United Kingdom's, though Guernsey dials it too.
    number_region = phonenumbers.region_code_for_country_code(calling_code)
    of_number = name_of(number_region) if number_region != "ZZ" else f"+{calling_code}"
    return f"{name_of(region)} is not the country of {e164} ({of_number})"


def time_zones(e164: str) -> tuple[str, ...]:
    """Every IANA zone the number may ring in; empty when it cannot be told."""
    zones = number_timezone.time_zones_for_number(phonenumbers.parse(e164, None))
    return tuple(z for z in zones if z != "Etc/Unknown")
