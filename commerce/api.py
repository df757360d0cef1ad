"""REST API v1 for the store's data: order upsert, cancel, list/retrieve orders and customers.

Orders and customers are addressed by the store's own external id, never by our primary keys.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import django_filters
from django.db.models import QuerySet
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.parsers import JSONParser
from rest_framework.request import Request
from rest_framework.response import Response

from commerce import inputs, selectors, services
from commerce.models import Customer, Order, OrderLine, OrderStatus, Product
from postpurchase.api.filters import UtcDateTimeFilter
from postpurchase.api.idempotency import IdempotentPostMixin
from postpurchase.api.permissions import request_merchant
from postpurchase.api.schema import (
    IDEMPOTENCY_KEY_PARAMETER,
    LIST_ERRORS,
    READ_ERRORS,
    WRITE_ERRORS,
)
from postpurchase.models import ApiScope

MONEY: dict[str, Any] = {"max_digits": 12, "decimal_places": 2}

# --- input ----------------------------------------------------------------------------------


class CustomerInputSerializer(serializers.Serializer):
    external_id = serializers.CharField(max_length=100, required=False, allow_blank=True)
    email = serializers.EmailField(required=False, allow_blank=True)
    phone = serializers.CharField(
        max_length=32, required=False, allow_blank=True, help_text="E.164, e.g. +14155550123."
    )
    first_name = serializers.CharField(max_length=100, required=False, allow_blank=True)
    last_name = serializers.CharField(max_length=100, required=False, allow_blank=True)
    language = serializers.CharField(max_length=8, required=False, allow_blank=True)
    time_zone = serializers.CharField(max_length=64, required=False, allow_blank=True)
    birthday = serializers.DateField(required=False, allow_null=True)


class AddressSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=200, required=False, allow_blank=True)
    address1 = serializers.CharField(max_length=200, required=False, allow_blank=True)
    address2 = serializers.CharField(max_length=200, required=False, allow_blank=True)
    city = serializers.CharField(max_length=100, required=False, allow_blank=True)
    region = serializers.CharField(max_length=100, required=False, allow_blank=True)
    postcode = serializers.CharField(max_length=20, required=False, allow_blank=True)
    country = serializers.CharField(max_length=2, help_text="ISO 3166-1 alpha-2, e.g. US.")


class OrderLineInputSerializer(serializers.Serializer):
    external_id = serializers.CharField(max_length=100)
    sku = serializers.CharField(max_length=100)
    title = serializers.CharField(
        max_length=300,
        required=False,
        allow_blank=True,
        help_text="Required when the SKU is new: the product is then created from this line.",
    )
    quantity = serializers.IntegerField(help_text="A positive whole number.")
    unit_price = serializers.DecimalField(**MONEY)
    final_sale = serializers.BooleanField(required=False, default=False)
    category = serializers.CharField(max_length=200, required=False, allow_blank=True)
    product_url = serializers.URLField(required=False, allow_blank=True)
    image_url = serializers.URLField(required=False, allow_blank=True)
    returnable = serializers.BooleanField(required=False, default=True)


class OrderUpsertSerializer(serializers.Serializer):
    external_id = serializers.CharField(max_length=100, help_text="The store's own order id.")
    number = serializers.CharField(max_length=64, help_text="The number the shopper sees.")
    placed_at = serializers.DateTimeField()
    currency = serializers.CharField(max_length=3, help_text="ISO 4217, e.g. USD, JPY.")
    customer = CustomerInputSerializer()
    shipping_address = AddressSerializer()
    lines = OrderLineInputSerializer(many=True)
    subtotal = serializers.DecimalField(**MONEY, required=False, allow_null=True)
    shipping_total = serializers.DecimalField(**MONEY, required=False, default=Decimal("0"))
    tax_total = serializers.DecimalField(**MONEY, required=False, default=Decimal("0"))
    discount_total = serializers.DecimalField(**MONEY, required=False, default=Decimal("0"))
    total = serializers.DecimalField(**MONEY, required=False, allow_null=True)
    discount_codes = serializers.ListField(
        child=serializers.CharField(max_length=100), required=False, default=list
    )
    language = serializers.CharField(max_length=8, required=False, allow_blank=True)
    shipping_method = serializers.CharField(max_length=100, required=False, allow_blank=True)

    def to_input(self) -> inputs.OrderInput:
        data: dict[str, Any] = dict(self.validated_data)
        data["customer"] = inputs.CustomerInput(**data["customer"])
        data["shipping_address"] = inputs.AddressInput(**data["shipping_address"])
        data["lines"] = [inputs.OrderLineInput(**line) for line in data["lines"]]
        return inputs.OrderInput(**data)


class ProductUpsertSerializer(serializers.Serializer):
    sku = serializers.CharField(max_length=100)
    title = serializers.CharField(max_length=300)
    price = serializers.DecimalField(**MONEY)
    currency = serializers.CharField(max_length=3, help_text="ISO 4217, e.g. USD, JPY.")
    category = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    url = serializers.URLField(required=False, allow_blank=True, default="")
    image_url = serializers.URLField(required=False, allow_blank=True, default="")
    returnable = serializers.BooleanField(required=False, default=True)
    in_stock = serializers.BooleanField(required=False, default=True)
    replenishment_days = serializers.IntegerField(
        required=False, allow_null=True, default=None, help_text="Days a unit typically lasts."
    )

    def to_input(self) -> inputs.ProductInput:
        return inputs.ProductInput(**self.validated_data)


class OrderCancelSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")


# --- output ---------------------------------------------------------------------------------


class CustomerSerializer(serializers.ModelSerializer):
    class Meta:
        model = Customer
        fields = [
            "external_id",
            "email",
            "phone",
            "first_name",
            "last_name",
            "language",
            "time_zone",
            "birthday",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


class OrderLineSerializer(serializers.ModelSerializer):
    class Meta:
        model = OrderLine
        fields = ["external_id", "sku", "title", "quantity", "unit_price", "final_sale"]
        read_only_fields = fields


class ShippingAddressOutputSerializer(serializers.Serializer):
    name = serializers.CharField(source="shipping_name")
    address1 = serializers.CharField(source="shipping_address1")
    address2 = serializers.CharField(source="shipping_address2")
    city = serializers.CharField(source="shipping_city")
    region = serializers.CharField(source="shipping_region")
    postcode = serializers.CharField(source="shipping_postcode")
    country = serializers.CharField(source="shipping_country")


class OrderSerializer(serializers.ModelSerializer):
    customer = CustomerSerializer(read_only=True)
    shipping_address = ShippingAddressOutputSerializer(source="*", read_only=True)
    lines = OrderLineSerializer(many=True, read_only=True)
    discount_codes = serializers.ListField(child=serializers.CharField(), read_only=True)

    class Meta:
        model = Order
        fields = [
            "external_id",
            "number",
            "status",
            "placed_at",
            "currency",
            "subtotal",
            "shipping_total",
            "tax_total",
            "discount_total",
            "total",
            "discount_codes",
            "language",
            "shipping_method",
            "shipping_address",
            "customer",
            "lines",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


class ProductSerializer(serializers.ModelSerializer):
    class Meta:
        model = Product
        fields = [
            "sku",
            "title",
            "category",
            "price",
            "currency",
            "url",
            "image_url",
            "returnable",
            "in_stock",
            "replenishment_days",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


# --- filters --------------------------------------------------------------------------------


class OrderFilter(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(choices=OrderStatus.choices)
    external_id = django_filters.CharFilter()
    number = django_filters.CharFilter()
    email = django_filters.CharFilter(
        field_name="customer__email", lookup_expr="iexact", label="Customer email"
    )
    customer = django_filters.CharFilter(
        field_name="customer__external_id", label="Customer external id"
    )
    placed_after = UtcDateTimeFilter(field_name="placed_at", lookup_expr="gte")
    placed_before = UtcDateTimeFilter(field_name="placed_at", lookup_expr="lt")
    updated_after = UtcDateTimeFilter(field_name="updated_at", lookup_expr="gte")

    class Meta:
        model = Order
        fields: list[str] = []


class ProductFilter(django_filters.FilterSet):
    sku = django_filters.CharFilter()
    category = django_filters.CharFilter(lookup_expr="iexact")
    in_stock = django_filters.BooleanFilter()
    updated_after = UtcDateTimeFilter(field_name="updated_at", lookup_expr="gte")

    class Meta:
        model = Product
        fields: list[str] = []


class CustomerFilter(django_filters.FilterSet):
    email = django_filters.CharFilter(lookup_expr="iexact")
    external_id = django_filters.CharFilter()
    created_after = UtcDateTimeFilter(field_name="created_at", lookup_expr="gte")
    created_before = UtcDateTimeFilter(field_name="created_at", lookup_expr="lt")

    class Meta:
        model = Customer
        fields: list[str] = []


# --- views ----------------------------------------------------------------------------------

EXTERNAL_ID = OpenApiParameter(
    "external_id",
    str,
    OpenApiParameter.PATH,
    description="The store's own id (percent-encode `/`, e.g. `gid%3A%2F%2Fshop%2FOrder%2F1`).",
)


@extend_schema_view(
    list=extend_schema(summary="List orders", responses={200: OrderSerializer, **LIST_ERRORS}),
    retrieve=extend_schema(
        summary="Get an order",
        parameters=[EXTERNAL_ID],
        responses={200: OrderSerializer, **READ_ERRORS},
    ),
)
class OrderViewSet(IdempotentPostMixin, viewsets.ReadOnlyModelViewSet):
    """Orders, addressed by the store's external id."""

    queryset = Order.objects.none()  # the real one is per merchant: get_queryset
    serializer_class = OrderSerializer
    filterset_class = OrderFilter
    lookup_field = "external_id"
    parser_classes = [JSONParser]
    required_scopes = {"GET": ApiScope.ORDERS_READ, "POST": ApiScope.ORDERS_WRITE}

    def get_queryset(self) -> QuerySet[Order]:
        return selectors.order_list(merchant=request_merchant(self.request))

    def get_object(self) -> Order:
        return selectors.order_get(
            merchant=request_merchant(self.request), external_id=self.kwargs["external_id"]
        )

    @extend_schema(
        summary="Create or update an order",
        description=(
            "Upsert by `external_id`: 201 when created, 200 when it existed (updated or "
            "unchanged). A retried identical request changes nothing and sends no events."
        ),
        request=OrderUpsertSerializer,
        parameters=[IDEMPOTENCY_KEY_PARAMETER],
        responses={201: OrderSerializer, 200: OrderSerializer, **WRITE_ERRORS},
    )
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        payload = OrderUpsertSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        result = services.order_upsert(
            merchant=request_merchant(request), payload=payload.to_input()
        )
        order = selectors.order_get(
            merchant=request_merchant(request), external_id=result.order.external_id
        )
        return Response(
            OrderSerializer(order).data,
            status=status.HTTP_201_CREATED if result.created else status.HTTP_200_OK,
        )

    @extend_schema(
        summary="Cancel an order",
        request=OrderCancelSerializer,
        parameters=[EXTERNAL_ID, IDEMPOTENCY_KEY_PARAMETER],
        responses={200: OrderSerializer, **WRITE_ERRORS},
    )
    def cancel(self, request: Request, external_id: str) -> Response:
        body = OrderCancelSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        order = selectors.order_get(merchant=request_merchant(request), external_id=external_id)
        services.order_cancel(order=order, reason=body.validated_data["reason"])
        order = selectors.order_get(merchant=request_merchant(request), external_id=external_id)
        return Response(OrderSerializer(order).data)


