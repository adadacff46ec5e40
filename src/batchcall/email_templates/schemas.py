from datetime import datetime

from pydantic import Field

from batchcall.kit.schema import Read, Write

# RFC 5322 bounds a header line at 998 characters; a subject template longer than that could only render
# longer still.
SUBJECT_CHARS = 998
BODY_CHARS = 256 * 1024

SUBJECT_DESCRIPTION = "A Jinja2 template of one line: a line break a value brings in is rendered as a space"
HTML_DESCRIPTION = "A Jinja2 template of the HTML body; values are HTML-escaped. At least html or text."
TEXT_DESCRIPTION = "A Jinja2 template of the plain text body, rendered as written. At least html or text."


class EmailTemplateCreate(Write):
    name: str = Field(min_length=1, max_length=255, description="Unique in the workspace")
    subject: str = Field(min_length=1, max_length=SUBJECT_CHARS, description=SUBJECT_DESCRIPTION)
    html: str | None = Field(default=None, max_length=BODY_CHARS, description=HTML_DESCRIPTION)
    text: str | None = Field(default=None, max_length=BODY_CHARS, description=TEXT_DESCRIPTION)


class EmailTemplateUpdate(Write):
    name: str | None = Field(default=None, min_length=1, max_length=255)
    subject: str | None = Field(default=None, min_length=1, max_length=SUBJECT_CHARS)
    html: str | None = Field(default=None, max_length=BODY_CHARS, description="null removes the HTML body")
    text: str | None = Field(default=None, max_length=BODY_CHARS, description="null removes the text body")


class EmailTemplateRead(Read):
    id: str
    name: str
    subject: str
    html: str | None
    text: str | None
    created_at: datetime
    updated_at: datetime
