from datetime import datetime

from pydantic import Field

from batchcall.kit.schema import Read, Write
from batchcall.mail.addresses import ADDRESS, MAX_ADDRESS_CHARS


class SuppressionCreate(Write):
    address: str = Field(pattern=ADDRESS, max_length=MAX_ADDRESS_CHARS)
    reason: str = Field(default="", max_length=1000)


class SuppressionRead(Read):
    id: str
    address: str
    reason: str
    created_at: datetime
