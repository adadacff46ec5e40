"""CSV in, rows out: encodings, header aliases, extra columns, blank lines, a file without a phone column,
bounds on a field and a line; and CSV out: cells that cannot run as formulas."""

import csv
import io
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from batchcall.config import Settings
from batchcall.ingest.csvfile import (
    CsvTable,
    canonical_header,
    detect_encoding,
    neutralise,
    read_rows,
    read_table,
    sniff_delimiter,
)
from batchcall.ingest.rows import CallDraft, RowError, RowRules, normalize
from batchcall.kit.errors import Invalid

DEFAULTS = Settings(max_csv_field_chars=131_072, max_csv_line_chars=1_048_576)


def rows_of(data: bytes, require_phone: bool = True) -> list[tuple[int, Any]]:
    return read_all(io.BytesIO(data), DEFAULTS, require_phone)


def read_all(stream: io.BytesIO, settings: Settings, require_phone: bool = True) -> list[tuple[int, Any]]:
    _, rows = read_rows(stream, settings, require_phone)
    return list(rows)


TEXT = "phone,first_name,clinic\n+14155550123,Zoë,Málaga\n"


@pytest.mark.parametrize(
    "data",
    [TEXT.encode("utf-8"), b"\xef\xbb\xbf" + TEXT.encode("utf-8"), TEXT.encode("latin-1")],
    ids=["utf-8", "utf-8 with BOM", "latin-1"],
)
def test_encodings_decode_to_the_same_rows(data: bytes) -> None:
    header, rows = read_rows(io.BytesIO(data), DEFAULTS)
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
    assert isinstance(made, CallDraft), made
    assert made.to == "+14155550123"
    assert made.fields["first_name"] == "Ada"
    assert made.fields["variables"] == {"Appointment Date": "2026-12-01", "plan": "gold"}


def test_blank_records_are_counted_and_skipped_so_row_n_is_the_spreadsheets_line_n_plus_one() -> None:
    data = b"phone,name\n\n+14155550123,A\n,\n  ,  \n\r\n+14155550124,B\n\n"
    assert rows_of(data) == [
        (2, {"phone_number": "+14155550123", "name": "A"}),
        (6, {"phone_number": "+14155550124", "name": "B"}),
    ]


def test_a_record_with_a_quoted_line_break_is_one_row() -> None:
    data = b'phone,note\n+14155550123,"two\nlines"\n+14155550124,b\n'
    assert [number for number, _ in rows_of(data)] == [1, 2]


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


class CountingStream(io.BytesIO):
    """A file that counts the bytes read from it since it was last rewound: the parse, not the encoding
    check before it."""

    def __init__(self, data: bytes) -> None:
        super().__init__(data)
        self.total = 0
        self.since_rewind = 0

    def read(self, size: int | None = -1) -> bytes:
        return self._counted(super().read(size))

    def read1(self, size: int | None = -1) -> bytes:
        return self._counted(super().read1(size))

    def seek(self, offset: int, whence: int = 0) -> int:
        self.since_rewind = 0
        return super().seek(offset, whence)

    def _counted(self, chunk: bytes) -> bytes:
        self.total += len(chunk)
        self.since_rewind += len(chunk)
        return chunk


MIB = 1 << 20
# What the reader may take beyond a cap before it knows: the text layer reads ahead in chunks of 8 KiB.
READ_AHEAD = 64 * 1024


def refusal(stream: io.BytesIO, settings: Settings = DEFAULTS) -> Invalid:
    with pytest.raises(Invalid) as refused:
        read_all(stream, settings)
    return refused.value


def test_a_line_of_50_mb_is_refused_naming_its_row_after_reading_about_the_cap_of_it() -> None:
    # The blank record counts: the long line is the file's fourth record after the header.
    data = b"phone,note\n+14155550101,a\n\n+14155550102,b\n+14155550103," + b"x" * (50 * MIB) + b"\n"
    stream = CountingStream(data)
    refused = refusal(stream)
    assert (
        refused.message == "Row 4: the line is longer than 1048576 characters (BATCHCALL_MAX_CSV_LINE_CHARS)"
    )
    assert refused.details == {"row": 4}
    assert stream.since_rewind < MIB + READ_AHEAD
    # Before it, the encoding check reads the file once, a block at a time.
    assert stream.total < len(data) + MIB + READ_AHEAD


