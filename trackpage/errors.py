"""Error codes of the tracking page."""

from enum import StrEnum


class TrackPageErrorCode(StrEnum):
    NOT_FOUND = "tracking_page_not_found"
    LINK_INVALID = "tracking_link_invalid"
    LINK_EXPIRED = "tracking_link_expired"
    LINK_REVOKED = "tracking_link_revoked"
    RATE_LIMITED = "tracking_lookup_rate_limited"
    RATING_NOT_DELIVERED = "rating_not_delivered"
    RATING_INVALID = "rating_invalid"
    REDIRECT_REFUSED = "redirect_refused"
    BLOCK_INVALID = "page_block_invalid"
