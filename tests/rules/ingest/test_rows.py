"""One submitted row to a call draft (with its warnings) or an invalid row (with every error): the rules,
without a database."""

from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from batchcall.ingest.phone import PhoneError
from batchcall.ingest.rows import (
    CallDraft,
    InvalidRow,
    RowError,
    RowLimits,
    RowRules,
    RowWording,
    normalize,
    rules_for,
)
from batchcall.ingest.storable import NUL_MESSAGE, contains_nul

PHONE = RowRules(channel="phone", timezone="America/New_York", country_code=None, required_variables=())
EMAIL = RowRules(channel="email", timezone="UTC", country_code=None, required_variables=())


def draft(raw: Any, rules: RowRules = PHONE, row: int = 1) -> CallDraft:
    outcome = normalize(raw, row, rules)
    assert isinstance(outcome, CallDraft), outcome
    return outcome


def invalid(raw: Any, rules: RowRules = PHONE, row: int = 7) -> InvalidRow:
    outcome = normalize(raw, row, rules)
    assert isinstance(outcome, InvalidRow), outcome
    assert outcome.row == row
    assert all(e.row == row for e in outcome.errors)
    return outcome


def error(raw: Any, rules: RowRules = PHONE, row: int = 7) -> RowError:
    """The one error of a row that has one."""
    [found] = invalid(raw, rules, row).errors
    return found


def test_a_good_row_becomes_a_draft_with_its_fields() -> None:
    made = draft(
        {
            "phone_number": "(415) 555-0123",
            "first_name": " Ada ",
            "last_name": "Lovelace",
            "instruction": "Confirm the appointment",
            "variables": {"clinic": "North"},
            "metadata": {"crm": {"id": 7}},
            "source_record_id": "rec-1",
        }
    )
    assert made.to == "+14155550123"
    assert made.channel == "phone"
    assert made.fields["first_name"] == "Ada"
    assert made.fields["variables"] == {"clinic": "North"}
    assert made.fields["metadata"] == {"crm": {"id": 7}}
    assert made.fields["source_record_id"] == "rec-1"


def test_national_numbers_use_the_rows_country_before_the_requests() -> None:
    rules = rules_for("phone", "UTC", "GB", [])
    assert draft({"phone_number": "07911 123456"}, rules).to == "+447911123456"
    assert draft({"phone_number": "030 1234567", "country_code": "DE"}, rules).to == "+49301234567"
    assert draft({"phone_number": "030 1234567", "country_code": "de"}, rules).to == "+49301234567"


def test_a_national_number_without_any_country_is_a_row_error() -> None:
    found = error({"phone_number": "07911 123456"})
    assert found.field == "phone_number"
    assert "country_code" in found.message


def test_a_bad_country_code_on_a_national_number_is_an_error_of_that_field() -> None:
    found = error({"phone_number": "030 1234567", "country_code": "XX"})
    assert found.field == "country_code"
    assert "'XX'" in found.message


@pytest.mark.parametrize(
    ("country", "number", "expected"),
    [
        ("United Kingdom", "07911 123456", "+447911123456"),
        ("UK", "07911 123456", "+447911123456"),
        ("Great Britain", "07911 123456", "+447911123456"),
        ("GBR", "07911 123456", "+447911123456"),
        ("Deutschland", "030 1234567", "+49301234567"),
        ("germany", "030 1234567", "+49301234567"),
        ("DEU", "030 1234567", "+49301234567"),
        ("India", "080 4123 4567", "+918041234567"),
        ("España", "912 34 56 78", "+34912345678"),
        ("USA", "(212) 555-0100", "+12125550100"),
        ("United States", "(212) 555-0100", "+12125550100"),
    ],
)
def test_a_rows_country_may_be_a_code_or_a_name(country: str, number: str, expected: str) -> None:
    made = draft({"phone_number": number, "country_code": country})
    assert (made.to, made.warnings) == (expected, ())


