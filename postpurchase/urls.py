"""Project URLs. Apps add their own includes here."""

from django.conf import settings
from django.urls import include, path

from postpurchase import views
from postpurchase.admin_sites import console_site, ops_site

urlpatterns = [
    path(settings.ADMIN_URL, console_site.urls),
    path(settings.OPS_ADMIN_URL, ops_site.urls),
    path("healthz", views.healthz, name="healthz"),
    path("webhooks/", include("tracking.urls")),
    path("api/", include("postpurchase.api_urls")),
    path("estimates/", include("estimates.urls")),
    path("notifications/", include("notifications.urls")),
    path("anymail/", include("anymail.urls")),
    # Shopper tracking pages: last, so the fixed prefixes above win over a merchant slug.
    path("<slug:merchant_slug>/track/", include("trackpage.urls")),
]
