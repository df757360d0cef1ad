"""The merchant console's tracking-page screens: engagement per order, blocks, tenancy."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User

from postpurchase.models import MerchantMembership, MerchantRole
from tests.trackpage.conftest import page_url
from trackpage.models import MerchantPageBlock, TrackingLinkRevocation
from trackpage.services import page_views_flush

pytestmark = pytest.mark.django_db

ENGAGEMENT = "/console/trackpage/orderengagement/"


def _staff(merchant, role, name="sam"):  # type: ignore[no-untyped-def]
    user = User.objects.create_user(name, f"{name}@example.com", "pw", is_staff=True)
    MerchantMembership.objects.create(merchant=merchant, user=user, role=role)
    return user


def test_engagement_shows_views_clicks_and_rate_per_order(client, merchant_a, shipment_a, order_b):
    shopper = client.__class__()
    body = shopper.get(page_url(merchant_a, shipment_a)).content.decode()
    shopper.get(page_url(merchant_a, shipment_a))
    store_link = body.split('class="back-to-store"><a class="button" href="')[1].split('"')[0]
    assert shopper.get(store_link).status_code == 302
    page_views_flush()  # views counted in Redis are written by the periodic flush

    client.force_login(_staff(merchant_a, MerchantRole.MARKETER))
    page = client.get(ENGAGEMENT)

    assert page.status_code == 200
    row = page.content.decode().split(">1001<")[1].split("</tr>")[0]
    cells = [c.split(">")[-1] for c in row.split("</td>")[:-1]]
    # placed, views, visitors, store clicks, click-through, orders led
    assert cells[1:] == ["2", "1", "1", "50.0%", "0"]
    # merchant_b's look-alike order 1001 is not listed: exactly one row.
    assert page.content.decode().count(">1001<") == 1


def test_other_merchants_order_is_not_found_in_the_console(client, merchant_a, order_b):
    client.force_login(_staff(merchant_a, MerchantRole.OWNER))
    assert client.get(f"{ENGAGEMENT}{order_b.pk}/change/").status_code == 404


def test_revoke_action_revokes_links_but_not_for_marketers(client, merchant_a, shipment_a):
    url = page_url(merchant_a, shipment_a)
    order = shipment_a.order
    client.force_login(_staff(merchant_a, MerchantRole.MARKETER, "mark"))
    client.post(ENGAGEMENT, {"action": "revoke_links", "_selected_action": [order.pk]})
    assert not TrackingLinkRevocation.objects.exists()

    client.force_login(_staff(merchant_a, MerchantRole.OWNER, "olivia"))
    client.post(ENGAGEMENT, {"action": "revoke_links", "_selected_action": [order.pk]})
    assert TrackingLinkRevocation.objects.filter(order=order).exists()
    assert client.get(url).status_code == 404


def test_block_saved_in_the_console_is_sanitised(client, merchant_a):
    client.force_login(_staff(merchant_a, MerchantRole.MARKETER))
    response = client.post(
        "/console/trackpage/merchantpageblock/add/",
        {
            "kind": "html",
            "placement": "top",
            "title": "Hello",
            "html": '<p>Hi<img src="x" onerror="alert(1)"></p><script>alert(2)</script>',
            "link_url": "",
            "link_label": "",
            "language": "",
            "position": "0",
            "is_active": "on",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    block = MerchantPageBlock.objects.get()
    assert block.merchant_id == merchant_a.pk
    assert block.html == '<p>Hi<img src="x"></p>'
