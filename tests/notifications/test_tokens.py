"""Link tokens: signed with a cached signer, the same tokens `signing.dumps` gives."""

from __future__ import annotations

from datetime import UTC, datetime

import time_machine
from django.core import signing

from notifications.tokens import (
    TRACKING_SALT,
    UNSUBSCRIBE_SALT,
    tracking_token,
    tracking_token_read,
    unsubscribe_token,
    unsubscribe_token_read,
)


def test_tokens_are_exactly_what_signing_dumps_gives():
    with time_machine.travel(datetime(2026, 11, 24, 15, 0, tzinfo=UTC), tick=False):
        assert tracking_token(merchant_slug="aurora", tracking_ref="pub-1") == signing.dumps(
            {"m": "aurora", "s": "pub-1"}, salt=TRACKING_SALT
        )
        token = unsubscribe_token(
            merchant_id=7,
            channel="email",
            address="名前@example.jp",
            purpose="marketing",
            message_key="k" * 64,
            language="ja",
        )
        expected = {
            "m": 7,
            "c": "email",
            "a": "名前@example.jp",
            "p": "marketing",
            "k": "k" * 64,
            "l": "ja",
        }
        assert token == signing.dumps(expected, salt=UNSUBSCRIBE_SALT)


def test_a_new_secret_key_signs_new_tokens(settings):
    settings.SECRET_KEY = "first-secret-key-" + "x" * 40
    first = tracking_token(merchant_slug="aurora", tracking_ref="pub-1")
    settings.SECRET_KEY = "second-secret-key-" + "y" * 40
    second = tracking_token(merchant_slug="aurora", tracking_ref="pub-1")
    assert first != second
    assert tracking_token_read(merchant_slug="aurora", token=second) == "pub-1"
    claim = unsubscribe_token_read(
        unsubscribe_token(
            merchant_id=1,
            channel="sms",
            address="+14155550123",
            purpose="transactional",
            message_key="",
        )
    )
    assert (claim.merchant_id, claim.address, claim.language) == (1, "+14155550123", "")
