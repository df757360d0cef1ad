"""Reasons read from a carrier's free text, for exceptions whose code says only "exception".

Carriers put the why of an exception in text ("Incorrect address", "Customs clearance delay");
these phrases, matched case-insensitively in order, give our reason and whether the shopper must
act. Used only to refine an event already mapped to an exception, failed attempt or delay.
"""

from __future__ import annotations

from tracking.domain import ExceptionReason

R = ExceptionReason

# (phrase, reason, action_required), most specific first.
_PHRASES: tuple[tuple[str, ExceptionReason, bool], ...] = (
    ("damage", R.CARRIER_DAMAGED, False),
    ("lost", R.CARRIER_LOST, False),
    ("missort", R.CARRIER_MISSORTED, False),
    ("mis-sort", R.CARRIER_MISSORTED, False),
    ("missent", R.CARRIER_MISSORTED, False),
    ("misrout", R.CARRIER_MISSORTED, False),
    ("incorrect address", R.CONSIGNEE_ADDRESS_INCORRECT, True),
    ("address is incorrect", R.CONSIGNEE_ADDRESS_INCORRECT, True),
    ("address was incorrect", R.CONSIGNEE_ADDRESS_INCORRECT, True),
    ("incomplete address", R.CONSIGNEE_ADDRESS_INCORRECT, True),
    ("insufficient address", R.CONSIGNEE_ADDRESS_INCORRECT, True),
    ("address correction", R.CONSIGNEE_ADDRESS_INCORRECT, True),
    ("undeliverable as addressed", R.CONSIGNEE_ADDRESS_INCORRECT, True),
    ("addressee unknown", R.CONSIGNEE_ADDRESS_INCORRECT, True),
    ("refused", R.CONSIGNEE_REFUSED, False),
    ("rejected", R.CONSIGNEE_REFUSED, False),
    ("business closed", R.CONSIGNEE_BUSINESS_CLOSED, False),
    ("business was closed", R.CONSIGNEE_BUSINESS_CLOSED, False),
    ("not available", R.CONSIGNEE_NOT_HOME, False),
    ("not home", R.CONSIGNEE_NOT_HOME, False),
    ("no one available", R.CONSIGNEE_NOT_HOME, False),
    ("recipient absent", R.CONSIGNEE_NOT_HOME, False),
    ("no authorized recipient", R.CONSIGNEE_NOT_HOME, False),
    ("duties", R.CUSTOMS_DUTIES_UNPAID, True),
    ("import tax", R.CUSTOMS_DUTIES_UNPAID, True),
    ("customs documents", R.CUSTOMS_DOCUMENTS, True),
    ("documentation", R.CUSTOMS_DOCUMENTS, True),
    ("paperwork", R.CUSTOMS_DOCUMENTS, True),
    ("brokerage", R.CUSTOMS_DOCUMENTS, True),
    ("customs", R.CUSTOMS_DELAY, False),
    ("clearance", R.CUSTOMS_DELAY, False),
    ("weather", R.WEATHER, False),
    ("natural disaster", R.WEATHER, False),
    ("mechanical", R.CARRIER_VEHICLE, False),
    ("vehicle", R.CARRIER_VEHICLE, False),
    ("capacity", R.CARRIER_CAPACITY, False),
    ("volume", R.CARRIER_CAPACITY, False),
    ("shipper", R.RETAILER, False),
    ("sender", R.RETAILER, False),
)


def reason_from_text(*texts: str) -> tuple[ExceptionReason, bool] | None:
    """The reason and action flag a carrier's text states, or None when it states none."""
    haystack = " ".join(texts).casefold()
    for phrase, reason, action in _PHRASES:
        if phrase in haystack:
            return reason, action
    return None
