"""REST API v1 for delivery estimates before purchase, and the public endpoint of the embeddable
script (the same answer, looked up by merchant slug, for product pages)."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from django.shortcuts import get_object_or_404
from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import AnonRateThrottle
from rest_framework.views import APIView

from commerce.validation import country_error
from estimates import messages, selectors
from estimates.services import CartInput, PrePurchaseEstimate, prepurchase_estimate
from postpurchase.api.permissions import request_merchant
from postpurchase.errors import NotFoundError
from postpurchase.models import ApiScope, Merchant

_POSTCODE_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 -]{0,14}$")
_METHOD_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,39}(:[A-Za-z0-9][A-Za-z0-9 _.-]{0,79})?$")
MAX_REQUEST_SKEW = timedelta(days=366)


class EstimateRequestSerializer(serializers.Serializer):
    warehouse = serializers.CharField(
        max_length=40, required=False, help_text="Origin warehouse code (or give `product`)."
    )
    product = serializers.CharField(
        max_length=100, required=False, help_text="SKU; ships from the default warehouse."
    )
    destination_country = serializers.CharField(max_length=2, help_text="ISO code, e.g. JP.")
    destination_postcode = serializers.CharField(max_length=15)
    destination_region = serializers.CharField(
        max_length=100, required=False, allow_blank=True, default=""
    )
    shipping_method = serializers.CharField(
        max_length=120, help_text="Carrier, or carrier:service, e.g. 'yamato:takkyubin'."
    )
    requested_at = serializers.DateTimeField(
        required=False, help_text="The moment to answer for (default: now)."
    )
    language = serializers.ChoiceField(
        choices=list(messages.LANGUAGES), required=False, default="en"
    )

    def validate_destination_country(self, value: str) -> str:
        code = value.strip().upper()
        error = country_error(code)
        if error:
            raise serializers.ValidationError(error)
        return code

    def validate_destination_postcode(self, value: str) -> str:
        value = value.strip()
        if not _POSTCODE_RE.match(value):
            raise serializers.ValidationError(
                "Use letters, digits, spaces and hyphens only, e.g. '150-0001'."
            )
        return value

    def validate_shipping_method(self, value: str) -> str:
        value = value.strip()
        if not _METHOD_RE.match(value):
            raise serializers.ValidationError(
                "Give a carrier code, optionally with a service: 'ups' or 'ups:ground'."
            )
        return value

    def validate_requested_at(self, value: Any) -> Any:
        if abs(value - timezone.now()) > MAX_REQUEST_SKEW:
            raise serializers.ValidationError("Must be within a year of now.")
        return value

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        merchant: Merchant = self.context["merchant"]
        errors: dict[str, str] = {}
        if attrs.get("warehouse") and attrs.get("product"):
            errors["warehouse"] = "Give either a warehouse or a product, not both."
        elif not attrs.get("warehouse") and not attrs.get("product"):
            errors["warehouse"] = "Give the origin warehouse code, or a product SKU."
        try:
            if attrs.get("warehouse") and not errors:
                attrs["warehouse_obj"] = selectors.warehouse_get(
                    merchant=merchant, code=attrs["warehouse"]
                )
            if attrs.get("product") and not errors:
                attrs["product_obj"] = selectors.product_get(
                    merchant=merchant, sku=attrs["product"]
                )
                attrs["warehouse_obj"] = selectors.warehouse_default(merchant=merchant)
                if attrs["warehouse_obj"] is None:
                    errors["product"] = "The store has no warehouse set up to ship it from."
        except NotFoundError as exc:
            errors["product" if attrs.get("product") else "warehouse"] = exc.message
        if errors:
            raise serializers.ValidationError(errors)
        return attrs

    def cart(self) -> CartInput:
        data = self.validated_data
        carrier, _, service = data["shipping_method"].partition(":")
        return CartInput(
            destination_country=data["destination_country"],
            destination_postcode=data["destination_postcode"],
            destination_region=data.get("destination_region", ""),
            carrier=carrier,
            service=service,
            warehouse=data.get("warehouse_obj"),
            product=data.get("product_obj"),
        )


class WindowSerializer(serializers.Serializer):
    start = serializers.DateField()
    end = serializers.DateField()


class OrderBySerializer(serializers.Serializer):
    cutoff_at = serializers.DateTimeField()
    seconds_left = serializers.IntegerField()
    message = serializers.CharField()


class GiftDeadlineSerializer(serializers.Serializer):
    name = serializers.CharField()
    date = serializers.DateField()
    order_by = serializers.DateTimeField(allow_null=True)
    message = serializers.CharField()


class EstimateResponseSerializer(serializers.Serializer):
    window = WindowSerializer()
    central = serializers.DateField()
    promise = serializers.DateField()
    message = serializers.CharField()
    order_by = OrderBySerializer()
    if_ordered_after_cutoff = WindowSerializer()
    gift_dates = GiftDeadlineSerializer(many=True)
    model_version = serializers.CharField()
    confidence = serializers.FloatField(allow_null=True)


def estimate_payload(result: PrePurchaseEstimate, *, language: str, tz: str) -> dict[str, Any]:
    """The answer in the API's shape, with its sentences in `language`."""
    estimate = result.estimate
    return {
        "window": {"start": estimate.window_start, "end": estimate.window_end},
        "central": estimate.central,
        "promise": estimate.promise,
        "message": messages.window_message(
            start=estimate.window_start, end=estimate.window_end, language=language
        ),
        "order_by": {
            "cutoff_at": result.cutoff_at,
            "seconds_left": int(result.time_left.total_seconds()),
            "message": messages.countdown_message(
                time_left=result.time_left, promise=estimate.promise, language=language
            ),
        },
        "if_ordered_after_cutoff": {
            "start": result.after_cutoff.window_start,
            "end": result.after_cutoff.window_end,
        },
        "gift_dates": [
            {
                "name": gift.name,
                "date": gift.date,
                "order_by": gift.order_by,
                "message": messages.gift_message(
                    name=gift.name, order_by=gift.order_by, language=language, tz=tz
                ),
            }
            for gift in result.gift_deadlines
        ],
        "model_version": estimate.model_version,
        "confidence": estimate.confidence,
    }


