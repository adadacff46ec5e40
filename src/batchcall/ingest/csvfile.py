"""CSV in, row dicts out: streamed, bounded, read as the spreadsheet that wrote it meant it. And CSV out:
cells a spreadsheet shows as text, never runs as a formula.

What is chosen, and why:

- Encoding: UTF-8 (with or without BOM) when the whole file is UTF-8. Otherwise Windows-1252 when every
  byte is one of its characters: Excel on Windows writes it, and it is Latin-1 but for 0x80-0x9F, where
  Latin-1 has control characters no one types and cp1252 has smart quotes, dashes and the euro sign.
  Otherwise Latin-1, which decodes any byte. A UTF-8 BOM before text that is not UTF-8 (a tool that
  writes one whatever follows) is still a BOM, not three letters of the first column's name.
- Delimiter: the header line's, among comma, semicolon (Excel where the decimal mark is a comma), tab and
  pipe: the one whose columns include a phone number (or e-mail) column, then the one giving most
  columns; comma when they tie.
- Header: each column's name read through ``ALIASES`` (``Phone Number`` is ``phone_number``); other
  columns are variables under their own names. A second column for a field one before it took keeps its
  own name, so no value is overwritten.
- A file downloaded from ``GET /v1/batches/{id}/rejected`` and fixed starts with that download's ``row``
  and ``reason`` columns: they are not read as the rows' (a file whose first two columns are named so).
- Rows: row N is the N-th record after the header, the spreadsheet's line N + 1. A blank record (no cell
  with anything but spaces) is counted, so the numbers stay the spreadsheet's, and skipped. A quoted cell
  may hold newlines and the delimiter.
"""

import codecs
import csv
import io
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

from batchcall.config import Settings
from batchcall.ingest.rows import RowError
from batchcall.kit.errors import Invalid

READ_BYTES = 1 << 20

# Header spellings seen in the wild, after lower-casing and dropping everything but letters and digits.
ALIASES: dict[str, str] = {
    **dict.fromkeys(
        [
            "phone",
            "phonenumber",
            "phoneno",
            "number",
            "numbertocall",
            "tonumber",
            "to",
            "mobile",
            "mobilenumber",
            "mobilephone",
            "cell",
            "cellphone",
            "telephone",
            "tel",
            "contactnumber",
            "contactphone",
            "phonenumbere164",
            "msisdn",
        ],
        "phone_number",
    ),
    **dict.fromkeys(["firstname", "givenname", "fname"], "first_name"),
    **dict.fromkeys(["lastname", "surname", "familyname", "lname"], "last_name"),
    **dict.fromkeys(["name", "fullname", "contactname", "customername"], "name"),
    **dict.fromkeys(["email", "emailaddress", "mail"], "email"),
    **dict.fromkeys(["countrycode", "country", "region"], "country_code"),
    **dict.fromkeys(["instruction", "instructions", "prompt", "task"], "instruction"),
    **dict.fromkeys(["channel"], "channel"),
    **dict.fromkeys(["scheduledtime", "scheduledat", "scheduletime", "calltime", "callat"], "scheduled_time"),
    **dict.fromkeys(["calltype"], "call_type"),
    **dict.fromkeys(["maxretries", "retries"], "max_retries"),
    **dict.fromkeys(["sourcerecordid", "recordid"], "source_record_id"),
    **dict.fromkeys(["crmcontactid", "contactid"], "crm_contact_id"),
    **dict.fromkeys(["userphonenumber", "userphone", "brokerphone"], "user_phone_number"),
    **dict.fromkeys(["emailsubject", "subject"], "email_subject"),
    **dict.fromkeys(["emailtemplatename"], "email_template_name"),
    **dict.fromkeys(["emailtemplateid"], "email_template_id"),
}

_NOT_ALNUM = re.compile(r"[^a-z0-9]")


def canonical_header(header: str) -> str:
    """The native field a header stands for, or the header itself (a variable) when it is none."""
    return ALIASES.get(_NOT_ALNUM.sub("", header.lower()), header.strip())


