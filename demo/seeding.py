"""The demo's seeding steps: each a small function over a shared `SeedContext`.

Everything goes through the apps' services (`commerce.services.order_upsert`,
`tracking.services.shipment_create`, `tracking.normalisation.shipment_record_events`), so the
demo publishes the same domain events a real store would. Later capabilities add their steps
to `SEED_STEPS`.
"""

from __future__ import annotations

import json
import os
import random
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from tqdm import tqdm

from commerce.inputs import AddressInput, CustomerInput, OrderInput, OrderLineInput
from commerce.models import Order
from commerce.services import order_upsert
from demo.storefronts import JOURNEY_CYCLE, JOURNEYS, STOREFRONTS, US, Storefront
from postpurchase.api_keys import api_key_create
from postpurchase.models import ApiKey, ApiScope, Merchant, MerchantMembership, MerchantRole
from tracking.domain import Location, ParsedEvent, ShipmentStatus
from tracking.models import EventSource, Shipment
from tracking.normalisation import shipment_record_events
from tracking.services import shipment_create

DEMO_USERNAME = "demo"
CREDENTIALS_FILE = "demo-credentials.json"
API_KEY_NAME = "Demo storefront"


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