def _answer(request_data: Any, merchant: Merchant) -> Response:
    serializer = EstimateRequestSerializer(data=request_data, context={"merchant": merchant})
    serializer.is_valid(raise_exception=True)
    result = prepurchase_estimate(
        merchant=merchant,
        cart=serializer.cart(),
        requested_at=serializer.validated_data.get("requested_at"),
    )
    warehouse = result.warehouse
    payload = estimate_payload(
        result,
        language=serializer.validated_data["language"],
        tz=warehouse.time_zone if warehouse else merchant.time_zone,
    )
    return Response(EstimateResponseSerializer(payload).data)


class EstimateView(APIView):
    """`POST /api/v1/estimates/`: when would this arrive if ordered now?"""

    required_scopes = {"POST": ApiScope.ESTIMATES.value}

    @extend_schema(request=EstimateRequestSerializer, responses=EstimateResponseSerializer)
    def post(self, request: Request) -> Response:
        return _answer(request.data, request_merchant(request))


class WidgetThrottle(AnonRateThrottle):
    rate = "120/min"


class WidgetEstimateView(APIView):
    """`GET /estimates/widget/<merchant slug>/?...`: the same answer for the embeddable script.

    Public (a product page has no secret key); it reveals nothing but delivery dates.
    """

    authentication_classes: list[Any] = []
    permission_classes = [AllowAny]
    throttle_classes = [WidgetThrottle]

    @extend_schema(parameters=[EstimateRequestSerializer], responses=EstimateResponseSerializer)
    def get(self, request: Request, merchant_slug: str) -> Response:
        merchant = get_object_or_404(Merchant, slug=merchant_slug, is_active=True)
        response = _answer(request.query_params, merchant)
        response["Access-Control-Allow-Origin"] = "*"
        response["Cache-Control"] = "public, max-age=60"
        return response
