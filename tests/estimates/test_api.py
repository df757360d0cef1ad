"""POST /api/v1/estimates/: field-by-field validation, the countdown, gift dates, tenancy."""

from __future__ import annotations

from datetime import UTC, date, datetime, time

import pytest
import time_machine
from rest_framework.test import APIClient

from estimates.models import GiftDate, TransitRule, Warehouse
from tests.factories import ApiKeyFactory, ProductFactory

# Mon 25 Nov 2024, 11:46 in Tokyo.
NOW = datetime(2024, 11, 25, 2, 46, tzinfo=UTC)
URL = "/api/v1/estimates/"


@pytest.fixture
def tokyo(merchant_b):  # type: ignore[no-untyped-def]
    warehouse = Warehouse.objects.create(
        merchant=merchant_b,
        code="tokyo-1",
        name="Tokyo",
        country="JP",
        time_zone="Asia/Tokyo",
        cutoff_time=time(14, 0),
        handling_days=0,
        is_default=True,
    )
    TransitRule.objects.create(
        merchant=merchant_b,
        carrier="yamato",
        destination_country="JP",
        min_days=1,
        typical_days=1,
        max_days=2,
    )
    return warehouse


@pytest.fixture
def client_b(merchant_b) -> APIClient:  # type: ignore[no-untyped-def]
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {ApiKeyFactory(merchant=merchant_b).secret}")
    return client


def _body(**changes: object) -> dict[str, object]:
    body: dict[str, object] = {
        "warehouse": "tokyo-1",
        "destination_country": "JP",
        "destination_postcode": "150-0001",
        "shipping_method": "yamato",
    }
    body.update(changes)
    return {k: v for k, v in body.items() if v is not None}


@time_machine.travel(NOW, tick=False)
def test_answer_has_window_promise_and_cutoff_countdown(tokyo, client_b) -> None:
    response = client_b.post(URL, _body(), format="json")
    assert response.status_code == 200, response.json()
    data = response.json()
    assert data["window"] == {"start": "2024-11-26", "end": "2024-11-27"}
    assert data["central"] == "2024-11-26"
    assert data["promise"] == "2024-11-27"
    assert data["order_by"]["seconds_left"] == 2 * 3600 + 14 * 60
    assert data["order_by"]["message"] == "Order within 2 h 14 min to get it by Wed 27 Nov"
    # After the cut-off it ships Tuesday: a day later.
    assert data["if_ordered_after_cutoff"] == {"start": "2024-11-27", "end": "2024-11-28"}
    assert data["model_version"] == "rules"


@time_machine.travel(NOW, tick=False)
def test_answer_in_japanese(tokyo, client_b) -> None:
    response = client_b.post(URL, _body(language="ja"), format="json")
    assert response.json()["order_by"]["message"] == "2時間14分以内のご注文で11月27日(水)にお届け"


@time_machine.travel(NOW, tick=False)
def test_gift_date_gives_the_last_order_time_that_still_arrives(
    tokyo, client_b, merchant_b
) -> None:
    GiftDate.objects.create(merchant=merchant_b, name="Christmas", date=date(2024, 12, 25))
    data = client_b.post(URL, _body(), format="json").json()
    [christmas] = data["gift_dates"]
    # Shipped Mon 23 Dec arrives Wed 25 at the latest: order before 14:00 Tokyo that day.
    assert christmas["order_by"] == "2024-12-23T05:00:00Z"
    assert christmas["name"] == "Christmas"


@time_machine.travel(NOW, tick=False)
def test_a_product_ships_from_the_default_warehouse(tokyo, client_b, merchant_b) -> None:
    product = ProductFactory(merchant=merchant_b)
    response = client_b.post(URL, _body(warehouse=None, product=product.sku), format="json")
    assert response.status_code == 200
    assert response.json()["promise"] == "2024-11-27"


@time_machine.travel(NOW, tick=False)
@pytest.mark.parametrize(
    ("changes", "field", "fragment"),
    [
        ({"destination_country": "ZZ"}, "destination_country", "ISO 3166-1"),
        ({"destination_country": None}, "destination_country", "required"),
        ({"destination_postcode": "15$0"}, "destination_postcode", "letters, digits"),
        ({"shipping_method": "Yamato Express!"}, "shipping_method", "carrier code"),
        ({"warehouse": None}, "warehouse", "warehouse code, or a product"),
        ({"product": "SKU-1"}, "warehouse", "not both"),
        ({"warehouse": "osaka-9"}, "warehouse", "No warehouse with code 'osaka-9'"),
        ({"warehouse": None, "product": "NOPE"}, "product", "No product with SKU 'NOPE'"),
        ({"requested_at": "2031-01-01T00:00:00Z"}, "requested_at", "within a year"),
        ({"requested_at": "yesterday"}, "requested_at", "Datetime has wrong format"),
        ({"language": "fr"}, "language", "not a valid choice"),
    ],
)
def test_invalid_input_is_answered_field_by_field(
    tokyo, client_b, changes, field, fragment
) -> None:
    response = client_b.post(URL, _body(**changes), format="json")
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "validation_error"
    assert any(fragment in message for message in error["fields"][field]), error


@time_machine.travel(NOW, tick=False)
def test_several_bad_fields_are_all_reported(tokyo, client_b) -> None:
    response = client_b.post(
        URL,
        _body(destination_country="ZZ", destination_postcode="!", shipping_method="?"),
        format="json",
    )
    assert set(response.json()["error"]["fields"]) == {
        "destination_country",
        "destination_postcode",
        "shipping_method",
    }


@time_machine.travel(NOW, tick=False)
def test_another_merchants_warehouse_is_unknown(tokyo, merchant_a) -> None:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {ApiKeyFactory(merchant=merchant_a).secret}")
    response = client.post(URL, _body(), format="json")
    assert response.status_code == 400
    assert "No warehouse" in response.json()["error"]["fields"]["warehouse"][0]


def test_a_key_without_the_estimates_scope_is_refused(tokyo, merchant_b) -> None:
    client = APIClient()
    key = ApiKeyFactory(merchant=merchant_b, scopes=["orders:read"])
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {key.secret}")
    assert client.post(URL, _body(), format="json").status_code == 403


@time_machine.travel(NOW, tick=False)
def test_widget_endpoint_answers_publicly_by_merchant_slug(tokyo, merchant_b) -> None:
    response = APIClient().get(
        f"/estimates/widget/{merchant_b.slug}/",
        {
            "warehouse": "tokyo-1",
            "destination_country": "JP",
            "destination_postcode": "150-0001",
            "shipping_method": "yamato",
            "language": "ja",
        },
    )
    assert response.status_code == 200
    assert response.json()["promise"] == "2024-11-27"
    assert response["Access-Control-Allow-Origin"] == "*"
    bad = APIClient().get(f"/estimates/widget/{merchant_b.slug}/", {"warehouse": "tokyo-1"})
    assert bad.status_code == 400
    assert "destination_country" in bad.json()["error"]["fields"]


def test_widget_strings_are_served_per_language(client) -> None:  # type: ignore[no-untyped-def]
    ja = client.get("/estimates/strings/ja.json")
    assert ja.status_code == 200
    assert "お届け" in ja.json()["arrives"]
    assert client.get("/estimates/strings/fr.json").status_code == 404


def test_embeddable_script_is_served_by_the_app(client) -> None:  # type: ignore[no-untyped-def]
    response = client.get("/static/estimates/edd.js")
    assert response.status_code == 200
    body = b"".join(response.streaming_content) if response.streaming else response.content
    assert b"/estimates/widget/" in body