@extend_schema_view(
    list=extend_schema(
        summary="List customers", responses={200: CustomerSerializer, **LIST_ERRORS}
    ),
    retrieve=extend_schema(
        summary="Get a customer",
        parameters=[EXTERNAL_ID],
        responses={200: CustomerSerializer, **READ_ERRORS},
    ),
)
class CustomerViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Customers, addressed by the store's external id (find others with `?email=`)."""

    queryset = Customer.objects.none()
    serializer_class = CustomerSerializer
    filterset_class = CustomerFilter
    lookup_field = "external_id"
    required_scopes = {"GET": ApiScope.ORDERS_READ}

    def get_queryset(self) -> QuerySet[Customer]:
        return selectors.customer_list(merchant=request_merchant(self.request))

    def get_object(self) -> Customer:
        return selectors.customer_get(
            merchant=request_merchant(self.request), external_id=self.kwargs["external_id"]
        )


@extend_schema_view(
    list=extend_schema(summary="List products", responses={200: ProductSerializer, **LIST_ERRORS}),
    retrieve=extend_schema(
        summary="Get a product",
        parameters=[OpenApiParameter("sku", str, OpenApiParameter.PATH)],
        responses={200: ProductSerializer, **READ_ERRORS},
    ),
)
class ProductViewSet(IdempotentPostMixin, viewsets.ReadOnlyModelViewSet):
    """The catalogue, addressed by SKU."""

    queryset = Product.objects.none()  # the real one is per merchant: get_queryset
    serializer_class = ProductSerializer
    filterset_class = ProductFilter
    lookup_field = "sku"
    parser_classes = [JSONParser]
    required_scopes = {"GET": ApiScope.ORDERS_READ, "POST": ApiScope.ORDERS_WRITE}

    def get_queryset(self) -> QuerySet[Product]:
        return selectors.product_list(merchant=request_merchant(self.request))

    def get_object(self) -> Product:
        return selectors.product_get(
            merchant=request_merchant(self.request), sku=self.kwargs["sku"]
        )

    @extend_schema(
        summary="Create or update a product",
        description="Upsert by `sku`: 201 when created, 200 when it existed.",
        request=ProductUpsertSerializer,
        parameters=[IDEMPOTENCY_KEY_PARAMETER],
        responses={201: ProductSerializer, 200: ProductSerializer, **WRITE_ERRORS},
    )
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        payload = ProductUpsertSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        result = services.product_upsert(
            merchant=request_merchant(request), payload=payload.to_input()
        )
        return Response(
            ProductSerializer(result.product).data,
            status=status.HTTP_201_CREATED if result.created else status.HTTP_200_OK,
        )
