"""Countries as people write them, to ISO 3166-1 alpha-2: ``US``, ``USA``, ``United States``, ``UK``,
``Great Britain``, ``Deutschland``, ``España``.

A CRM export says the country in words more often than in codes. The names come from ``pycountry`` (the
ISO 3166 tables with their English names and their translations), in this order of precedence: alpha-2
codes, alpha-3 codes, English names (short, official and common), the aliases below, then the names in the
languages of ``NATIVE_LANGUAGES``. Case, accents, spaces and punctuation do not matter (``U.S.A.`` is
``USA``, ``Espana`` is ``España``). A translated name that two countries share is nobody's.
"""

import gettext
import re
import unicodedata
from functools import lru_cache

import pycountry

# Names a country goes by that ISO's tables do not list in English.
ALIASES: dict[str, str] = {
    **dict.fromkeys(
        ["UK", "Great Britain", "Britain", "England", "Scotland", "Wales", "Northern Ireland"], "GB"
    ),
    **dict.fromkeys(["America", "United States of America", "U.S. of A."], "US"),
    "Russia": "RU",
    **dict.fromkeys(["South Korea", "Korea", "Republic of Korea"], "KR"),
    "North Korea": "KP",
    **dict.fromkeys(["Holland", "The Netherlands"], "NL"),
    "Czech Republic": "CZ",
    "Turkey": "TR",
    **dict.fromkeys(["UAE", "Emirates"], "AE"),
    "Ivory Coast": "CI",
    "Cape Verde": "CV",
    "Swaziland": "SZ",
    "Macedonia": "MK",
    "Burma": "MM",
    "Vatican": "VA",
    "Palestine": "PS",
    "Laos": "LA",
    "Syria": "SY",
    "Iran": "IR",
    "Moldova": "MD",
    "Tanzania": "TZ",
    "Venezuela": "VE",
    "Bolivia": "BO",
    "Vietnam": "VN",
    "Taiwan": "TW",
    "Brunei": "BN",
    "Micronesia": "FM",
    "East Timor": "TL",
    **dict.fromkeys(["Congo-Kinshasa", "DR Congo", "DRC"], "CD"),
    "Congo-Brazzaville": "CG",
}

# Languages whose names for countries are read too: the name a country has for itself is often one of
# them (Deutschland, España, Italia, Österreich, Brasil, Polska, Éire, Nihon no).
NATIVE_LANGUAGES = (
    "de", "es", "fr", "it", "pt", "pt_BR", "nl", "pl", "sv", "da", "nb_NO", "fi", "is", "ga", "cs", "sk",
    "sl", "hr", "hu", "ro", "bg", "el", "tr", "ru", "uk", "he", "ar", "hi", "ja", "ko", "zh_CN", "id",
    "ms", "vi", "th",
)  # fmt: skip

_NOT_LETTER_OR_DIGIT = re.compile(r"[\W_]+")


def folded(text: str) -> str:
    """``text`` as names are compared: without case, accents, spaces or punctuation."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    bare = "".join(c for c in decomposed if not unicodedata.combining(c))
    return _NOT_LETTER_OR_DIGIT.sub("", bare)


@lru_cache(maxsize=1)
def _index() -> dict[str, str]:
    """Folded name or code to alpha-2, built once per process on the first name that is not a code."""
    index: dict[str, str] = {}
    countries = list(pycountry.countries)
    for attribute in ("alpha_2", "alpha_3", "name", "official_name", "common_name"):
        for country in countries:
            value = getattr(country, attribute, None)
            if value:
                index.setdefault(folded(value), country.alpha_2)
    for alias, code in ALIASES.items():
        index.setdefault(folded(alias), code)
    translated: dict[str, set[str]] = {}
    for language in NATIVE_LANGUAGES:
        catalog = gettext.translation("iso3166-1", pycountry.LOCALES_DIR, languages=[language], fallback=True)
        for country in countries:
            translated.setdefault(folded(catalog.gettext(country.name)), set()).add(country.alpha_2)
    for name, codes in translated.items():
        if len(codes) == 1 and name:
            index.setdefault(name, next(iter(codes)))
    return index


@lru_cache(maxsize=4096)
def alpha_2(text: str) -> str | None:
    """The ISO 3166-1 alpha-2 code of the country ``text`` names, or None when it names none."""
    stripped = text.strip()
    if len(stripped) == 2 and stripped.isascii() and stripped.isalpha():
        upper = stripped.upper()
        # The common case needs no index: a code is a code whether or not it is typed in capitals.
        if pycountry.countries.get(alpha_2=upper) is not None:
            return upper
    return _index().get(folded(stripped)) if stripped else None


def name_of(code: str) -> str:
    """The English name of the country with alpha-2 ``code`` (the code itself for one ISO does not list)."""
    country = pycountry.countries.get(alpha_2=code)
    return code if country is None else str(getattr(country, "common_name", None) or country.name)