def test_a_country_that_is_not_the_numbers_is_a_warning_and_the_number_wins() -> None:
    made = draft({"phone_number": "+44 7911 123456", "country_code": "USA"}, row=4)
    assert made.to == "+447911123456"
    assert made.warnings == (
        RowError(
            4,
            "country_code",
            "United States is not the country of +447911123456 (United Kingdom); the number's own country "
            "is used",
        ),
    )
    # Countries that share a calling code agree: +1 is Canada's as well as the United States'.
    assert draft({"phone_number": "+1 416 555 0100", "country_code": "US"}).warnings == ()


def test_an_unknown_country_is_a_warning_on_an_international_number_and_an_error_on_a_national_one() -> None:
    made = draft({"phone_number": "+49 30 1234567", "country_code": "Narnia"})
    assert made.to == "+49301234567"
    [warning] = made.warnings
    assert warning.field == "country_code"
    assert warning.message.startswith("'Narnia' is not an ISO 3166-1 alpha-2 country code")
    assert warning.message.endswith("the number's own country is used")
    found = error({"phone_number": "030 1234567", "country_code": "Narnia"})
    assert found.field == "country_code"
    assert "'Narnia'" in found.message


def test_a_bad_country_code_for_the_request_is_refused_before_any_row() -> None:
    with pytest.raises(PhoneError, match="'XX'"):
        rules_for("phone", "UTC", "XX", [])


@pytest.mark.parametrize("channel", ["phone", "sms"])
@pytest.mark.parametrize("phone", [None, "", "   "])
def test_phone_and_sms_need_a_number(channel: str, phone: str | None) -> None:
    row = {"channel": channel, "email": "ada@example.com"}
    if phone is not None:
        row["phone_number"] = phone
    found = error(row)
    assert (found.field, found.message) == ("phone_number", "is required")


def test_sms_rows_are_drafted_for_their_number() -> None:
    assert draft({"channel": "sms", "phone_number": "+14155550123"}).channel == "sms"


def test_email_needs_an_address_and_no_number() -> None:
    made = draft({"email": "ada@example.com"}, EMAIL)
    assert (made.channel, made.to, made.email) == ("email", None, "ada@example.com")
    assert made.dedup_key == "email:ada@example.com"
    found = error({"phone_number": "+14155550123"}, EMAIL)
    assert found.field == "email"
    assert "required" in found.message
    # A row may ask for email in a phone batch, and then needs the address.
    assert error({"channel": "email", "phone_number": "+14155550123"}).field == "email"


# The last two would close an SMTP command's brackets or add a recipient to the To header.
BAD_ADDRESSES = [
    "ada",
    "ada@",
    "@example.com",
    "ada@example",
    "a da@example.com",
    "a@b@c.com",
    "ada>@example.com",
    "ada,bob@example.com",
]


@pytest.mark.parametrize("address", BAD_ADDRESSES)
def test_a_malformed_email_on_a_phone_row_is_a_warning_and_left_out(address: str) -> None:
    made = draft({"phone_number": "+14155550123", "email": address}, row=3)
    assert (made.to, made.email) == ("+14155550123", None)
    assert made.warnings == (RowError(3, "email", f"'{address.strip()}' is not an email address; left out"),)


@pytest.mark.parametrize("address", BAD_ADDRESSES)
def test_a_malformed_email_on_an_email_row_is_an_error(address: str) -> None:
    found = error({"email": address}, EMAIL)
    assert found.field == "email"
    assert address.strip() in found.message


@pytest.mark.parametrize("address", ["o'brien+news@mail.example.co.uk", "ada@xn--bcher-kva.ch"])
def test_an_address_in_any_of_the_characters_smtp_carries_is_taken(address: str) -> None:
    assert draft({"email": address}, EMAIL).email == address


def test_an_address_in_other_characters_is_refused_saying_how_to_write_it() -> None:
    found = error({"email": "josé@bücher.ch"}, EMAIL)
    assert found.message == (
        "'josé@bücher.ch' is not an email address batchcall can send to: write it in ASCII (a domain in its "
        "xn-- form)"
    )


def test_fields_an_email_needs_are_warnings_on_a_phone_row_and_errors_on_an_email_row() -> None:
    fields = {"email_subject": "x" * 1000, "email_template_params": _nested(4)}
    made = draft({"phone_number": "+14155550123", **fields}, SMALL)
    assert [w.field for w in made.warnings] == ["email_subject", "email_template_params"]
    assert (made.fields["email_subject"], made.fields["email_template_params"]) == (None, None)
    refused = invalid(
        {"email": "ada@example.com", **fields}, RowRules("email", "UTC", None, (), SMALL.limits)
    )
    assert [e.field for e in refused.errors] == ["email_subject", "email_template_params"]


