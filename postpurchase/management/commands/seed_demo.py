"""`manage.py seed_demo`: a demo store to click through, safe to run again.

Two storefronts of one brand, as two merchants (each tenant has one currency, one order-number
sequence and one default language, as a real store split by market does):

* "Northwind Supply" (`northwind`): English, USD, America/New_York, ships in the US;
* "北風商店" (`northwind-jp`): Japanese, JPY, Asia/Tokyo, ships in Japan.

Both offer English and Japanese. One staff login (`demo`) owns both and is a superuser, so it opens
the merchant console and the ops site. Its password is generated on the first run and kept in
`var/demo-credentials.json` (git-ignored), so every run prints the same one. An API key for the
US store is printed when it is issued; reruns show only its prefix (`--new-api-key` issues another).

Everything goes through the apps' services (`commerce.services.order_upsert`,
`tracking.services.shipment_create`, `tracking.normalisation.shipment_record_events`), so the
demo publishes the same domain events a real store would. Each step is a small function; later
capabilities add theirs to `SEED_STEPS`.
"""

from __future__ import annotations

import json
import os
import random
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandParser
from django.db import transaction
from django.utils import timezone
from tqdm import tqdm

from commerce.models import Order
from commerce.services import (
    AddressInput,
    CustomerInput,
    OrderInput,
    OrderLineInput,
    order_upsert,
)
from postpurchase.api_keys import api_key_create
from postpurchase.models import ApiKey, ApiScope, Merchant, MerchantMembership, MerchantRole
from tracking.domain import ExceptionReason, Location, ParsedEvent, ShipmentStatus
from tracking.models import EventSource, Shipment
from tracking.normalisation import shipment_record_events
from tracking.services import shipment_create

DEMO_USERNAME = "demo"
CREDENTIALS_FILE = "demo-credentials.json"
API_KEY_NAME = "Demo storefront"


# --- The demo's data -----------------------------------------------------------------------


@dataclass(frozen=True)
class Storefront:
    slug: str
    name: str
    language: str
    currency: str
    country: str
    time_zone: str
    website: str
    support_email: str
    primary_colour: str
    accent_colour: str
    font_family: str
    order_count: int
    carriers: Sequence[tuple[str, str]]  # (carrier code, service)
    origin: Location
    customers: Sequence[dict[str, str]] = field(default_factory=tuple)
    products: Sequence[dict[str, Any]] = field(default_factory=tuple)


