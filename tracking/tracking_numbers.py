"""Carrier names and tracking numbers: recognise, normalise, validate, and guess the carrier.

Tracking numbers are recycled by carriers, so a number alone never identifies a shipment (the
shipment's identity is carrier + number + a ship-date window); this module only says which
carriers a number's *format* fits, best first, so the caller can pick one and let a person
override it.

Check-digit rules, each cited where it is used below. Test numbers in tests/tracking/
test_tracking_numbers.py come from the carriers' documentation and the MIT-licensed
jkeen/tracking_number_data collection.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass

# Our carrier slugs and the names carriers, aggregators and stores use for them.
CARRIER_ALIASES: dict[str, tuple[str, ...]] = {
    "ups": ("ups", "united parcel service", "ups ground", "ups mail innovations", "ups surepost"),
    "fedex": (
        "fedex",
        "fed ex",
        "federal express",
        "fedex ground",
        "fedex express",
        "fedex home delivery",
        "fedex smartpost",
        "fedex ground economy",
        "fdxe",
        "fdxg",
        "fxsp",
    ),
    "usps": (
        "usps",
        "united states postal service",
        "us postal service",
        "u s postal service",
        "usps first class mail",
        "usps priority mail",
        "usps ground advantage",
    ),
    "dhl": ("dhl", "dhl express", "dhl worldwide express", "dhl express worldwide"),
    "dhl_ecommerce": (
        "dhl ecommerce",
        "dhl e commerce",
        "dhl global mail",
        "dhl ecommerce solutions",
    ),
    "dhl_parcel_de": ("dhl paket", "dhl parcel germany", "dhl parcel de", "deutsche post dhl"),
    "deutsche_post": ("deutsche post",),
    "japan_post": (
        "japan post",
        "japanpost",
        "日本郵便",
        "ゆうパック",
        "yu pack",
        "yupack",
        "jp post",
    ),
    "yamato": (
        "yamato",
        "yamato transport",
        "ヤマト運輸",
        "ヤマト",
        "クロネコヤマト",
        "kuroneko yamato",
    ),
    "sagawa": ("sagawa", "sagawa express", "佐川急便", "佐川"),
    "royal_mail": ("royal mail", "royalmail", "parcelforce", "parcelforce worldwide"),
    "canada_post": ("canada post", "postes canada", "canadapost"),
    "australia_post": ("australia post", "auspost", "startrack"),
    "la_poste": ("la poste", "colissimo", "la poste colissimo"),
    "postnl": ("postnl", "post nl"),
    "china_post": ("china post", "中国邮政", "china ems", "ems china"),
    "ontrac": ("ontrac",),
    "lasership": ("lasership", "laser ship"),
    "amazon": ("amazon", "amazon logistics", "amazon shipping", "amzl"),
    "dpd": ("dpd",),
    "gls": ("gls", "general logistics systems"),
    "purolator": ("purolator",),
    "korea_post": ("korea post", "우체국", "epost korea"),
    "hongkong_post": ("hongkong post", "hong kong post"),
    "singpost": ("singpost", "singapore post"),
    "poste_italiane": ("poste italiane",),
    "correos": ("correos", "correos de españa", "correos espana"),
    "postnord": ("postnord", "postnord sweden", "postnord denmark"),
    "swiss_post": ("swiss post", "die post", "la poste suisse"),
    "bpost": ("bpost", "bpost belgium"),
    "an_post": ("an post",),
    "nz_post": ("nz post", "new zealand post"),
    "india_post": ("india post",),
    "correios": ("correios", "correios brazil"),
    "correos_mexico": ("correos de mexico", "correos de méxico", "sepomex"),
    "chunghwa_post": ("chunghwa post", "中華郵政", "taiwan post"),
}

# UPU member postal operators by the S10 country suffix, for postal numbers.
S10_OPERATORS: dict[str, str] = {
    "US": "usps",
    "JP": "japan_post",
    "GB": "royal_mail",
    "CA": "canada_post",
    "AU": "australia_post",
    "DE": "deutsche_post",
    "FR": "la_poste",
    "NL": "postnl",
    "CN": "china_post",
    "KR": "korea_post",
    "HK": "hongkong_post",
    "SG": "singpost",
    "IT": "poste_italiane",
    "ES": "correos",
    "SE": "postnord",
    "DK": "postnord",
    "CH": "swiss_post",
    "BE": "bpost",
    "IE": "an_post",
    "NZ": "nz_post",
    "IN": "india_post",
    "BR": "correios",
    "MX": "correos_mexico",
    "TW": "chunghwa_post",
}


def s10_operator(country: str) -> str:
    """Our slug for the postal operator of an S10 country suffix ("post_xx" when not listed)."""
    return S10_OPERATORS.get(country, f"post_{country.lower()}")


def _name_key(name: str) -> str:
    folded = unicodedata.normalize("NFKC", name).casefold()
    return " ".join(re.sub(r"[^\w]+", " ", folded).split())


_ALIAS_INDEX = {
    _name_key(alias): slug for slug, names in CARRIER_ALIASES.items() for alias in names
}
_ALIAS_INDEX.update({_name_key(slug): slug for slug in CARRIER_ALIASES})


def normalise_carrier(name: str) -> str | None:
    """Our slug for a carrier name ("United Parcel Service" -> "ups"), or None if unknown."""
    key = _name_key(name)
    if not key:
        return None
    if key in _ALIAS_INDEX:
        return _ALIAS_INDEX[key]
    # "FedEx Ground (Home Delivery)", "DHL Express Worldwide Document", "Yamato Transport Co., Ltd."
    best = max(
        (alias for alias in _ALIAS_INDEX if key.startswith(alias + " ")),
        key=len,
        default=None,
    )
    return _ALIAS_INDEX[best] if best else None


def carrier_slug(name: str) -> str:
    """Our slug for a known carrier, else a stable slug of the name itself (kept, not dropped)."""
    known = normalise_carrier(name)
    if known:
        return known
    return "_".join(_name_key(name).split()) or "unknown"


def normalise_number(number: str) -> str:
    """A tracking number without spaces, hyphens or dots, upper-cased (full-width folded)."""
    folded = unicodedata.normalize("NFKC", number)
    return re.sub(r"[\s\-.]", "", folded).upper()


# --- Check digits ------------------------------------------------------------------------------


def gs1_mod10_ok(digits: str) -> bool:
    """GS1 mod 10: weights 3,1,... from the rightmost data digit; check = (10 - sum % 10) % 10.

    Used by USPS IMpb (USPS Publication 199, section 4), FedEx Ground 15-digit, FedEx
    SmartPost/Ground Economy and SSCC-18 numbers.
    """
    body, check = digits[:-1], int(digits[-1])
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(body)))
    return (10 - total % 10) % 10 == check


def weighted_mod11_ok(digits: str, weights: tuple[int, ...]) -> bool:
    """Sum of digit x weight, mod 11, mod 10 equals the check digit (FedEx Express)."""
    body, check = digits[:-1], int(digits[-1])
    total = sum(int(d) * w for d, w in zip(body[-len(weights) :], weights, strict=True))
    return total % 11 % 10 == check


def mod7_ok(digits: str) -> bool:
    """The check digit is the rest of the other digits (as one number) divided by 7 ("7DR")."""
    return int(digits[:-1]) % 7 == int(digits[-1])


def ups_1z_ok(number: str) -> bool:
    """UPS 1Z: the 15 characters after "1Z", letters as (ord - 63) mod 10 (A=2 ... Z=7), odd
    positions x1 and even positions x2, check = (10 - sum % 10) % 10 (UPS tracking number spec).
    """
    body, check = number[2:17], number[17]
    values = [int(c) if c.isdigit() else (ord(c) - 63) % 10 for c in body]
    total = sum(v * (2 if i % 2 else 1) for i, v in enumerate(values))
    return str((10 - total % 10) % 10) == check


def s10_check_digit(serial: str) -> int:
    """UPU S10 (UPU standard S10, section 5.2): weights 8,6,4,2,3,5,9,7 over the 8-digit
    serial; check = 11 - sum % 11, with 10 -> 0 and 11 -> 5."""
    total = sum(int(d) * w for d, w in zip(serial, (8, 6, 4, 2, 3, 5, 9, 7), strict=True))
    check = 11 - total % 11
    return {10: 0, 11: 5}.get(check, check)


def s10_ok(number: str) -> bool:
    return s10_check_digit(number[2:10]) == int(number[10])


_FEDEX_12_WEIGHTS = (3, 1, 7, 3, 1, 7, 3, 1, 7, 3, 1)
_FEDEX_34_WEIGHTS = (1, 7, 3, 1, 7, 3, 1, 7, 3, 1, 7, 3, 1)


@dataclass(frozen=True)
class NumberFormat:
    carrier: str
    name: str
    pattern: re.Pattern[str]
    check: Callable[[str], bool] | None  # None: the format has no check digit
    confidence: float  # how strongly a match (with a passing check digit) points to the carrier


def _fmt(
    carrier: str, name: str, pattern: str, check: Callable[[str], bool] | None, confidence: float
) -> NumberFormat:
    # ASCII only: `\d` would otherwise accept other scripts' digits, which no carrier prints.
    return NumberFormat(carrier, name, re.compile(pattern, re.ASCII), check, confidence)


NUMBER_FORMATS: tuple[NumberFormat, ...] = (
    _fmt("ups", "UPS 1Z", r"1Z[0-9A-Z]{16}", ups_1z_ok, 0.99),
    _fmt("ups", "UPS Mail Innovations", r"MI\d{6}[0-9A-Z]{1,22}", None, 0.5),
    # UPU S10: two service letters, 8 digits, check digit, ISO country of the origin operator.
    _fmt("postal_s10", "UPU S10", r"[A-Z]{2}\d{9}[A-Z]{2}", s10_ok, 0.97),
    # USPS IMpb: 22 digits starting 9[1-5] (Pub. 199), 20-digit legacy, or with "420"+ZIP routing.
    _fmt("usps", "USPS IMpb", r"9[1-5]\d{20}", gs1_mod10_ok, 0.9),
    _fmt("usps", "USPS IMpb 26", r"9[1-5]\d{24}", gs1_mod10_ok, 0.85),
    _fmt(
        "usps",
        "USPS IMpb routed",
        r"420\d{5}(?:\d{4})?9[1-5]\d{20}",
        lambda n: gs1_mod10_ok(n[-22:]),
        0.9,
    ),
    _fmt("usps", "USPS 20", r"\d{20}", gs1_mod10_ok, 0.5),
    _fmt("fedex", "FedEx SmartPost", r"92\d{20}", gs1_mod10_ok, 0.4),
    _fmt(
        "fedex",
        "FedEx Express (12)",
        r"\d{12}",
        lambda n: weighted_mod11_ok(n, _FEDEX_12_WEIGHTS),
        0.7,
    ),
    _fmt("fedex", "FedEx Ground (15)", r"\d{15}", gs1_mod10_ok, 0.75),
    _fmt("fedex", "FedEx Ground 96 (22)", r"96\d{20}", lambda n: gs1_mod10_ok(n[-15:]), 0.85),
    _fmt("fedex", "FedEx Ground SSCC-18", r"00\d{16}", gs1_mod10_ok, 0.6),
    _fmt(
        "fedex",
        "FedEx Express (34)",
        r"100\d{31}",
        lambda n: weighted_mod11_ok(n[-14:], _FEDEX_34_WEIGHTS),
        0.8,
    ),
    _fmt("dhl", "DHL Express waybill", r"\d{10}", mod7_ok, 0.65),
    _fmt("dhl", "DHL Express piece ID", r"J[A-Z]{2,3}\d{9,10}", None, 0.8),
    _fmt("dhl_ecommerce", "DHL eCommerce", r"(?:GM|LX|RX|UV)\d{10,39}", None, 0.7),
    _fmt("dhl_parcel_de", "DHL Paket", r"00340\d{15}|\d{12}|\d{20}", None, 0.15),
    # Japanese domestic 12-digit numbers: the check digit is the first 11 digits mod 7 ("7DR")
    # for Yamato (宅急便), Sagawa (飛脚宅配便) and Japan Post (ゆうパック) alike.
    _fmt("yamato", "Yamato 12", r"\d{12}", mod7_ok, 0.45),
    _fmt("sagawa", "Sagawa 12", r"\d{12}", mod7_ok, 0.4),
    _fmt("japan_post", "Japan Post 12", r"\d{12}", mod7_ok, 0.35),
    _fmt("amazon", "Amazon Logistics", r"TBA\d{12}", None, 0.95),
    _fmt("ontrac", "OnTrac", r"[CD]\d{14}", None, 0.8),
    _fmt("lasership", "LaserShip", r"1LS\d{12,15}|L[A-Z]\d{8}", None, 0.7),
    _fmt("canada_post", "Canada Post 16", r"\d{16}", None, 0.3),
    _fmt("royal_mail", "Royal Mail 16", r"[A-Z]{2}\d{14}", None, 0.2),
)


@dataclass(frozen=True)
class Candidate:
    carrier: str
    confidence: float
    format_name: str


def candidate_carriers(number: str) -> list[Candidate]:
    """Carriers whose number formats (check digit included) fit `number`, best first."""
    cleaned = normalise_number(number)
    best: dict[str, Candidate] = {}
    for fmt in NUMBER_FORMATS:
        if not fmt.pattern.fullmatch(cleaned) or (fmt.check and not fmt.check(cleaned)):
            continue
        carrier = fmt.carrier
        if carrier == "postal_s10":
            carrier = s10_operator(cleaned[-2:])
        candidate = Candidate(carrier, fmt.confidence, fmt.name)
        if carrier not in best or best[carrier].confidence < candidate.confidence:
            best[carrier] = candidate
    return sorted(best.values(), key=lambda c: c.confidence, reverse=True)


@dataclass(frozen=True)
class Validation:
    valid: bool
    number: str  # normalised
    reason: str = ""  # why not, for the person who typed it


def validate(carrier: str, number: str) -> Validation:
    """Whether `number` is well formed for `carrier` (format and check digit where it has one)."""
    cleaned = normalise_number(number)
    slug = normalise_carrier(carrier) or carrier
    if not cleaned:
        return Validation(False, cleaned, "the tracking number is empty")
    if not re.fullmatch(r"[0-9A-Z]{6,40}", cleaned):
        return Validation(False, cleaned, "a tracking number has 6 to 40 letters and digits")
    formats = [
        f
        for f in NUMBER_FORMATS
        if f.carrier == slug or (f.carrier == "postal_s10" and s10_operator(cleaned[-2:]) == slug)
    ]
    if not formats:
        return Validation(True, cleaned)  # a carrier whose formats we do not know: accept as typed
    shaped = [f for f in formats if f.pattern.fullmatch(cleaned)]
    if not shaped:
        names = ", ".join(sorted({f.name for f in formats}))
        return Validation(False, cleaned, f"not a {slug} number format ({names})")
    if any(f.check is None or f.check(cleaned) for f in shaped):
        return Validation(True, cleaned)
    return Validation(False, cleaned, f"the check digit does not match ({shaped[0].name})")
