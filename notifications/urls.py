"""Public notification endpoints, mounted at /notifications/."""

from django.urls import path

from notifications import views

app_name = "notifications"

urlpatterns = [
    path("unsubscribe/<str:token>/", views.unsubscribe, name="unsubscribe"),
    path("push/key/", views.push_public_key, name="push-key"),
    path("<slug:merchant_slug>/push/subscribe/", views.push_subscribe, name="push-subscribe"),
    path("<slug:merchant_slug>/twilio/sms/", views.twilio_inbound_sms, name="twilio-sms"),
    path("<slug:merchant_slug>/twilio/status/", views.twilio_sms_status, name="twilio-status"),
]