US = Storefront(
    slug="northwind",
    name="Northwind Supply",
    language="en",
    currency="USD",
    country="US",
    time_zone="America/New_York",
    website="https://northwind.example",
    support_email="help@northwind.example",
    primary_colour="#1f4bd8",
    accent_colour="#0f9d58",
    font_family="system-ui, sans-serif",
    order_count=24,
    carriers=[("ups", "Ground"), ("fedex", "Home Delivery"), ("usps", "Priority Mail")],
    origin=Location(city="Secaucus", region="NJ", postcode="07094", country="US"),
    customers=[
        {
            "first": "Emma",
            "last": "Johnson",
            "phone": "+12125550123",
            "city": "New York",
            "region": "NY",
            "postcode": "10001",
            "street": "350 W 31st St",
        },
        {
            "first": "Liam",
            "last": "Garcia",
            "phone": "+13125550147",
            "city": "Chicago",
            "region": "IL",
            "postcode": "60614",
            "street": "2134 N Clark St",
        },
        {
            "first": "Olivia",
            "last": "Smith",
            "phone": "+14155550162",
            "city": "San Francisco",
            "region": "CA",
            "postcode": "94110",
            "street": "845 Valencia St",
        },
        {
            "first": "Noah",
            "last": "Williams",
            "phone": "+16175550188",
            "city": "Boston",
            "region": "MA",
            "postcode": "02116",
            "street": "120 Dartmouth St",
        },
        {
            "first": "Ava",
            "last": "Brown",
            "phone": "+15125550109",
            "city": "Austin",
            "region": "TX",
            "postcode": "78704",
            "street": "1500 S Congress Ave",
        },
        {
            "first": "Lucas",
            "last": "Martinez",
            "phone": "+13055550131",
            "city": "Miami",
            "region": "FL",
            "postcode": "33139",
            "street": "900 Ocean Dr",
        },
        {
            "first": "Sophia",
            "last": "Davis",
            "phone": "+12065550154",
            "city": "Seattle",
            "region": "WA",
            "postcode": "98122",
            "street": "1423 E Pike St",
        },
        {
            "first": "Mason",
            "last": "Miller",
            "phone": "+13035550172",
            "city": "Denver",
            "region": "CO",
            "postcode": "80205",
            "street": "2900 Larimer St",
        },
        {
            "first": "Isabella",
            "last": "Wilson",
            "phone": "+15035550195",
            "city": "Portland",
            "region": "OR",
            "postcode": "97214",
            "street": "1130 SE Hawthorne Blvd",
        },
        {
            "first": "Ethan",
            "last": "Anderson",
            "phone": "+16125550116",
            "city": "Minneapolis",
            "region": "MN",
            "postcode": "55408",
            "street": "3001 Hennepin Ave",
        },
        {
            "first": "Mia",
            "last": "Thomas",
            "phone": "+14045550128",
            "city": "Atlanta",
            "region": "GA",
            "postcode": "30308",
            "street": "675 Ponce De Leon Ave NE",
        },
        {
            "first": "James",
            "last": "Nguyen",
            "phone": "+17135550140",
            "city": "Houston",
            "region": "TX",
            "postcode": "77006",
            "street": "3800 Montrose Blvd",
        },
    ],
    products=[
        {
            "sku": "NW-SOCK-MER",
            "title": "Merino hiking socks",
            "category": "Socks",
            "price": Decimal("18.00"),
        },
        {
            "sku": "NW-JKT-RAIN",
            "title": "Packable rain jacket",
            "category": "Outerwear",
            "price": Decimal("129.00"),
        },
        {
            "sku": "NW-FLC-HOOD",
            "title": "Recycled fleece hoodie",
            "category": "Tops",
            "price": Decimal("74.50"),
        },
        {
            "sku": "NW-BTL-750",
            "title": "Insulated bottle 750 ml",
            "category": "Gear",
            "price": Decimal("32.00"),
        },
        {
            "sku": "NW-CAP-WOOL",
            "title": "Wool beanie",
            "category": "Accessories",
            "price": Decimal("24.00"),
        },
        {
            "sku": "NW-PACK-28",
            "title": "Daypack 28 L",
            "category": "Bags",
            "price": Decimal("98.00"),
            "final_sale": False,
        },
        {
            "sku": "NW-TEE-ORG",
            "title": "Organic cotton tee",
            "category": "Tops",
            "price": Decimal("28.00"),
        },
        {
            "sku": "NW-GLV-TCH",
            "title": "Touchscreen gloves (final sale)",
            "category": "Accessories",
            "price": Decimal("15.00"),
            "final_sale": True,
        },
    ],
)