def test_a_quoted_field_of_8_mb_counts_its_line_breaks_towards_the_line_cap() -> None:
    data = b'phone,note\n+14155550101,"' + b"x\n" * (4 * MIB) + b'"\n'
    stream = CountingStream(data)
    refused = refusal(stream)
    assert (
        refused.message == "Row 1: the line is longer than 1048576 characters (BATCHCALL_MAX_CSV_LINE_CHARS)"
    )
    assert stream.since_rewind < MIB + READ_AHEAD


def test_a_field_of_8_mb_on_a_line_allowed_to_hold_it_is_refused_by_the_field_cap() -> None:
    roomy = Settings(max_csv_field_chars=131_072, max_csv_line_chars=16 * MIB)
    data = b"phone,note\n+14155550101,a\n+14155550102," + b"x" * (8 * MIB) + b"\n"
    refused = refusal(io.BytesIO(data), roomy)
    assert (
        refused.message == "Row 2: a field is longer than 131072 characters (BATCHCALL_MAX_CSV_FIELD_CHARS)"
    )
    assert refused.details == {"row": 2}


def test_a_field_one_over_the_cap_is_refused_and_one_at_it_is_read() -> None:
    at_cap = "x" * 131_072
    assert rows_of(f"phone,note\n+14155550101,{at_cap}\n".encode()) == [
        (1, {"phone_number": "+14155550101", "note": at_cap})
    ]
    refused = refusal(io.BytesIO(f"phone,note\n+14155550101,{at_cap}x\n".encode()))
    assert "Row 1: a field is longer than 131072 characters" in refused.message


def test_a_record_at_the_line_cap_is_read_and_one_character_more_is_refused() -> None:
    # Eight fields of 131,071 characters, seven commas and the line break: 1,048,576 characters.
    fields = [f"+1415555010{i}" + "x" * (131_071 - 12) for i in range(8)]
    line = ",".join(fields) + "\n"
    assert len(line) == 1_048_576
    header = ",".join(["phone"] + [f"v{i}" for i in range(1, 8)]) + "\n"
    [(number, row)] = rows_of((header + line).encode())
    assert (number, len(row)) == (1, 8)
    refused = refusal(io.BytesIO((header + "y" + line).encode()))
    assert "Row 1: the line is longer than 1048576 characters" in refused.message


def test_a_header_over_a_cap_is_refused_as_the_header() -> None:
    refused = refusal(io.BytesIO(b"phone," + b"h" * (2 * MIB) + b"\n+14155550101,a\n"))
    assert refused.message == (
        "The CSV header: the line is longer than 1048576 characters (BATCHCALL_MAX_CSV_LINE_CHARS)"
    )
    assert refused.details == {}


def test_the_caps_hold_whatever_the_csv_modules_own_limit_was_set_to() -> None:
    # The csv module's limit is one for the whole process; a reader must not depend on its value.
    before = csv.field_size_limit(16)
    try:
        note = "n" * 100_000
        assert rows_of(f"phone,note\n+14155550101,{note}\n".encode())[0][1]["note"] == note
    finally:
        csv.field_size_limit(before)


def test_reading_leaves_the_callers_stream_open() -> None:
    stream = io.BytesIO(b"phone\n+14155550101\n")
    _, rows = read_rows(stream, DEFAULTS)
    assert len(list(rows)) == 1
    del rows
    assert not stream.closed


@pytest.mark.parametrize(
    "cell",
    [
        '=HYPERLINK("http://x","y")',
        "+cmd|' /C calc'!A0",
        "@SUM(1+1)",
        "-2+3",
        "\tx",
        "\rx",
        "=",
        "-",
        "+1 415",
    ],
)
def test_a_cell_that_would_start_a_formula_is_written_as_text(cell: str) -> None:
    assert neutralise(cell) == "'" + cell


@pytest.mark.parametrize(
    "cell", ["+15551234567", "42", "-12.5", "+.5", "", "Ada", "a=1", '{"plan":"=1+1"}', "2026-01-01", "'=x"]
)
def test_numbers_and_other_cells_are_written_as_they_are(cell: str) -> None:
    assert neutralise(cell) == cell


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


@pytest.mark.slow
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
        header, rows = read_rows(io.BytesIO(data), DEFAULTS, require_phone)
        produced = list(rows)
    except Invalid as refused:
        message = refused.message
        assert message
        return
    if require_phone:
        assert "phone_number" in header
    # Numbered from 1 in the file's order; a blank record takes its number and is left out.
    numbers = [number for number, _ in produced]
    assert numbers == sorted(set(numbers))
    assert all(number >= 1 for number in numbers)
    rules = RowRules(channel="phone", timezone="UTC", country_code="US", required_variables=())
    for number, row in produced:
        assert isinstance(row, dict | RowError)
        outcome = normalize(row, number, rules)
        assert outcome.row == number


