"""Error families shared by every app.

A `DomainError` is a broken business rule, carrying a named code; integrations raise
`TransientIntegrationError` (retry) or `PermanentIntegrationError` (record and stop).
"""

from enum import StrEnum


class DomainError(Exception):
    """A business rule said no. `code` is a member of an app's error-code enum."""

    def __init__(self, code: StrEnum | str, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.code = str(code)
        self.message = message
        self.field = field


class NotFoundError(DomainError):
    """The object does not exist for this merchant (answered as 404, never 403)."""


class TransientIntegrationError(Exception):
    """A timeout, 5xx or 429 from an outside system: worth retrying."""

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class PermanentIntegrationError(Exception):
    """A 4xx or invalid input from an outside system: record and stop."""


class PlatformErrorCode(StrEnum):
    MERCHANT_NOT_FOUND = "merchant_not_found"
    API_KEY_INVALID = "api_key_invalid"
    API_KEY_REVOKED = "api_key_revoked"
    SCOPE_MISSING = "scope_missing"
    IDEMPOTENCY_KEY_REUSED = "idempotency_key_reused"
    IDEMPOTENCY_KEY_IN_FLIGHT = "idempotency_key_in_flight"
