"""Named error codes of the messaging engine, and the provider outcomes channels raise."""

from __future__ import annotations

from enum import StrEnum

from postpurchase.errors import PermanentIntegrationError


class NotificationErrorCode(StrEnum):
    UNKNOWN_TRIGGER = "unknown_trigger"
    UNKNOWN_CHANNEL = "unknown_channel"
    CONTEXT_NOT_PLAIN = "context_not_plain"
    TEMPLATE_INVALID = "template_invalid"
    LANGUAGE_NOT_OFFERED = "language_not_offered"
    NO_TEST_RECIPIENT = "no_test_recipient"
    INVALID_SUBSCRIPTION = "invalid_subscription"
    INVALID_TOKEN = "invalid_token"  # noqa: S105 - an error code, not a secret
    MESSAGE_NOT_FOUND = "message_not_found"


class RecipientOptedOut(PermanentIntegrationError):
    """The provider refuses: the recipient opted out there (Twilio 21610)."""


class SubscriptionGone(PermanentIntegrationError):
    """The push service says the subscription no longer exists (404/410)."""