JP = Storefront(
    slug="northwind-jp",
    name="北風商店",
    language="ja",
    currency="JPY",
    country="JP",
    time_zone="Asia/Tokyo",
    website="https://jp.northwind.example",
    support_email="support@jp.northwind.example",
    primary_colour="#b7282e",
    accent_colour="#1d5a8a",
    font_family='"Hiragino Sans", "Noto Sans JP", "IPAGothic", sans-serif',
    order_count=16,
    carriers=[("yamato", "宅急便"), ("sagawa", "飛脚宅配便"), ("japanpost", "ゆうパック")],
    origin=Location(city="市川市", region="千葉県", postcode="272-0001", country="JP"),
    customers=[
        {
            "first": "花子",
            "last": "佐藤",
            "phone": "+819012345678",
            "city": "渋谷区",
            "region": "東京都",
            "postcode": "150-0001",
            "street": "神宮前1-2-3",
        },
        {
            "first": "太郎",
            "last": "鈴木",
            "phone": "+819023456789",
            "city": "大阪市北区",
            "region": "大阪府",
            "postcode": "530-0001",
            "street": "梅田2-4-9",
        },
        {
            "first": "陽菜",
            "last": "高橋",
            "phone": "+819034567890",
            "city": "横浜市中区",
            "region": "神奈川県",
            "postcode": "231-0023",
            "street": "山下町10",
        },
        {
            "first": "蓮",
            "last": "田中",
            "phone": "+818045678901",
            "city": "名古屋市中区",
            "region": "愛知県",
            "postcode": "460-0008",
            "street": "栄3-5-1",
        },
        {
            "first": "結衣",
            "last": "伊藤",
            "phone": "+818056789012",
            "city": "札幌市中央区",
            "region": "北海道",
            "postcode": "060-0061",
            "street": "南一条西4-1",
        },
        {
            "first": "大翔",
            "last": "渡辺",
            "phone": "+817067890123",
            "city": "福岡市中央区",
            "region": "福岡県",
            "postcode": "810-0001",
            "street": "天神2-11-1",
        },
        {
            "first": "さくら",
            "last": "山本",
            "phone": "+819078901234",
            "city": "京都市下京区",
            "region": "京都府",
            "postcode": "600-8216",
            "street": "東塩小路町721-1",
        },
        {
            "first": "悠真",
            "last": "中村",
            "phone": "+819089012345",
            "city": "仙台市青葉区",
            "region": "宮城県",
            "postcode": "980-0021",
            "street": "中央1-1-1",
        },
        {
            "first": "美咲",
            "last": "小林",
            "phone": "+818090123456",
            "city": "神戸市中央区",
            "region": "兵庫県",
            "postcode": "650-0021",
            "street": "三宮町1-10-1",
        },
        {
            "first": "健太",
            "last": "加藤",
            "phone": "+817012345678",
            "city": "広島市中区",
            "region": "広島県",
            "postcode": "730-0011",
            "street": "基町6-78",
        },
    ],
    products=[
        {
            "sku": "NWJ-SOCK-MER",
            "title": "メリノウール登山用ソックス",
            "category": "ソックス",
            "price": Decimal("2420"),
        },
        {
            "sku": "NWJ-JKT-RAIN",
            "title": "パッカブル レインジャケット",
            "category": "アウター",
            "price": Decimal("16500"),
        },
        {
            "sku": "NWJ-FLC-HOOD",
            "title": "リサイクルフリース パーカー",
            "category": "トップス",
            "price": Decimal("9900"),
        },
        {
            "sku": "NWJ-BTL-750",
            "title": "真空断熱ボトル 750ml",
            "category": "ギア",
            "price": Decimal("4180"),
        },
        {
            "sku": "NWJ-TENUG",
            "title": "手ぬぐい(藍染)",
            "category": "雑貨",
            "price": Decimal("1320"),
        },
        {
            "sku": "NWJ-PACK-28",
            "title": "デイパック 28L",
            "category": "バッグ",
            "price": Decimal("13200"),
        },
    ],
)

STOREFRONTS = (US, JP)

# Where each demo shipment has got to, as carrier scans (hours after shipping, status,
# reason, action required, the carrier's code and text). Cycled over the orders.
Scan = tuple[int, ShipmentStatus, ExceptionReason, bool, str, str]
JOURNEYS: dict[str, list[Scan]] = {
    "label_created": [
        (0, ShipmentStatus.INFO_RECEIVED, ExceptionReason.NONE, False, "MP", "Label created"),
    ],
    "in_transit": [
        (0, ShipmentStatus.INFO_RECEIVED, ExceptionReason.NONE, False, "MP", "Label created"),
        (6, ShipmentStatus.IN_TRANSIT, ExceptionReason.NONE, False, "OR", "Picked up"),
        (20, ShipmentStatus.IN_TRANSIT, ExceptionReason.NONE, False, "AR", "Arrived at hub"),
    ],
    "out_for_delivery": [
        (0, ShipmentStatus.INFO_RECEIVED, ExceptionReason.NONE, False, "MP", "Label created"),
        (6, ShipmentStatus.IN_TRANSIT, ExceptionReason.NONE, False, "OR", "Picked up"),
        (
            30,
            ShipmentStatus.OUT_FOR_DELIVERY,
            ExceptionReason.NONE,
            False,
            "OT",
            "Out for delivery",
        ),
    ],
    "delivered": [
        (0, ShipmentStatus.INFO_RECEIVED, ExceptionReason.NONE, False, "MP", "Label created"),
        (6, ShipmentStatus.IN_TRANSIT, ExceptionReason.NONE, False, "OR", "Picked up"),
        (
            28,
            ShipmentStatus.OUT_FOR_DELIVERY,
            ExceptionReason.NONE,
            False,
            "OT",
            "Out for delivery",
        ),
        (34, ShipmentStatus.DELIVERED, ExceptionReason.NONE, False, "DL", "Delivered, front door"),
    ],
    "attempt_failed": [
        (0, ShipmentStatus.INFO_RECEIVED, ExceptionReason.NONE, False, "MP", "Label created"),
        (6, ShipmentStatus.IN_TRANSIT, ExceptionReason.NONE, False, "OR", "Picked up"),
        (
            30,
            ShipmentStatus.ATTEMPT_FAILED,
            ExceptionReason.CONSIGNEE_NOT_HOME,
            True,
            "NH",
            "Delivery attempted, nobody home",
        ),
    ],
    "exception": [
        (0, ShipmentStatus.INFO_RECEIVED, ExceptionReason.NONE, False, "MP", "Label created"),
        (6, ShipmentStatus.IN_TRANSIT, ExceptionReason.NONE, False, "OR", "Picked up"),
        (
            26,
            ShipmentStatus.EXCEPTION,
            ExceptionReason.WEATHER,
            False,
            "WX",
            "Delayed by severe weather",
        ),
    ],
    "pickup": [
        (0, ShipmentStatus.INFO_RECEIVED, ExceptionReason.NONE, False, "MP", "Label created"),
        (6, ShipmentStatus.IN_TRANSIT, ExceptionReason.NONE, False, "OR", "Picked up"),
        (
            32,
            ShipmentStatus.AVAILABLE_FOR_PICKUP,
            ExceptionReason.NONE,
            True,
            "PU",
            "Held at the pickup point",
        ),
    ],
    "pending": [],
}
JOURNEY_CYCLE = [
    "delivered", "in_transit", "delivered", "out_for_delivery", "label_created", "delivered",
    "attempt_failed", "in_transit", "exception", "delivered", "pickup", "pending",
]  # fmt: skip


