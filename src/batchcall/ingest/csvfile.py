"""CSV in, row dicts out: UTF-8 with or without BOM or Latin-1, header aliases, streamed, bounded.
And CSV out: cells a spreadsheet shows as text, never runs as a formula."""

import codecs
import csv
import io
import re
import threading
from collections.abc import Iterator
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


def detect_encoding(stream: BinaryIO) -> str:
    """``utf-8-sig`` when the whole file is UTF-8 (BOM or not), else ``latin-1``; the stream is rewound."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    try:
        while block := stream.read(READ_BYTES):
            decoder.decode(block)
        decoder.decode(b"", final=True)
        encoding = "utf-8-sig"
    except UnicodeDecodeError:
        encoding = "latin-1"
    stream.seek(0)
    return encoding


def read_rows(
    stream: BinaryIO, settings: Settings, require_phone: bool = True
) -> tuple[list[str], Iterator[tuple[int, dict[str, str] | RowError]]]:
    """The canonical header and an iterator of (row number from 1, row) that skips blank lines.

    A record longer than ``settings.max_csv_line_chars`` or with a field longer than
    ``settings.max_csv_field_chars`` refuses the whole file, naming its row, once about that much of it
    has been read."""
    records = _Records(stream, settings.max_csv_field_chars, settings.max_csv_line_chars)
    try:
        header = _header(records, require_phone)
    except Invalid:
        records.close()
        raise
    return header, _rows(records, header)


def _header(records: "_Records", require_phone: bool) -> list[str]:
    try:
        raw_header = records.next(row=None)
    except csv.Error as exc:
        raise Invalid(f"The CSV header cannot be read: {exc}") from None
    if raw_header is None:
        raise Invalid("The CSV file is empty")
    found = [h.strip() for h in raw_header]
    header = [canonical_header(h) for h in found]
    if require_phone and "phone_number" not in header:
        listed = ", ".join(repr(h) for h in found if h) or "none"
        raise Invalid(f"The CSV file has no phone number column; columns found: {listed}", columns=found)
    return header


def _rows(records: "_Records", header: list[str]) -> Iterator[tuple[int, dict[str, str] | RowError]]:
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
            if not any(v.strip() for v in values):
                continue
            number += 1
            yield (
                number,
                {key: value for key, value in zip(header, values, strict=False) if key and value != ""},
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
        self._reader = csv.reader(self._lines())

    def _lines(self) -> Iterator[str]:
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
