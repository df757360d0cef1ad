"""Routes under /api/: the v1 endpoints, the OpenAPI schema and its two viewers (served locally).

Each app adds its v1 routes here, one line each.
"""

from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView
from rest_framework.permissions import AllowAny

import postpurchase.api.schema  # noqa: F401 - registers the bearer-key security scheme
from commerce.api import CustomerViewSet, OrderViewSet, ProductViewSet
from estimates.api import EstimateView
from postpurchase.api.views import api_not_found
from tracking.api import OrderShipmentViewSet, ShipmentViewSet

_public = {"authentication_classes": [], "permission_classes": [AllowAny]}

# External ids may contain "/" (Shopify gids), so they are matched with the `path` converter;
# the routes with a suffix come first.
v1 = [
    path(
        "orders/<path:external_id>/shipments/",
        OrderShipmentViewSet.as_view({"post": "create"}),
        name="order-shipments",
    ),
    path(
        "orders/<path:external_id>/cancel/",
        OrderViewSet.as_view({"post": "cancel"}),
        name="order-cancel",
    ),
    path("orders/", OrderViewSet.as_view({"get": "list", "post": "create"}), name="order-list"),
    path(
        "orders/<path:external_id>/",
        OrderViewSet.as_view({"get": "retrieve"}),
        name="order-detail",
    ),
    path("customers/", CustomerViewSet.as_view({"get": "list"}), name="customer-list"),
    path(
        "customers/<path:external_id>/",
        CustomerViewSet.as_view({"get": "retrieve"}),
        name="customer-detail",
    ),
    path(
        "products/", ProductViewSet.as_view({"get": "list", "post": "create"}), name="product-list"
    ),
    path(
        "products/<path:sku>/", ProductViewSet.as_view({"get": "retrieve"}), name="product-detail"
    ),
    path("shipments/", ShipmentViewSet.as_view({"get": "list"}), name="shipment-list"),
    path(
        "shipments/<str:public_id>/",
        ShipmentViewSet.as_view({"get": "retrieve"}),
        name="shipment-detail",
    ),
    path("estimates/", EstimateView.as_view(), name="estimates"),
]

urlpatterns = [
    path("v1/", include(v1)),
    # Anything else under v1 (including ids no route accepts) is a JSON 404, not an HTML page.
    re_path(r"^v1/(?P<unmatched>[\s\S]*)$", api_not_found, name="api-not-found"),
    path("schema/", SpectacularAPIView.as_view(**_public), name="api-schema"),
    path(
        "docs/",
        SpectacularSwaggerView.as_view(url_name="api-schema", **_public),
        name="api-docs",
    ),
    path(
        "redoc/",
        SpectacularRedocView.as_view(
            url_name="api-schema", template_name="api/redoc.html", **_public
        ),
        name="api-redoc",
    ),
]
