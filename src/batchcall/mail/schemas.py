from datetime import datetime

from pydantic import Field

from batchcall.kit.schema import Read, Write
from batchcall.mail.addresses import EmailAddress


class SuppressionCreate(Write):
    address: EmailAddress
    reason: str = Field(default="", max_length=1000)


class SuppressionRead(Read):
    id: str
    address: str
    reason: str
    created_at: datetime
