"""REST API v1 for shipments: create one for an order, list and retrieve by public id."""

from __future__ import annotations

from typing import Any

import django_filters
from django.db.models import QuerySet
from drf_spectacular.utils import (
    OpenApiParameter,
    extend_schema,
    extend_schema_field,
    extend_schema_view,
)
from rest_framework import serializers, status, viewsets
from rest_framework.parsers import JSONParser
from rest_framework.request import Request
from rest_framework.response import Response

from commerce import selectors as commerce_selectors
from commerce.errors import InvalidInputError
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
from tracking import selectors, services
from tracking.domain import ShipmentStatus
from tracking.errors import TrackingErrorCode
from tracking.models import Shipment, ShipmentLine

# --- input ----------------------------------------------------------------------------------


class PlaceInputSerializer(serializers.Serializer):
    country = serializers.CharField(max_length=2, required=False, allow_blank=True)
    region = serializers.CharField(max_length=100, required=False, allow_blank=True)
    postcode = serializers.CharField(max_length=20, required=False, allow_blank=True)


class ShipmentLineInputSerializer(serializers.Serializer):
    order_line = serializers.CharField(max_length=100, help_text="The line's external id.")
    quantity = serializers.IntegerField(min_value=1)


class ShipmentCreateSerializer(serializers.Serializer):
    carrier = serializers.CharField(max_length=40, help_text="Carrier code, e.g. ups, yamato.")
    tracking_number = serializers.CharField(max_length=80)
    service = serializers.CharField(max_length=80, required=False, allow_blank=True, default="")
    external_id = serializers.CharField(
        max_length=100, required=False, allow_blank=True, default=""
    )
    shipped_at = serializers.DateTimeField(required=False, allow_null=True, default=None)
    origin = PlaceInputSerializer(required=False)
    destination = PlaceInputSerializer(
        required=False, help_text="Defaults to the order's shipping address."
    )
    lines = ShipmentLineInputSerializer(
        many=True, required=False, help_text="What the parcel carries; omit when unknown."
    )


# --- output ---------------------------------------------------------------------------------


class ShipmentLineSerializer(serializers.ModelSerializer):
    order_line = serializers.CharField(source="order_line.external_id")
    sku = serializers.CharField(source="order_line.sku")

    class Meta:
        model = ShipmentLine
        fields = ["order_line", "sku", "quantity"]
        read_only_fields = fields


class ShipmentOrderSerializer(serializers.Serializer):
    external_id = serializers.CharField()
    number = serializers.CharField()


class PlaceSerializer(serializers.Serializer):
    country = serializers.CharField()
    region = serializers.CharField()
    postcode = serializers.CharField()


class EstimateSerializer(serializers.Serializer):
    window_start = serializers.DateField(source="estimate_window_start", allow_null=True)
    window_end = serializers.DateField(source="estimate_window_end", allow_null=True)
    central = serializers.DateField(source="estimate_central", allow_null=True)
    promise_date = serializers.DateField(allow_null=True)
    first_promise_date = serializers.DateField(allow_null=True)
    confidence = serializers.FloatField(source="estimate_confidence", allow_null=True)
    updated_at = serializers.DateTimeField(source="estimate_updated_at", allow_null=True)


