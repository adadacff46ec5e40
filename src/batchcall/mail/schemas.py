from datetime import datetime

from pydantic import Field

from batchcall.kit.schema import Read, Write
from batchcall.providers.smtp.config import ADDRESS


class SuppressionCreate(Write):
    address: str = Field(pattern=ADDRESS, max_length=320)
    reason: str = Field(default="", max_length=1000)


class SuppressionRead(Read):
    id: str
    address: str
    reason: str
    created_at: datetime
