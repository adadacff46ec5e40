"""Phone numbers in, E.164 out: the forms a submission may use, and why the rest are refused."""

import phonenumbers
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from batchcall.ingest.phone import PhoneError, check_country_code, country_disagreement, time_zones, to_e164


@pytest.mark.parametrize(
    ("raw", "country_code", "expected"),
    [
        ("+14155550123", None, "+14155550123"),
        ("+1 (415) 555-0123", None, "+14155550123"),
        ("+44 20 7946 0958", None, "+442079460958"),
        ("  +49 30 1234567 ", None, "+49301234567"),
        # National numbers read with the given country.
        ("030 1234567", "DE", "+49301234567"),
        ("07911 123456", "GB", "+447911123456"),
        ("07911 123456", "gb", "+447911123456"),
        ("06 12 34 56 78", "FR", "+33612345678"),
        # North American numbers need no country.
        ("4155550123", None, "+14155550123"),
        ("(415) 555-0123", None, "+14155550123"),
        ("415.555.0123", None, "+14155550123"),
        ("1-415-555-0123", None, "+14155550123"),
        # An E.164 number keeps its own country whatever the default.
        ("+14155550123", "DE", "+14155550123"),
        # Digits only, with the country calling code in front.
        ("442079460958", None, "+442079460958"),
    ],
)
def test_accepted_forms_come_out_as_e164(raw: str, country_code: str | None, expected: str) -> None:
    assert to_e164(raw, country_code) == expected


@pytest.mark.parametrize(
    ("raw", "country_code", "reason"),
    [
        ("", None, "is required"),
        ("   ", None, "is required"),
        ("call me", None, "has no digits"),
        ("555", None, "not a phone number"),
        ("+1 555 0100", None, "not a valid phone number"),
        ("0000 000000", "DE", "not a valid phone number"),
        ("+999 1234 5678", None, "not a phone number"),
        ("1" * 40, None, "phone number"),
    ],
)
def test_numbers_that_cannot_be_dialled_are_refused_with_a_reason(
    raw: str, country_code: str | None, reason: str
) -> None:
    with pytest.raises(PhoneError, match=reason):
        to_e164(raw, country_code)


def test_a_national_number_without_a_country_asks_for_one() -> None:
    with pytest.raises(PhoneError, match="country_code") as raised:
        to_e164("07911 123456")
    assert "07911 123456" in str(raised.value)


@pytest.mark.parametrize("code", ["XX", "U", "1", "", "ZZ", "Narnia", "United Stat"])
def test_bad_country_codes_are_named_in_the_error(code: str) -> None:
    with pytest.raises(PhoneError, match="ISO 3166-1 alpha-2"):
        check_country_code(code)
    with pytest.raises(PhoneError, match="ISO 3166-1 alpha-2"):
        to_e164("030 1234567", code or "  ")


def test_country_codes_are_case_and_space_insensitive() -> None:
    assert check_country_code(" de ") == "DE"


@pytest.mark.parametrize(
    ("written", "code"),
    [("USA", "US"), ("u.s.a.", "US"), ("United Kingdom", "GB"), ("UK", "GB"), ("Deutschland", "DE")],
)
def test_a_country_may_be_given_by_alpha_3_code_or_by_name(written: str, code: str) -> None:
    assert check_country_code(written) == code


@pytest.mark.parametrize(
    ("raw", "country_code", "words"),
    [
        (
            "12345",
            None,
            "'12345' is not a valid phone number: give it with + and its country code, or give country_code",
        ),
        ("07911 123456", None, "give it with + and its country code, or give country_code"),
        ("+999 1234 5678", None, "it does not start with a country's calling code"),
        ("0000 000000", "DE", "'0000 000000' is not a valid phone number in Germany"),
    ],
)
def test_refusals_are_in_words_a_user_acts_on_not_the_librarys(
    raw: str, country_code: str | None, words: str
) -> None:
    with pytest.raises(PhoneError) as raised:
        to_e164(raw, country_code)
    assert words in str(raised.value)
    assert "Could not interpret" not in str(raised.value)


def test_a_country_disagrees_with_a_number_of_another_calling_code_only() -> None:
    assert country_disagreement("+447911123456", "US") == (
        "United States is not the country of +447911123456 (United Kingdom)"
    )
    assert country_disagreement("+14165550100", "US") is None
    assert country_disagreement("+447911123456", "GB") is None


def test_time_zones_of_a_number() -> None:
    assert time_zones("+12125550100") == ("America/New_York",)
    assert "Europe/Berlin" in time_zones("+49301234567")


# Any text, with or without a country: a number or a PhoneError, never anything else.
_country = st.one_of(st.none(), st.sampled_from(sorted(phonenumbers.SUPPORTED_REGIONS)), st.text(max_size=4))
_phone_text = st.one_of(
    st.text(max_size=80),
    st.text(alphabet="0123456789 +-().#*xX", max_size=40),
    st.from_regex(r"\+?[0-9]{1,20}", fullmatch=True),
    st.text(alphabet=st.characters(categories=["Nd", "Zs", "Pd"]), max_size=30),
)


@pytest.mark.slow
@settings(max_examples=1500, deadline=None)
@given(raw=_phone_text, country_code=_country)
def test_any_text_gives_e164_or_a_phone_error(raw: str, country_code: str | None) -> None:
    try:
        e164 = to_e164(raw, country_code)
    except PhoneError as exc:
        reason = str(exc)
        assert reason
        return
    assert e164.startswith("+")
    assert e164[1:].isdigit()
    assert phonenumbers.is_valid_number(phonenumbers.parse(e164))
    # Normalising is idempotent: the answer parses to itself.
    assert to_e164(e164) == e164


def test_an_international_number_is_not_told_to_add_a_country() -> None:
    with pytest.raises(PhoneError) as raised:
        to_e164("+1 555 0100")
    assert "country_code" not in str(raised.value)