# --- Steps -----------------------------------------------------------------------------------


@dataclass
class SeedContext:
    """What the steps share and what the command prints at the end."""

    stdout: Any
    rng: random.Random
    now: datetime
    merchants: dict[str, Merchant] = field(default_factory=dict)
    username: str = DEMO_USERNAME
    password: str = ""
    api_key_line: str = ""
    credentials_path: Path | None = None
    created: dict[str, int] = field(default_factory=dict)

    def count(self, what: str, n: int = 1) -> None:
        self.created[what] = self.created.get(what, 0) + n


def seed_merchants(ctx: SeedContext) -> None:
    """The two storefronts (created once; an existing one is left as the user edited it)."""
    for front in STOREFRONTS:
        merchant, created = Merchant.objects.get_or_create(
            slug=front.slug,
            defaults={
                "name": front.name,
                "default_language": front.language,
                "languages": [front.language, "ja" if front.language == "en" else "en"],
                "currency": front.currency,
                "country": front.country,
                "time_zone": front.time_zone,
                "website": front.website,
                "support_email": front.support_email,
                "support_url": f"{front.website}/help",
                "primary_colour": front.primary_colour,
                "accent_colour": front.accent_colour,
                "font_family": front.font_family,
                "email_from_name": front.name,
                "email_from_address": front.support_email,
            },
        )
        ctx.merchants[front.slug] = merchant
        if created:
            ctx.count("merchants")


def _credentials_path() -> Path:
    return Path(settings.BASE_DIR) / "var" / CREDENTIALS_FILE


def _stored_password(path: Path) -> str:
    try:
        return str(json.loads(path.read_text())["password"])
    except (OSError, ValueError, KeyError):
        return ""


def seed_staff(ctx: SeedContext, *, password: str = "", path: Path | None = None) -> None:
    """The `demo` login: superuser and owner of both storefronts, with a stable password."""
    path = path or _credentials_path()
    ctx.credentials_path = path
    password = password or _stored_password(path) or secrets.token_urlsafe(12)
    user_model = get_user_model()
    user, created = user_model.objects.get_or_create(
        username=ctx.username, defaults={"email": "demo@northwind.example"}
    )
    user.is_staff = True
    user.is_superuser = True
    user.set_password(password)
    user.save()
    if created:
        ctx.count("staff users")
    for merchant in ctx.merchants.values():
        MerchantMembership.objects.get_or_create(
            merchant=merchant, user=user, defaults={"role": MerchantRole.OWNER}
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"username": ctx.username, "password": password}) + "\n")
    os.chmod(path, 0o600)
    ctx.password = password


