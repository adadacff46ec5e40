"""CSV in, rows out: encodings, header aliases, extra columns, blank lines, a file without a phone column."""

import io
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from batchcall.ingest.csvfile import canonical_header, read_rows
from batchcall.ingest.rows import RowError, RowRules, normalize
from batchcall.kit.errors import Invalid


def rows_of(data: bytes, require_phone: bool = True) -> list[tuple[int, Any]]:
    _, rows = read_rows(io.BytesIO(data), require_phone)
    return list(rows)


TEXT = "phone,first_name,clinic\n+14155550123,Zoë,Málaga\n"


@pytest.mark.parametrize(
    "data",
    [TEXT.encode("utf-8"), b"\xef\xbb\xbf" + TEXT.encode("utf-8"), TEXT.encode("latin-1")],
    ids=["utf-8", "utf-8 with BOM", "latin-1"],
)
def test_encodings_decode_to_the_same_rows(data: bytes) -> None:
    header, rows = read_rows(io.BytesIO(data))
    assert header == ["phone_number", "first_name", "clinic"]
    assert list(rows) == [(1, {"phone_number": "+14155550123", "first_name": "Zoë", "clinic": "Málaga"})]


@pytest.mark.parametrize(
    "header",
    [
        "phone",
        "phone_number",
        "Phone Number",
        "PHONE",
        "numberToCall",
        "to_number",
        "To",
        "mobile",
        "Mobile Number",
        "cell",
        "telephone",
        "msisdn",
        "contact_number",
        "Phone Number (E.164)",
        "phone-number",
    ],
)
def test_phone_column_aliases(header: str) -> None:
    assert canonical_header(header) == "phone_number"
    assert rows_of(f"{header},x\n+14155550123,1\n".encode()) == [
        (1, {"phone_number": "+14155550123", "x": "1"})
    ]


@pytest.mark.parametrize(
    ("header", "field"),
    [
        ("First Name", "first_name"),
        ("firstName", "first_name"),
        ("Surname", "last_name"),
        ("Full Name", "name"),
        ("E-mail", "email"),
        ("Email Address", "email"),
        ("Country", "country_code"),
        ("Scheduled Time", "scheduled_time"),
        ("callAt", "scheduled_time"),
        ("Instructions", "instruction"),
        ("Max Retries", "max_retries"),
        ("Record ID", "source_record_id"),
        ("Subject", "email_subject"),
    ],
)
def test_other_field_aliases(header: str, field: str) -> None:
    assert canonical_header(header) == field


def test_extra_columns_become_variables_of_the_row() -> None:
    data = b"Phone Number,First Name,Appointment Date,plan\n4155550123,Ada,2026-12-01,gold\n"
    [(number, row)] = rows_of(data)
    rules = RowRules(channel="phone", timezone="UTC", country_code=None, required_variables=("plan",))
    made = normalize(row, number, rules)
    assert not isinstance(made, RowError), made
    assert made.to == "+14155550123"
    assert made.fields["first_name"] == "Ada"
    assert made.fields["variables"] == {"Appointment Date": "2026-12-01", "plan": "gold"}


def test_blank_lines_are_skipped_and_rows_are_numbered_from_one_without_them() -> None:
    data = b"phone,name\n\n+14155550123,A\n,\n  ,  \n\r\n+14155550124,B\n\n"
    assert rows_of(data) == [
        (1, {"phone_number": "+14155550123", "name": "A"}),
        (2, {"phone_number": "+14155550124", "name": "B"}),
    ]


def test_empty_cells_are_absent_and_short_rows_are_padded() -> None:
    assert rows_of(b"phone,name,plan\n+14155550123,,gold\n+14155550124\n") == [
        (1, {"phone_number": "+14155550123", "plan": "gold"}),
        (2, {"phone_number": "+14155550124"}),
    ]


def test_quoted_fields_keep_commas_and_newlines() -> None:
    data = b'phone,instruction\n+14155550123,"Say hello, then ask\nabout the order"\n'
    assert rows_of(data) == [
        (1, {"phone_number": "+14155550123", "instruction": "Say hello, then ask\nabout the order"})
    ]


def test_crlf_line_endings() -> None:
    assert rows_of(b"phone,name\r\n+14155550123,A\r\n") == [
        (1, {"phone_number": "+14155550123", "name": "A"})
    ]


def test_a_file_without_a_phone_column_is_refused_naming_the_columns_found() -> None:
    with pytest.raises(Invalid) as refused:
        rows_of(b"Name,E-mail,Company\nAda,ada@example.com,ACME\n")
    assert "no phone number column" in refused.value.message
    for column in ("'Name'", "'E-mail'", "'Company'"):
        assert column in refused.value.message
    assert refused.value.details["columns"] == ["Name", "E-mail", "Company"]


def test_an_email_batch_may_upload_a_file_without_a_phone_column() -> None:
    assert rows_of(b"email\nada@example.com\n", require_phone=False) == [(1, {"email": "ada@example.com"})]


@pytest.mark.parametrize("data", [b"", b"\xef\xbb\xbf"])
def test_an_empty_file_is_refused(data: bytes) -> None:
    with pytest.raises(Invalid, match="empty"):
        rows_of(data)


def test_a_header_only_file_has_no_rows() -> None:
    assert rows_of(b"phone\n") == []


# Property: any bytes are either refused as a whole with Invalid, or give numbered rows and row errors.
_cells = st.one_of(
    st.text(max_size=20),
    st.sampled_from(["+14155550123", "4155550123", "", " ", '"', '"a,b"', "\r", "\n", "é", "\x00", ","]),
)
_csv_text = st.lists(st.lists(_cells, max_size=5), max_size=6).map(
    lambda lines: "\n".join(",".join(cells) for cells in lines)
)
_headers = st.lists(
    st.sampled_from(["phone", "Phone Number", "email", "name", "country", "plan", "", "phone", '"x"']),
    min_size=1,
    max_size=4,
).map(",".join)


@settings(max_examples=1500, deadline=None)
@given(
    data=st.one_of(
        st.binary(max_size=300),
        st.builds(lambda h, body: (h + "\n" + body).encode("utf-8"), _headers, _csv_text),
        st.builds(lambda h, body: (h + "\n" + body).encode("latin-1", "replace"), _headers, _csv_text),
        st.builds(lambda h, body: b"\xef\xbb\xbf" + (h + "\n" + body).encode(), _headers, _csv_text),
    ),
    require_phone=st.booleans(),
)
def test_any_file_gives_rows_or_row_errors_or_is_refused_as_a_whole(data: bytes, require_phone: bool) -> None:
    try:
        header, rows = read_rows(io.BytesIO(data), require_phone)
        produced = list(rows)
    except Invalid as refused:
        message = refused.message
        assert message
        return
    if require_phone:
        assert "phone_number" in header
    assert [number for number, _ in produced] == list(range(1, len(produced) + 1))
    rules = RowRules(channel="phone", timezone="UTC", country_code="US", required_variables=())
    for number, row in produced:
        assert isinstance(row, dict | RowError)
        outcome = normalize(row, number, rules)
        assert outcome.row == number