def table_of(data: bytes, require_phone: bool = True) -> CsvTable:
    return read_table(io.BytesIO(data), DEFAULTS, require_phone)


def test_a_windows_1252_file_keeps_its_smart_quotes_dashes_and_euro_signs() -> None:
    note = "\u201cQuoted\u201d \u2013 5 \u20ac \u2026 \u2019tis"
    data = f"phone,note\n+14155550123,{note}\n".encode("cp1252")
    assert detect_encoding(io.BytesIO(data)) == "cp1252"
    assert rows_of(data) == [(1, {"phone_number": "+14155550123", "note": note})]


def test_a_file_with_a_byte_no_windows_1252_character_has_is_latin_1() -> None:
    # 0x81 is undefined in Windows-1252; Latin-1 decodes every byte.
    data = "phone,note\n+14155550123,é".encode("latin-1") + b"\x81\n"
    assert detect_encoding(io.BytesIO(data)) == "latin-1"
    assert rows_of(data)[0][1]["note"] == "é\x81"


def test_utf_8_is_read_as_utf_8_before_any_single_byte_encoding() -> None:
    assert detect_encoding(io.BytesIO("phone,n\n1,€\n".encode())) == "utf-8-sig"


@pytest.mark.parametrize(
    ("header", "delimiter"),
    [
        ("phone,name,plan", ","),
        ("phone;name;plan", ";"),
        ("phone\tname\tplan", "\t"),
        ("phone|name|plan", "|"),
        # The delimiter that finds the phone column wins over one that only cuts more columns.
        ("Phone;Name, first;Plan", ";"),
        ('"Phone, mobile";name', ";"),
        # In doubt, a comma.
        ("phone", ","),
        ("a;b,c", ","),
    ],
)
def test_the_delimiter_is_sniffed_from_the_header(header: str, delimiter: str) -> None:
    assert sniff_delimiter(header + "\n") == delimiter


def test_a_semicolon_file_from_european_excel_is_read() -> None:
    data = "\ufeffTelefon Nummer;Vorname;Betrag\n+49 30 1234567;Jürgen;12,50 €\n".encode()
    table = table_of(b"Phone;First Name;Amount\n+49 30 1234567;J\xfcrgen;12,50 \x80\n")
    assert table.delimiter == ";"
    assert list(table.rows) == [
        (1, {"phone_number": "+49 30 1234567", "first_name": "Jürgen", "Amount": "12,50 €"})
    ]
    # A file that names its phone column in no known way is refused, its columns cut by its delimiter.
    with pytest.raises(Invalid) as refused:
        rows_of(data)
    assert "'Telefon Nummer', 'Vorname', 'Betrag'" in refused.value.message


def test_the_table_names_each_field_by_the_files_own_column() -> None:
    table = table_of(b"Phone Number,E-mail,Invoice\n+14155550123,a@example.com,7\n")
    assert table.columns == ["Phone Number", "E-mail", "Invoice"]
    assert table.fields == ["phone_number", "email", "Invoice"]
    assert table.field_columns == [
        ("phone_number", "Phone Number"),
        ("email", "E-mail"),
        ("Invoice", "Invoice"),
    ]


def test_a_utf_8_bom_before_windows_1252_text_is_still_a_bom() -> None:
    data = b"\xef\xbb\xbf" + "Phone;Note\n+14155550123;5 \u20ac\n".encode("cp1252")
    assert rows_of(data) == [(1, {"phone_number": "+14155550123", "Note": "5 \u20ac"})]


def test_a_second_column_for_a_field_keeps_its_own_name_and_overwrites_nothing() -> None:
    assert rows_of(b"Phone,Mobile\n+14155550123,+14155550124\n") == [
        (1, {"phone_number": "+14155550123", "Mobile": "+14155550124"})
    ]


def test_a_fixed_rejected_rows_download_is_read_without_its_row_and_reason_columns() -> None:
    data = b'row,reason,Phone,Invoice\n3,"variables: missing",+14155550123,A-1\n'
    assert rows_of(data) == [(1, {"phone_number": "+14155550123", "Invoice": "A-1"})]
    # Elsewhere a column named reason is the rows' own.
    assert rows_of(b"Phone,reason\n+14155550123,renewal\n")[0][1]["reason"] == "renewal"