class ShipmentSerializer(serializers.ModelSerializer):
    id = serializers.CharField(source="public_id", help_text="Opaque shipment id.")
    order = ShipmentOrderSerializer(read_only=True)
    origin = serializers.SerializerMethodField()
    destination = serializers.SerializerMethodField()
    estimate = EstimateSerializer(source="*", read_only=True)
    lines = ShipmentLineSerializer(source="shipment_lines", many=True, read_only=True)

    class Meta:
        model = Shipment
        fields = [
            "id",
            "order",
            "external_id",
            "carrier",
            "service",
            "tracking_number",
            "status",
            "status_reason",
            "action_required",
            "lifecycle",
            "shipped_at",
            "last_event_at",
            "delivered_at",
            "origin",
            "destination",
            "estimate",
            "lines",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields

    @staticmethod
    def _place(country: str, region: str, postcode: str) -> dict[str, str]:
        return {"country": country, "region": region, "postcode": postcode}

    @extend_schema_field(PlaceSerializer)
    def get_origin(self, shipment: Shipment) -> dict[str, str]:
        return self._place(
            shipment.origin_country, shipment.origin_region, shipment.origin_postcode
        )

    @extend_schema_field(PlaceSerializer)
    def get_destination(self, shipment: Shipment) -> dict[str, str]:
        return self._place(
            shipment.destination_country,
            shipment.destination_region,
            shipment.destination_postcode,
        )


# --- filters --------------------------------------------------------------------------------


class ShipmentFilter(django_filters.FilterSet):
    carrier = django_filters.CharFilter(method="filter_carrier")
    tracking_number = django_filters.CharFilter(method="filter_tracking_number")
    status = django_filters.ChoiceFilter(choices=[(s.value, s.label) for s in ShipmentStatus])
    order = django_filters.CharFilter(field_name="order__external_id", label="Order external id")
    shipped_after = UtcDateTimeFilter(field_name="shipped_at", lookup_expr="gte")
    shipped_before = UtcDateTimeFilter(field_name="shipped_at", lookup_expr="lt")
    updated_after = UtcDateTimeFilter(field_name="updated_at", lookup_expr="gte")

    class Meta:
        model = Shipment
        fields: list[str] = []

    def filter_carrier(self, queryset: QuerySet[Shipment], name: str, value: str) -> Any:
        return queryset.filter(carrier=services.carrier_normalise(value))

    def filter_tracking_number(self, queryset: QuerySet[Shipment], name: str, value: str) -> Any:
        return queryset.filter(tracking_number=services.tracking_number_normalise(value))


# --- views ----------------------------------------------------------------------------------


@extend_schema_view(
    list=extend_schema(
        summary="List shipments", responses={200: ShipmentSerializer, **LIST_ERRORS}
    ),
    retrieve=extend_schema(
        summary="Get a shipment",
        parameters=[OpenApiParameter("public_id", str, OpenApiParameter.PATH)],
        responses={200: ShipmentSerializer, **READ_ERRORS},
    ),
)
class ShipmentViewSet(viewsets.ReadOnlyModelViewSet):
    """Shipments, addressed by their opaque public id."""

    queryset = Shipment.objects.none()  # the real one is per merchant: get_queryset
    serializer_class = ShipmentSerializer
    filterset_class = ShipmentFilter
    lookup_field = "public_id"
    required_scopes = {"GET": ApiScope.SHIPMENTS_READ}

    def get_queryset(self) -> QuerySet[Shipment]:
        return selectors.shipment_list(merchant=request_merchant(self.request))

    def get_object(self) -> Shipment:
        return selectors.shipment_get(
            merchant=request_merchant(self.request), public_id=self.kwargs["public_id"]
        )


class OrderShipmentViewSet(IdempotentPostMixin, viewsets.GenericViewSet):
    """POST a shipment for one order (the order in the URL by its external id)."""

    queryset = Shipment.objects.none()
    serializer_class = ShipmentSerializer
    parser_classes = [JSONParser]
    required_scopes = {"POST": ApiScope.SHIPMENTS_WRITE}

    def get_queryset(self) -> QuerySet[Shipment]:
        return selectors.shipment_list(merchant=request_merchant(self.request))

    @extend_schema(
        summary="Create a shipment for an order",
        description=(
            "Idempotent by carrier + tracking number within the order: 201 when created, "
            "200 with the existing shipment otherwise. Line quantities may not exceed what "
            "is left to ship."
        ),
        request=ShipmentCreateSerializer,
        parameters=[
            OpenApiParameter("external_id", str, OpenApiParameter.PATH),
            IDEMPOTENCY_KEY_PARAMETER,
        ],
        responses={201: ShipmentSerializer, 200: ShipmentSerializer, **WRITE_ERRORS},
    )
    def create(self, request: Request, external_id: str) -> Response:
        merchant = request_merchant(request)
        order = commerce_selectors.order_get(merchant=merchant, external_id=external_id)
        body = ShipmentCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        lines_by_id = {line.external_id: line for line in order.lines.all()}
        unknown = {
            f"lines.{i}.order_line": [f"This order has no line '{item['order_line']}'."]
            for i, item in enumerate(data.get("lines", []))
            if item["order_line"] not in lines_by_id
        }
        if unknown:
            raise InvalidInputError(unknown, code=TrackingErrorCode.LINE_NOT_IN_ORDER)
        origin = data.get("origin", {})
        destination = data.get("destination", {})
        result = services.shipment_get_or_create(
            order=order,
            carrier=data["carrier"],
            tracking_number=data["tracking_number"],
            service=data["service"],
            external_id=data["external_id"],
            shipped_at=data["shipped_at"],
            lines=[
                (lines_by_id[item["order_line"]], item["quantity"])
                for item in data.get("lines", [])
            ],
            origin_country=origin.get("country", ""),
            origin_region=origin.get("region", ""),
            origin_postcode=origin.get("postcode", ""),
            destination_country=destination.get("country", ""),
            destination_region=destination.get("region", ""),
            destination_postcode=destination.get("postcode", ""),
        )
        shipment = selectors.shipment_get(merchant=merchant, public_id=result.shipment.public_id)
        return Response(
            ShipmentSerializer(shipment).data,
            status=status.HTTP_201_CREATED if result.created else status.HTTP_200_OK,
        )
