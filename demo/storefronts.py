"""The demo's storefronts and the carrier journeys their shipments follow (data only)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from tracking.domain import ExceptionReason, Location, ShipmentStatus


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