# Bytes that are no character in Windows-1252; a file with one of them is read as Latin-1.
_UNDEFINED_IN_CP1252 = (b"\x81", b"\x8d", b"\x8f", b"\x90", b"\x9d")
# A UTF-8 byte order mark as Windows-1252 and Latin-1 read its three bytes.
_UTF8_BOM_AS_SINGLE_BYTES = "\u00ef\u00bb\u00bf"
DELIMITERS = (",", ";", "\t", "|")
# The first columns of the rejected rows' download: a file that starts with them is one, fixed.
REJECTED_DOWNLOAD_COLUMNS = ("row", "reason")
# Columns that say a file is one of contacts: the delimiter that finds one is the file's.
_CONTACT_FIELDS = frozenset({"phone_number", "email"})


def detect_encoding(stream: BinaryIO) -> str:
    """``utf-8-sig`` when the whole file is UTF-8 (BOM or not), else ``cp1252`` when every byte is a
    Windows-1252 character, else ``latin-1``; the stream is rewound."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    utf8 = cp1252 = True
    while (utf8 or cp1252) and (block := stream.read(READ_BYTES)):
        if utf8:
            try:
                decoder.decode(block)
            except UnicodeDecodeError:
                utf8 = False
        cp1252 = cp1252 and not any(byte in block for byte in _UNDEFINED_IN_CP1252)
    if utf8:
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            utf8 = False
    stream.seek(0)
    return "utf-8-sig" if utf8 else "cp1252" if cp1252 else "latin-1"


def sniff_delimiter(header_line: str) -> str:
    """The delimiter of a file whose header line is ``header_line`` (see the module's docstring)."""
    best, best_score = ",", (False, 0)
    for delimiter in DELIMITERS:
        try:
            cells = next(csv.reader([header_line], delimiter=delimiter), [])
        except csv.Error:
            # Not this delimiter's CSV, or a line over the caps, which reading it refuses.
            continue
        fields = {canonical_header(cell) for cell in cells}
        score = (not _CONTACT_FIELDS.isdisjoint(fields), len(cells))
        if score > best_score:
            best, best_score = delimiter, score
    return best


@dataclass
class CsvTable:
    """A CSV file being read: its columns as the file names them, the field each stands for, and its rows
    (row number from 1, the row by field, or why the record cannot be read)."""

    columns: list[str]
    fields: list[str]
    delimiter: str
    rows: Iterator[tuple[int, dict[str, str] | RowError]]

    @property
    def field_columns(self) -> list[tuple[str, str]]:
        """(the field a row carries a column's value under, the file's name for the column), in the file's
        order, for the columns read into the rows."""
        return [(f, c) for c, f in zip(self.columns, self.fields, strict=True) if f]


def read_table(stream: BinaryIO, settings: Settings, require_phone: bool = True) -> CsvTable:
    """The file's header, read now, and its rows, read as they are asked for.

    A record longer than ``settings.max_csv_line_chars`` or with a field longer than
    ``settings.max_csv_field_chars`` refuses the whole file, naming its row, once about that much of it
    has been read."""
    records = _Records(stream, settings.max_csv_field_chars, settings.max_csv_line_chars)
    try:
        columns, fields = _header(records, require_phone)
    except Invalid:
        records.close()
        raise
    return CsvTable(columns, fields, records.delimiter, _rows(records, fields))


def read_rows(
    stream: BinaryIO, settings: Settings, require_phone: bool = True
) -> tuple[list[str], Iterator[tuple[int, dict[str, str] | RowError]]]:
    """The field of each column and an iterator of (row number from 1, row) that skips blank records."""
    table = read_table(stream, settings, require_phone)
    return table.fields, table.rows


def _header(records: "_Records", require_phone: bool) -> tuple[list[str], list[str]]:
    try:
        raw_header = records.next(row=None)
    except csv.Error as exc:
        raise Invalid(f"The CSV header cannot be read: {exc}") from None
    if raw_header is None:
        raise Invalid("The CSV file is empty")
    found = [h.strip() for h in raw_header]
    fields: list[str] = []
    for column in found:
        field = canonical_header(column)
        fields.append(column if field != column and field in fields else field)
    if tuple(found[:2]) == REJECTED_DOWNLOAD_COLUMNS:
        fields[:2] = ["", ""]
    if require_phone and "phone_number" not in fields:
        listed = ", ".join(repr(h) for h in found if h) or "none"
        separated = "" if records.delimiter == "," else f" (read as separated by {records.delimiter!r})"
        raise Invalid(
            f"The CSV file has no phone number column{separated}; columns found: {listed}", columns=found
        )
    return found, fields


def _rows(records: "_Records", fields: list[str]) -> Iterator[tuple[int, dict[str, str] | RowError]]:
    number = 0
    try:
        while True:
            try:
                values = records.next(row=number + 1)
            except csv.Error as exc:
                number += 1
                yield number, RowError(number, "row", f"cannot be read as CSV: {exc}")
                continue
            if values is None:
                return
            number += 1
            if not any(v.strip() for v in values):
                continue
            yield (
                number,
                {key: value for key, value in zip(fields, values, strict=False) if key and value != ""},
            )
    finally:
        records.close()


class _Records:
    """CSV records read one physical line at a time, each line no longer than what is left of the record's
    allowance: a line without end costs about the allowance to refuse, and the whole file one linear pass.

    ``io.TextIOWrapper`` rather than ``codecs.getreader``: the latter's readline is quadratic in the length
    of a line."""

    def __init__(self, stream: BinaryIO, max_field_chars: int, max_line_chars: int) -> None:
        _let_csv_fields_reach(max_line_chars)
        self._text = io.TextIOWrapper(stream, encoding=detect_encoding(stream), newline="")
        self._max_field_chars = max_field_chars
        self._max_line_chars = max_line_chars
        self._record_chars = 0
        first_line = self._text.readline(max_line_chars + 1).removeprefix(_UTF8_BOM_AS_SINGLE_BYTES)
        self.delimiter = sniff_delimiter(first_line)
        self._reader = csv.reader(self._lines(first_line), delimiter=self.delimiter)

    def _lines(self, first_line: str) -> Iterator[str]:
        """The file's lines, the first of them already read to find the delimiter."""
        if first_line:
            self._record_chars += len(first_line)
            if self._record_chars > self._max_line_chars:
                raise _LineTooLong
            yield first_line
        while line := self._text.readline(self._max_line_chars - self._record_chars + 1):
            self._record_chars += len(line)
            if self._record_chars > self._max_line_chars:
                raise _LineTooLong
            yield line

    def next(self, row: int | None) -> list[str] | None:
        """The next record (``row`` names it in a refusal, None for the header), or None at the end;
        raises ``csv.Error`` for a record that is not CSV."""
        self._record_chars = 0
        try:
            values = next(self._reader)
        except StopIteration:
            return None
        except _LineTooLong:
            raise _refusal(
                row,
                f"the line is longer than {self._max_line_chars} characters",
                "BATCHCALL_MAX_CSV_LINE_CHARS",
            ) from None
        if values and max(map(len, values)) > self._max_field_chars:
            raise _refusal(
                row,
                f"a field is longer than {self._max_field_chars} characters",
                "BATCHCALL_MAX_CSV_FIELD_CHARS",
            )
        return values

    def close(self) -> None:
        """Let go of the caller's stream without closing it, as the wrapper would when collected."""
        self._text.detach()


class _LineTooLong(Exception):
    pass


def _refusal(row: int | None, problem: str, setting: str) -> Invalid:
    if row is None:
        return Invalid(f"The CSV header: {problem} ({setting})")
    return Invalid(f"Row {row}: {problem} ({setting})", row=row)


_csv_field_limit = threading.Lock()


def _let_csv_fields_reach(chars: int) -> None:
    """Raise the csv module's field limit to at least ``chars``, never lower it.

    That limit is one for the whole process, so a reader cannot set its own without racing the others:
    each leaves it at least as high as its line cap (no field outgrows its record) and checks its own
    field cap on every record."""
    with _csv_field_limit:
        if csv.field_size_limit() < chars:
            csv.field_size_limit(chars)


# OWASP's rule for CSV injection: a spreadsheet runs a cell that starts with one of these as a formula.
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_PLAIN_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)", re.ASCII)


def neutralise(cell: str) -> str:
    """``cell`` as a spreadsheet shows it as text: a leading ``'`` before what would start a formula.

    A plain number (an E.164 number such as ``+15551234567``, ``-12.5``) cannot be a formula and is left as
    it is, so it stays readable."""
    if cell.startswith(_FORMULA_STARTS) and not _PLAIN_NUMBER.fullmatch(cell):
        return "'" + cell
    return cell