def test_every_error_of_a_row_is_reported_in_the_order_of_its_fields() -> None:
    rules = rules_for("phone", "UTC", None, ["invoice"])
    refused = invalid(
        {
            "phone_number": "07911 123456",
            "email": "bob@",
            "max_retries": "many",
            "scheduled_time": "next tuesday",
            "channel": "fax",
        },
        rules,
    )
    assert [e.field for e in refused.errors] == [
        "phone_number",
        "email",
        "channel",
        "variables",
        "scheduled_time",
        "max_retries",
    ]
    # The warning a called row would have is one more thing to fix on a refused one, without the remedy.
    assert refused.errors[1].message == "'bob@' is not an email address"
    assert "Value error" not in refused.reason
    assert refused.reason.startswith("phone_number: '07911 123456' is not a phone number: give it with +")
    assert refused.values["max_retries"] == "many"


def test_a_field_that_fails_is_reported_once_not_again_for_what_follows_from_it() -> None:
    refused = invalid({"phone_number": {"number": "+14155550123"}})
    assert [e.field for e in refused.errors] == ["phone_number"]


def test_scheduled_time_is_read_in_the_batch_timezone() -> None:
    made = draft({"phone_number": "+14155550123", "scheduled_time": "2026-12-01 09:00"})
    assert made.scheduled_time == datetime(2026, 12, 1, 14, 0, tzinfo=UTC)
    made = draft({"phone_number": "+14155550123", "scheduled_time": "2026-12-01T09:00:00Z"})
    assert made.scheduled_time == datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


@pytest.mark.parametrize("value", ["next tuesday", "2026-02-30 10:00", [2026], {"at": 1}, True])
def test_an_unreadable_scheduled_time_is_a_row_error_on_that_field(value: Any) -> None:
    assert error({"phone_number": "+14155550123", "scheduled_time": value}).field == "scheduled_time"


def test_required_variables_must_be_present_in_variables_extra_fields_or_contact_fields() -> None:
    rules = rules_for("phone", "UTC", None, ["clinic", "first_name"])
    made = draft(
        {"phone_number": "+14155550123", "first_name": "Ada", "variables": {"clinic": "North"}}, rules
    )
    assert made.fields["variables"] == {"clinic": "North"}
    # A field the row does not name becomes a variable, and counts.
    made = draft({"phone_number": "+14155550123", "first_name": "Ada", "clinic": "South"}, rules)
    assert made.fields["variables"]["clinic"] == "South"
    found = error({"phone_number": "+14155550123", "variables": {"clinic": ""}}, rules)
    assert found.field == "variables"
    assert "clinic" in found.message
    assert "first_name" in found.message


@pytest.mark.parametrize(
    ("key", "agents"),
    [
        ("Invoice", "invoice"),
        ("INVOICE", "invoice"),
        ("invoice id", "invoice_id"),
        ("Invoice-Id", "invoice_id"),
        ("InvoiceID", "invoice_id"),
        ("invoice.id", "invoice_id"),
    ],
)
def test_a_key_is_stored_under_the_agents_spelling_of_its_variable(key: str, agents: str) -> None:
    rules = rules_for("phone", "UTC", None, [agents])
    for row in (
        {"phone_number": "+14155550123", key: "A-1"},
        {"phone_number": "+14155550123", "variables": {key: "A-1"}},
    ):
        made = draft(row, rules)
        assert made.fields["variables"] == {agents: "A-1"}
        assert made.renamed == {key: agents}


def test_the_agents_own_spelling_wins_and_the_other_stays_as_it_is() -> None:
    rules = rules_for("phone", "UTC", None, ["invoice"])
    made = draft({"phone_number": "+14155550123", "Invoice": "B", "invoice": "A"}, rules)
    assert (made.fields["variables"], made.renamed) == ({"Invoice": "B", "invoice": "A"}, {})


