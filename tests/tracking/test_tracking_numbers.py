"""Carrier names and tracking numbers: aliases, check digits, ranked candidates.

Valid/invalid numbers: carriers' documentation and jkeen/tracking_number_data (MIT).
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tracking.tracking_numbers import (
    candidate_carriers,
    carrier_slug,
    normalise_carrier,
    s10_check_digit,
    validate,
)


@pytest.mark.parametrize(
    ("name", "slug"),
    [
        ("United Parcel Service", "ups"),
        ("UPS", "ups"),
        ("FedEx Ground", "fedex"),
        ("FedEx Ground (Home Delivery)", "fedex"),
        ("DHL Express", "dhl"),
        ("USPS", "usps"),
        ("U.S. Postal Service", "usps"),
        ("Japan Post", "japan_post"),
        ("日本郵便", "japan_post"),
        ("Yamato", "yamato"),
        ("ヤマト運輸", "yamato"),
        ("Sagawa Express", "sagawa"),
        ("佐川急便", "sagawa"),
        ("Royal Mail", "royal_mail"),
        ("japan-post", "japan_post"),
        ("Correos de México", "correos_mexico"),  # not Spain's Correos, despite the prefix
    ],
)
def test_carrier_names_normalise_to_our_slugs(name, slug):
    assert normalise_carrier(name) == slug


def test_unknown_carrier_is_none_but_keeps_a_stable_slug():
    assert normalise_carrier("Bob's Bikes Courier") is None
    assert carrier_slug("Bob's Bikes Courier") == "bob_s_bikes_courier"


def test_s10_check_digit_follows_the_upu_weights():
    # 1*8+2*6+3*4+4*2+5*3+6*5+7*9+8*7 = 204; 204 % 11 = 6; 11 - 6 = 5
    assert s10_check_digit("12345678") == 5
    assert s10_check_digit("00000001") == 4  # 7 % 11 = 7 -> 11 - 7
    assert s10_check_digit("00000008") == 0  # 56 % 11 = 1 -> 10, written as 0
    assert s10_check_digit("00000000") == 5  # 0 % 11 = 0 -> 11, written as 5


@pytest.mark.parametrize(
    ("number", "carrier"),
    [
        ("AA123456785JP", "japan_post"),
        ("RR123456785GB", "royal_mail"),
        ("EE123456785US", "usps"),
        ("RR123456785KR", "korea_post"),
        ("RR123456785FI", "post_fi"),  # an operator we have no slug for keeps its country
        ("1Z5R89390357567127", "ups"),
        ("1Z879E930346834440", "ups"),
        ("1Z1442YY7229014688", "ups"),
        ("9400 1112 0108 0805 4830 16", "usps"),
        ("9405803699300124287899", "usps"),
        ("4201028200009261290113185417468510", "usps"),
        ("986578788855", "fedex"),
        ("477179081230", "fedex"),
        ("0414 4176 0228 964", "fedex"),
        ("9611020987654312345672", "fedex"),
        ("1001921334250001000300779017972697", "fedex"),
        ("3318810025", "dhl"),
        ("JJD0099999999", "dhl"),
        ("TBA123456789012", "amazon"),
    ],
)
def test_best_candidate_is_the_issuing_carrier(number, carrier):
    candidates = candidate_carriers(number)
    assert candidates, number
    assert candidates[0].carrier == carrier
    assert candidates == sorted(candidates, key=lambda c: c.confidence, reverse=True)


@pytest.mark.parametrize(
    "number",
    ["AA123456784JP", "1Z5R89390357567128", "3318810034", "9400111201080805483017"],
)
def test_a_wrong_check_digit_matches_no_checked_format(number):
    assert all(c.confidence < 0.5 for c in candidate_carriers(number))


def test_japanese_12_digit_numbers_rank_every_7dr_carrier():
    # 44556677889 % 7 == 3: valid for Yamato, Sagawa and Japan Post alike.
    carriers = [c.carrier for c in candidate_carriers("4455-6677-8893")]
    assert {"yamato", "sagawa", "japan_post"} <= set(carriers)
    assert "yamato" not in [c.carrier for c in candidate_carriers("445566778894")]


def test_validate_explains_what_is_wrong():
    assert validate("ups", "1z5r 8939 0357 5671 27").valid
    assert validate("UPS", "1Z5R89390357567127").number == "1Z5R89390357567127"
    bad_digit = validate("ups", "1Z5R89390357567128")
    assert not bad_digit.valid
    assert "check digit" in bad_digit.reason
    wrong_shape = validate("usps", "1Z5R89390357567127")
    assert not wrong_shape.valid
    assert "not a usps number format" in wrong_shape.reason
    assert validate("japan_post", "AA123456785JP").valid
    assert not validate("japan_post", "AA123456786JP").valid
    assert not validate("fedex", "").valid
    assert validate("Some Local Courier", "ABC123456").valid  # unknown formats accepted as typed


@settings(max_examples=300, deadline=None)
@given(number=st.text(max_size=40) | st.from_regex(r"[0-9A-Z \-]{6,36}", fullmatch=True))
def test_any_text_gives_ranked_candidates_and_a_validation_never_an_error(number):
    candidates = candidate_carriers(number)
    assert all(0 < c.confidence <= 1 for c in candidates)
    assert [c.confidence for c in candidates] == sorted(
        (c.confidence for c in candidates), reverse=True
    )
    assert len({c.carrier for c in candidates}) == len(candidates)
    for carrier in ("ups", "fedex", "usps", "dhl", "japan_post", "yamato", "unknown-co"):
        result = validate(carrier, number)
        assert result.valid or result.reason


def test_digits_of_other_scripts_are_not_tracking_numbers():
    arabic_indic = "٣٣١٨٨١٠٠٢٥"  # 3318810025 in Arabic-Indic digits
    assert candidate_carriers(arabic_indic) == []
    assert not validate("dhl", arabic_indic).valid
