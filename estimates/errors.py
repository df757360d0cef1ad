"""Error codes of the estimates app."""

from enum import StrEnum


class EstimateErrorCode(StrEnum):
    WAREHOUSE_NOT_FOUND = "warehouse_not_found"
    PRODUCT_NOT_FOUND = "product_not_found"
    NO_WAREHOUSE = "no_warehouse"
    UNKNOWN_COUNTRY = "unknown_country"
    NOT_ENOUGH_HISTORY = "not_enough_history"
    ARTIFACT_SCHEMA_MISMATCH = "artifact_schema_mismatch"
    ARTIFACT_UNTRUSTED = "artifact_untrusted"
    ARTIFACT_CORRUPT = "artifact_corrupt"
    VERSION_NOT_BETTER = "version_not_better"
    VERSION_NOT_FOUND = "version_not_found"
