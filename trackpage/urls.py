"""Tracking page URLs, mounted at `<merchant-slug>/track/` (and at the root of a custom domain)."""

from django.urls import path

from trackpage import views

app_name = "trackpage"

urlpatterns = [
    path("", views.lookup, name="lookup"),
    path("t/<str:token>/", views.page, name="page"),
    path("t/<str:token>/live/", views.live, name="live"),
    path("t/<str:token>/rate/", views.rate, name="rate"),
    path("t/<str:token>/calendar/<str:shipment>.ics", views.calendar, name="calendar"),
    path("s/<str:token>/", views.status, name="status"),
    path("s/<str:token>/live/", views.status_live, name="status_live"),
    path("go/<str:token>/", views.go, name="go"),
]