def seed_api_key(ctx: SeedContext, *, new: bool = False) -> None:
    """An API key for the US store; its secret is printed only when it is issued."""
    merchant = ctx.merchants[US.slug]
    existing = ApiKey.objects.filter(merchant=merchant, name=API_KEY_NAME, revoked_at=None).first()
    if existing is not None and not new:
        ctx.api_key_line = (
            f"{existing.prefix}_… (issued earlier; its secret was shown then. "
            "`manage.py seed_demo --new-api-key` issues another)"
        )
        return
    issued = api_key_create(
        merchant=merchant,
        name=API_KEY_NAME,
        scopes=[ApiScope.ORDERS_READ, ApiScope.ORDERS_WRITE, ApiScope.SHIPMENTS_READ,
                ApiScope.SHIPMENTS_WRITE],
    )  # fmt: skip
    ctx.count("API keys")
    ctx.api_key_line = f"{issued.secret}  (shown once: copy it now)"


def _email(front: Storefront, customer: dict[str, str], index: int) -> str:
    if front.language == "ja":
        return f"customer{index + 1}@jp.example.com"
    return f"{customer['first'].lower()}.{customer['last'].lower()}@example.com"


def _order_input(ctx: SeedContext, front: Storefront, index: int) -> OrderInput:
    """Order number 1001 upwards in each storefront (the look-alike numbers are deliberate)."""
    rng = ctx.rng
    customer_index = index % len(front.customers)
    customer = front.customers[customer_index]
    placed_at = ctx.now - timedelta(
        days=1 + (index * 29) // front.order_count, hours=rng.randint(0, 20)
    )
    picks = rng.sample(list(front.products), k=rng.randint(1, 3))
    lines = [
        OrderLineInput(
            external_id=f"{front.slug}-{1001 + index}-{n + 1}",
            sku=product["sku"],
            title=product["title"],
            category=product["category"],
            quantity=rng.randint(1, 3),
            unit_price=product["price"],
            final_sale=product.get("final_sale", False),
            product_url=f"{front.website}/products/{product['sku'].lower()}",
            returnable=not product.get("final_sale", False),
        )
        for n, product in enumerate(picks)
    ]
    shipping = Decimal("660") if front.currency == "JPY" else Decimal("7.95")
    name = (
        f"{customer['last']} {customer['first']}"
        if front.language == "ja"
        else f"{customer['first']} {customer['last']}"
    )
    return OrderInput(
        external_id=f"{front.slug}-order-{1001 + index}",
        number=str(1001 + index),
        placed_at=placed_at,
        currency=front.currency,
        customer=CustomerInput(
            external_id=f"{front.slug}-customer-{customer_index + 1}",
            email=_email(front, customer, customer_index),
            phone=customer["phone"],
            first_name=customer["first"],
            last_name=customer["last"],
            language=front.language,
            time_zone=front.time_zone,
        ),
        shipping_address=AddressInput(
            country=front.country,
            name=name,
            address1=customer["street"],
            city=customer["city"],
            region=customer["region"],
            postcode=customer["postcode"],
        ),
        lines=lines,
        shipping_total=shipping,
        discount_codes=["WELCOME10"] if index % 7 == 3 else [],
        language=front.language,
        shipping_method=front.carriers[index % len(front.carriers)][1],
    )


def seed_orders(ctx: SeedContext) -> None:
    """About forty orders with their customers, products and lines, through `order_upsert`."""
    total = sum(front.order_count for front in STOREFRONTS)
    with tqdm(total=total, desc="orders", unit="order") as bar:
        for front in STOREFRONTS:
            merchant = ctx.merchants[front.slug]
            for index in range(front.order_count):
                payload = _order_input(ctx, front, index)
                # Placing times move with the clock; an order seeded before is left as it is.
                if (
                    not Order.objects.for_merchant(merchant)
                    .filter(external_id=payload.external_id)
                    .exists()
                ):
                    order_upsert(merchant=merchant, payload=payload)
                    ctx.count("orders")
                bar.update(1)


def _tracking_number(carrier: str, rng: random.Random) -> str:
    digits = "".join(rng.choice("0123456789") for _ in range(12))
    if carrier == "ups":
        return f"1Z999AA1{digits[:10]}"
    if carrier == "usps":
        return f"9400111{digits}{digits[:3]}"
    return digits


