"""Reading an inbound SMS for opt-out and opt-in keywords (CTIA / Twilio Advanced Opt-Out set).

An exact keyword (any case, surrounding whitespace ignored) acts, as carriers and Twilio do; a
message that only looks like one ("stop.", "Stop please", "STOPP") is flagged for a person.
"""

from __future__ import annotations

import re
import unicodedata
from enum import StrEnum

OPT_OUT_KEYWORDS = frozenset(
    {"STOP", "STOPALL", "UNSUBSCRIBE", "END", "QUIT", "CANCEL", "REVOKE", "OPTOUT"}
)
OPT_IN_KEYWORDS = frozenset({"START", "YES", "UNSTOP"})
_CLOSE_PREFIXES = ("STOP", "UNSUB", "OPTOUT")
_JAPANESE_STOP = ("停止", "配信停止", "解除")


class KeywordKind(StrEnum):
    OPT_OUT = "opt_out"
    OPT_IN = "opt_in"
    REVIEW = "review"
    OTHER = "other"


def _normalise(body: str) -> str:
    return unicodedata.normalize("NFKC", body).upper().strip()


def classify_sms(body: str) -> KeywordKind:
    """What an inbound SMS asks for: opt out, opt back in, a person's look, or nothing."""
    text = _normalise(body)
    if text in OPT_OUT_KEYWORDS:
        return KeywordKind.OPT_OUT
    if text in OPT_IN_KEYWORDS:
        return KeywordKind.OPT_IN
    words = re.sub(r"[\s\W_]+", " ", text).split()
    for word in words:
        if word in OPT_OUT_KEYWORDS or word.startswith(_CLOSE_PREFIXES):
            return KeywordKind.REVIEW
        if any(_one_edit_apart(word, kw) for kw in OPT_OUT_KEYWORDS if len(kw) >= 4):
            return KeywordKind.REVIEW
    if "OPT OUT" in " ".join(words) or any(word in text for word in _JAPANESE_STOP):
        return KeywordKind.REVIEW
    return KeywordKind.OTHER


def _one_edit_apart(a: str, b: str) -> bool:
    """True when one insertion, deletion, substitution or swap turns `a` into `b` (a != b)."""
    if a == b or abs(len(a) - len(b)) > 1:
        return False
    if len(a) == len(b):
        diff = [i for i, (x, y) in enumerate(zip(a, b, strict=True)) if x != y]
        if len(diff) == 1:
            return True
        return (
            len(diff) == 2
            and diff[1] == diff[0] + 1
            and a[diff[0]] == b[diff[1]]
            and a[diff[1]] == b[diff[0]]
        )
    short, long_ = (a, b) if len(a) < len(b) else (b, a)
    return any(long_[:i] + long_[i + 1 :] == short for i in range(len(long_)))
