"""Countries as a CRM export writes them, to ISO 3166-1 alpha-2."""

import pytest

from batchcall.ingest.country import alpha_2, folded, name_of


@pytest.mark.parametrize(
    ("written", "code"),
    [
        ("US", "US"),
        ("us", "US"),
        ("USA", "US"),
        ("U.S.A.", "US"),
        ("United States", "US"),
        ("United States of America", "US"),
        ("UK", "GB"),
        ("U.K.", "GB"),
        ("United Kingdom", "GB"),
        ("Great Britain", "GB"),
        ("England", "GB"),
        ("DEU", "DE"),
        ("Germany", "DE"),
        ("Deutschland", "DE"),
        ("India", "IN"),
        ("España", "ES"),
        ("Espana", "ES"),
        ("Österreich", "AT"),
        ("Brasil", "BR"),
        ("México", "MX"),
        ("Schweiz", "CH"),
        ("Suisse", "CH"),
        ("Italia", "IT"),
        ("Nederland", "NL"),
        ("Holland", "NL"),
        ("South Korea", "KR"),
        ("Russia", "RU"),
        ("  france  ", "FR"),
    ],
)
def test_codes_names_aliases_and_native_names(written: str, code: str) -> None:
    assert alpha_2(written) == code


@pytest.mark.parametrize("written", ["", "  ", "XX", "ZZ", "Narnia", "Europe", "123"])
def test_what_names_no_country_is_none(written: str) -> None:
    assert alpha_2(written) is None


def test_names_compare_without_case_accents_spaces_or_punctuation() -> None:
    assert folded("Côte d'Ivoire") == folded("COTE DIVOIRE") == "cotedivoire"


def test_the_english_name_of_a_code() -> None:
    assert (name_of("US"), name_of("GB"), name_of("DE")) == ("United States", "United Kingdom", "Germany")