def _scans(
    shipment: Shipment, front: Storefront, journey: str, shipped_at: datetime, now: datetime
) -> list[ParsedEvent]:
    scans = JOURNEYS[journey]
    if not scans:
        return []
    # Squeeze the journey in before now for orders placed recently.
    span = max(1, scans[-1][0])
    budget_hours = max(1.0, (now - shipped_at).total_seconds() / 3600 - 1)
    scale = min(1.0, budget_hours / span)
    destination = Location(
        city=shipment.order.shipping_city,
        region=shipment.order.shipping_region,
        postcode=shipment.order.shipping_postcode,
        country=front.country,
    )
    events = []
    for n, (hours, status, reason, action, code, text) in enumerate(scans):
        at_destination = n == len(scans) - 1 and status != ShipmentStatus.INFO_RECEIVED
        events.append(
            ParsedEvent(
                carrier=shipment.carrier,
                tracking_number=shipment.tracking_number,
                occurred_at=shipped_at + timedelta(hours=hours * scale),
                status=status,
                carrier_code=code,
                carrier_text=text,
                reason=reason,
                action_required=action,
                location=destination if at_destination else front.origin,
                mapping_version="demo",
            )
        )
    return events


def seed_shipments(ctx: SeedContext) -> None:
    """A shipment per order with carrier scans in a spread of states (delivered, late, ...)."""
    total = sum(front.order_count for front in STOREFRONTS)
    with tqdm(total=total, desc="shipments", unit="order") as bar:
        for front in STOREFRONTS:
            merchant = ctx.merchants[front.slug]
            orders = Order.objects.for_merchant(merchant).prefetch_related("lines")
            for index, order in enumerate(orders.order_by("number")):
                bar.update(1)
                if order.shipments.exists():
                    continue
                journey = JOURNEY_CYCLE[index % len(JOURNEY_CYCLE)]
                carrier, service = front.carriers[index % len(front.carriers)]
                shipped_at = min(order.placed_at + timedelta(hours=18), ctx.now)
                with transaction.atomic():
                    shipment = shipment_create(
                        order=order,
                        carrier=carrier,
                        service=service,
                        tracking_number=_tracking_number(carrier, ctx.rng),
                        lines=[(line, line.quantity) for line in order.lines.all()],
                        shipped_at=shipped_at,
                        origin_country=front.origin.country,
                        origin_region=front.origin.region,
                        origin_postcode=front.origin.postcode,
                    )
                ctx.count("shipments")
                events = _scans(shipment, front, journey, shipped_at, ctx.now)
                if events:
                    shipment_record_events(
                        shipment=shipment, events=events, source=EventSource.IMPORT
                    )
                    ctx.count("carrier scans", len(events))


# Later capabilities (estimates, notifications, returns...) append their own steps here.
SEED_STEPS: list[tuple[str, Callable[[SeedContext], None]]] = [
    ("orders", seed_orders),
    ("shipments", seed_shipments),
]


class Command(BaseCommand):
    help = "Create (or complete) the demo storefronts, login, API key, orders and shipments."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--password", default="", help="Set the demo login's password.")
        parser.add_argument(
            "--new-api-key", action="store_true", help="Issue another demo API key and print it."
        )
        parser.add_argument("--seed", type=int, default=1001, help="Random seed of the data.")
        parser.add_argument(
            "--credentials-file",
            type=Path,
            default=None,
            help=f"Where the demo password is kept (default var/{CREDENTIALS_FILE}).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        ctx = SeedContext(
            stdout=self.stdout, rng=random.Random(options["seed"]), now=timezone.now()
        )
        self.stdout.write("Seeding the demo storefronts…")
        seed_merchants(ctx)
        seed_staff(ctx, password=options["password"], path=options["credentials_file"])
        seed_api_key(ctx, new=options["new_api_key"])
        for _name, step in SEED_STEPS:
            step(ctx)
        self._report(ctx)

    def _report(self, ctx: SeedContext) -> None:
        created = ", ".join(f"{n} {what}" for what, n in ctx.created.items()) or "nothing new"
        host = os.environ.get("DEMO_URL", "http://127.0.0.1:8000").rstrip("/")
        lines = [
            "",
            self.style.SUCCESS(f"Demo ready ({created})."),
            f"  Storefronts:      {', '.join(m.name for m in ctx.merchants.values())}",
            f"  Merchant console: {host}/{settings.ADMIN_URL}",
            f"  Ops site:         {host}/{settings.OPS_ADMIN_URL}",
            f"  API docs:         {host}/api/docs/",
            f"  Login:            {ctx.username} / {ctx.password}",
            f"  API key:          {ctx.api_key_line}",
            f"  (password kept in {ctx.credentials_path})",
            "",
        ]
        self.stdout.write("\n".join(lines))
