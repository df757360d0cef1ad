"""Console personas: staff of merchant_a in each role, and a platform ops user."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.contrib.auth.models import Group, User

from postpurchase.admin_sites import PLATFORM_OPS_GROUP
from postpurchase.models import Merchant, MerchantMembership, MerchantRole


@pytest.fixture
def make_staff(db) -> Callable[..., User]:  # type: ignore[no-untyped-def]
    def make(username: str, *memberships: tuple[Merchant, str]) -> User:
        user = User.objects.create_user(username, f"{username}@example.com", "pw", is_staff=True)
        for merchant, role in memberships:
            MerchantMembership.objects.create(merchant=merchant, user=user, role=role)
        return user

    return make


@pytest.fixture
def owner_a(make_staff, merchant_a) -> User:  # type: ignore[no-untyped-def]
    return make_staff("olivia", (merchant_a, MerchantRole.OWNER))


@pytest.fixture
def ops_user(db) -> User:  # type: ignore[no-untyped-def]
    user = User.objects.create_user("opal", "opal@example.com", "pw", is_staff=True)
    user.groups.add(Group.objects.create(name=PLATFORM_OPS_GROUP))
    return user
