"""Public endpoints of the estimates app (included at /estimates/)."""

from django.urls import path

from estimates import views
from estimates.api import WidgetEstimateView

app_name = "estimates"

urlpatterns = [
    path("widget/<slug:merchant_slug>/", WidgetEstimateView.as_view(), name="widget"),
    path("strings/<slug:language>.json", views.widget_strings, name="strings"),
]
