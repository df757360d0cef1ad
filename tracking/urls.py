"""Tracking's public endpoints: inbound webhooks (included at /webhooks/)."""

from django.urls import path

from tracking import views

app_name = "tracking_webhooks"

urlpatterns = [
    path("<slug:source>/<slug:merchant_slug>/", views.webhook_receive, name="receive"),
]