def test_variables_the_agent_names_but_does_not_require_are_matched_too() -> None:
    rules = rules_for("phone", "UTC", None, [], variables=["plan"])
    made = draft({"phone_number": "+14155550123", "PLAN": "gold", "Plan Name": "x"}, rules)
    assert made.fields["variables"] == {"plan": "gold", "Plan Name": "x"}


def test_named_variables_win_over_extra_fields_of_the_same_name() -> None:
    made = draft({"phone_number": "+14155550123", "variables": {"plan": "gold"}, "plan": "silver"})
    assert made.fields["variables"] == {"plan": "gold"}


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        ("+14155550123", "row"),
        (["+14155550123"], "row"),
        (None, "row"),
        ({"phone_number": "+14155550123", "channel": "fax"}, "channel"),
        ({"phone_number": "+14155550123", "max_retries": "many"}, "max_retries"),
        ({"phone_number": "+14155550123", "max_retries": 99}, "max_retries"),
        ({"phone_number": "+14155550123", "variables": "clinic=North"}, "variables"),
        ({"phone_number": "+14155550123", "metadata": [1, 2]}, "metadata"),
        ({"phone_number": "+14155550123", "first_name": "x" * 300}, "first_name"),
        ({"phone_number": "+14155550123", "user_phone_number": "12"}, "user_phone_number"),
        ({"phone_number": {"number": "+14155550123"}}, "phone_number"),
    ],
)
def test_malformed_rows_name_the_field_at_fault(raw: Any, field: str) -> None:
    assert error(raw).field == field


def _nested(levels: int) -> dict[str, Any]:
    value: dict[str, Any] = {}
    for _ in range(levels - 1):
        value = {"next": value}
    return value


SMALL = RowRules("phone", "UTC", None, (), RowLimits(instruction_chars=10, json_bytes=40, json_depth=3))


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"instruction": "x" * 11}, "instruction", "is longer than 10 characters"),
        ({"metadata": _nested(4)}, "metadata", "nests deeper than 3 levels"),
        ({"metadata": {"note": "x" * 40}}, "metadata", "is larger than 40 bytes as JSON"),
        ({"metadata": {"big": 10**30}}, "metadata", "cannot be stored as JSON"),
        ({"variables": {"a": _nested(3)}}, "variables", "nests deeper than 3 levels"),
        # Extra fields are variables too, and count towards their size.
        ({"note": "x" * 40}, "variables", "is larger than 40 bytes as JSON"),
        ({"timezone": "America"}, "timezone", "'America' is not an IANA time zone"),
        ({"timezone": "A" * 300}, "timezone", "String should have at most 64 characters"),
        ({"country_code": "G" * 300}, "country_code", "String should have at most 64 characters"),
    ],
)
def test_what_a_row_carries_is_bounded_by_its_rules_limits(
    fields: dict[str, Any], field: str, message: str
) -> None:
    found = error({"phone_number": "+14155550123", **fields}, SMALL)
    assert (found.field, found.message.split(" (BATCHCALL")[0][: len(message)]) == (field, message)


def test_a_row_within_its_limits_is_a_draft() -> None:
    fields = {"instruction": "x" * 10, "metadata": _nested(3), "variables": {"a": 1}}
    assert draft({"phone_number": "+14155550123", **fields}, SMALL).fields["instruction"] == "x" * 10


def test_the_default_limits_are_the_settings_defaults() -> None:
    assert RowLimits() == RowLimits(20_000, 65_536, 32)
    assert PHONE.limits == RowLimits()


def test_a_rows_own_time_zone_reads_its_scheduled_time() -> None:
    found = draft(
        {"phone_number": "+14155550123", "scheduled_time": "2026-12-01 09:00", "timezone": "Asia/Tokyo"}
    )
    assert found.scheduled_time == datetime(2026, 12, 1, 0, 0, tzinfo=UTC)
    assert "timezone" not in found.fields["variables"]


def test_numbers_given_as_json_numbers_are_read_as_text() -> None:
    assert draft({"phone_number": 14155550123}).to == "+14155550123"


