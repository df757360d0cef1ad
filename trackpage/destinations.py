"""Where tracking-page links may lead: the merchant's own domains and the carriers' sites.

The recording redirect refuses any other host (no open redirect, even for a correctly signed
link), and adds UTM parameters only on the merchant's own domains.
"""

from __future__ import annotations

from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

from postpurchase.models import Merchant

# The carrier's own tracking page, where the shopper finds its delivery options (reschedule,
# hold at a location, redirect). Only carriers with a stable public URL are listed.
CARRIER_TRACKING_URLS: dict[str, str] = {
    "ups": "https://www.ups.com/track?tracknum={number}",
    "fedex": "https://www.fedex.com/fedextrack/?trknbr={number}",
    "usps": "https://tools.usps.com/go/TrackConfirmAction?tLabels={number}",
    "dhl": "https://www.dhl.com/global-en/home/tracking/tracking-express.html?tracking-id={number}",
    "japanpost": "https://trackings.post.japanpost.jp/services/srv/search/direct?reqCodeNo1={number}",
    "yamato": "https://toi.kuronekoyamato.co.jp/cgi-bin/tneko?number01={number}",
}
CARRIER_NAMES: dict[str, str] = {
    "ups": "UPS",
    "fedex": "FedEx",
    "usps": "USPS",
    "dhl": "DHL",
    "japanpost": "Japan Post",
    "yamato": "Yamato Transport",
}
CARRIER_HOSTS = frozenset(urlsplit(url).hostname or "" for url in CARRIER_TRACKING_URLS.values())


def carrier_name(carrier: str) -> str:
    return CARRIER_NAMES.get(carrier, carrier.upper())


def carrier_tracking_url(*, carrier: str, tracking_number: str) -> str | None:
    template = CARRIER_TRACKING_URLS.get(carrier)
    if template is None:
        return None
    return template.format(number=quote(tracking_number, safe=""))


def _host_of(url: str) -> str:
    return (urlsplit(url).hostname or "").lower().rstrip(".")


def merchant_hosts(merchant: Merchant) -> set[str]:
    """The hosts that are the merchant's own (its website's domain covers its subdomains)."""
    hosts = {_host_of(merchant.website), _host_of(merchant.support_url)}
    if merchant.custom_domain:
        hosts.add(merchant.custom_domain.lower().rstrip("."))
    hosts.discard("")
    return hosts | {host.removeprefix("www.") for host in hosts}


def is_merchant_url(merchant: Merchant, url: str) -> bool:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return False
    host = _host_of(url)
    return any(host == own or host.endswith("." + own) for own in merchant_hosts(merchant))


def is_carrier_url(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme == "https" and _host_of(url) in CARRIER_HOSTS


def is_allowed_destination(merchant: Merchant, url: str) -> bool:
    return is_merchant_url(merchant, url) or is_carrier_url(url)


def with_utm(url: str, *, campaign: str, content: str) -> str:
    """`url` with utm_source/medium/campaign/content set (values already there are kept)."""
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query, keep_blank_values=True))
    for key, value in (
        ("utm_source", "tracking_page"),
        ("utm_medium", "post_purchase"),
        ("utm_campaign", campaign),
        ("utm_content", content),
    ):
        query.setdefault(key, value)
    return urlunsplit(parts._replace(query=urlencode(query)))
