"""The store's tables, one module per aggregate."""

from batchcall.models.agent import Agent, Transport, Voicemail
from batchcall.models.base import Base
from batchcall.models.batch import Batch, BatchStatus, Channel, DialCounter, Rotation
from batchcall.models.call import (
    COUNTER_OF_STATUS,
    DIALLED_ENDINGS,
    IN_FLIGHT,
    RETRIABLE,
    RETRIED_BY_DEFAULT,
    TERMINAL,
    UNDIALLED_ENDINGS,
    WAITING,
    Attempt,
    Call,
    CallStatus,
    ProviderEvent,
)
from batchcall.models.contact import Contact, ContactFolder, DncEntry, contact_folder_members
from batchcall.models.email import EmailSuppression, EmailTemplate
from batchcall.models.idempotency import IdempotencyRecord
from batchcall.models.installation import InstallationSecret
from batchcall.models.phone_number import PhoneNumber
from batchcall.models.provider_account import ProviderAccount
from batchcall.models.result import CallResult
from batchcall.models.submission import RejectedRow
from batchcall.models.webhook import WebhookDelivery, WebhookEndpoint
from batchcall.models.workspace import ApiKey, Workspace

__all__ = [
    "COUNTER_OF_STATUS",
    "DIALLED_ENDINGS",
    "IN_FLIGHT",
    "RETRIABLE",
    "RETRIED_BY_DEFAULT",
    "TERMINAL",
    "UNDIALLED_ENDINGS",
    "WAITING",
    "Agent",
    "ApiKey",
    "Attempt",
    "Base",
    "Batch",
    "BatchStatus",
    "Call",
    "CallResult",
    "CallStatus",
    "Channel",
    "Contact",
    "ContactFolder",
    "DialCounter",
    "DncEntry",
    "EmailSuppression",
    "EmailTemplate",
    "IdempotencyRecord",
    "InstallationSecret",
    "PhoneNumber",
    "ProviderAccount",
    "ProviderEvent",
    "RejectedRow",
    "Rotation",
    "Transport",
    "Voicemail",
    "WebhookDelivery",
    "WebhookEndpoint",
    "Workspace",
    "contact_folder_members",
]