@pytest.mark.parametrize(
    "raw",
    [
        {"phone_number": "+14155550123", "name": "Ada\x00"},
        {"phone_number": "+1415555\x000123"},
        {"phone_number": "+14155550123", "variables": {"plan\x00": "gold"}},
        {"phone_number": "+14155550123", "metadata": {"notes": [{"text": "\x00"}]}},
        {"phone_number": "+14155550123", "extra\x00": "a variable"},
    ],
)
def test_a_nul_character_anywhere_in_a_row_is_an_error_of_the_row(raw: dict[str, Any]) -> None:
    refused = invalid(raw)
    assert refused.errors == (RowError(7, "row", NUL_MESSAGE),)
    # What is kept of it for download is what a database can store.
    assert refused.values == {k: v for k, v in raw.items() if not contains_nul(k) and not contains_nul(v)}


def test_the_text_of_an_escaped_nul_is_not_one() -> None:
    assert draft({"phone_number": "+14155550123", "name": "\\u0000"}).fields["name"] == "\\u0000"


def test_a_row_error_reads_as_row_field_reason() -> None:
    assert RowError(3, "email", "is required").as_text() == "Row 3: email: is required"


def test_a_dialect_words_a_row_error_with_its_names_and_its_array_of_rows() -> None:
    numbered = RowWording(fields={"phone_number": "phoneNumber"})
    assert RowError(3, "phone_number", "is required").as_text(numbered) == "Row 3: phoneNumber: is required"
    assert RowError(3, "row", "is bad").as_text(numbered) == "Row 3: row: is bad"
    indexed = RowWording(fields={"phone_number": "numberToCall"}, array="contacts")
    assert RowError(3, "phone_number", "is bad").as_text(indexed) == "contacts[2].numberToCall: is bad"
    assert RowError(3, "email", "is bad").as_text(indexed) == "contacts[2].email: is bad"
    assert RowError(3, "row", "is bad").as_text(indexed) == "contacts[2]: is bad"


# Property: any JSON-like row gives a draft or an invalid row, never an exception.
_json_scalar = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=30),
)
_json = st.recursive(
    _json_scalar,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
)
_field_names = st.sampled_from(
    [
        "phone_number",
        "country_code",
        "name",
        "first_name",
        "email",
        "channel",
        "instruction",
        "variables",
        "metadata",
        "scheduled_time",
        "max_retries",
        "user_phone_number",
        "email_template_params",
        "call_type",
        "timezone",
    ]
)
_field_values = st.one_of(
    _json,
    st.sampled_from(
        ["+14155550123", "4155550123", "07911 123456", "GB", "XX", "email", "sms", "ada@example.com"]
    ),
    st.text(alphabet="0123456789 +-()", max_size=20),
    st.datetimes().map(str),
    st.sampled_from(["Europe/Berlin", "America", "Etc", "../UTC", "/etc/passwd", "A" * 300, "Z" * 64]),
)
_rows = st.one_of(
    _json,
    st.dictionaries(st.one_of(_field_names, st.text(max_size=12)), _field_values, max_size=8),
)
_rules = st.builds(
    RowRules,
    channel=st.sampled_from(["phone", "sms", "email"]),
    timezone=st.sampled_from(["UTC", "America/New_York", "Asia/Kolkata", "Pacific/Kiritimati"]),
    country_code=st.sampled_from([None, "US", "GB", "DE", "IN"]),
    required_variables=st.sampled_from([(), ("clinic",), ("first_name", "plan")]),
)


@pytest.mark.slow
@settings(max_examples=2000, deadline=None)
@given(raw=_rows, row=st.integers(min_value=1, max_value=10**6), rules=_rules)
def test_any_row_gives_a_draft_or_an_invalid_row(raw: Any, row: int, rules: RowRules) -> None:
    outcome = normalize(raw, row, rules)
    assert isinstance(outcome, CallDraft | InvalidRow)
    assert outcome.row == row
    if isinstance(outcome, InvalidRow):
        assert outcome.errors
        assert all(e.row == row and e.field and e.message for e in outcome.errors)
        assert "Value error" not in outcome.reason
        return
    assert all(w.row == row and w.message for w in outcome.warnings)
    if outcome.channel != "email":
        assert outcome.to is not None
        assert outcome.to.startswith("+")
    else:
        assert outcome.email is not None
    assert outcome.scheduled_time is None or outcome.scheduled_time.tzinfo is not None
