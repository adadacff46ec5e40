"""CSV in, row dicts out: UTF-8 with or without BOM or Latin-1, header aliases, streamed."""

import codecs
import csv
import re
from collections.abc import Iterator
from typing import BinaryIO

from batchcall.ingest.rows import RowError
from batchcall.ingest.storable import NUL_MESSAGE
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
    stream: BinaryIO, require_phone: bool = True
) -> tuple[list[str], Iterator[tuple[int, dict[str, str] | RowError]]]:
    """The canonical header and an iterator of (row number from 1, row) that skips blank lines."""
    text = codecs.getreader(detect_encoding(stream))(stream)
    reader = csv.reader(text)
    try:
        raw_header = next(reader)
    except StopIteration:
        raise Invalid("The CSV file is empty") from None
    except csv.Error as exc:
        raise Invalid(f"The CSV header cannot be read: {exc}") from None
    found = [h.strip() for h in raw_header]
    header = [canonical_header(h) for h in found]
    if require_phone and "phone_number" not in header:
        listed = ", ".join(repr(h) for h in found if h) or "none"
        raise Invalid(f"The CSV file has no phone number column; columns found: {listed}", columns=found)
    return header, _rows(reader, header)


def _rows(reader: Iterator[list[str]], header: list[str]) -> Iterator[tuple[int, dict[str, str] | RowError]]:
    number = 0
    while True:
        try:
            values = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            number += 1
            yield number, RowError(number, "row", f"cannot be read as CSV: {exc}")
            continue
        if not any(v.strip() for v in values):
            continue
        number += 1
        if any("\x00" in value for value in values):
            yield number, RowError(number, "row", NUL_MESSAGE)
            continue
        yield number, {key: value for key, value in zip(header, values, strict=False) if key and value != ""}
