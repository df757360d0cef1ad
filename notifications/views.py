"""Public endpoints: one-click unsubscribe (RFC 8058), Twilio inbound SMS, push subscriptions."""

from __future__ import annotations

import json
import logging

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, render
from django.utils import translation
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from twilio.request_validator import RequestValidator

from notifications.consent import (
    inbound_sms_record,
    push_subscription_save,
    sms_status_record,
    unsubscribe_apply,
)
from notifications.tokens import push_token_read, unsubscribe_token_read
from postpurchase.errors import DomainError
from postpurchase.models import Merchant

logger = logging.getLogger(__name__)

EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response></Response>'


@csrf_exempt  # the signed token is the authority; RFC 8058 POSTs come without cookies
@require_http_methods(["GET", "POST"])
def unsubscribe(request: HttpRequest, token: str) -> HttpResponse:
    """GET shows a confirmation page and never unsubscribes; POST (one-click or the form) does."""
    try:
        claim = unsubscribe_token_read(token)
    except DomainError as exc:
        return render(
            request,
            "notifications/pages/unsubscribe_invalid.html",
            {"error": exc.message},
            status=400,
        )
    merchant = get_object_or_404(Merchant, pk=claim.merchant_id, is_active=True)
    if claim.language in dict(settings.LANGUAGES):
        # The page answers in the language the message was written in, whatever the browser says.
        translation.activate(claim.language)
    context = {"merchant": merchant, "address": claim.address, "purpose": claim.purpose}
    if request.method == "GET":
        return render(request, "notifications/pages/unsubscribe_confirm.html", context)
    unsubscribe_apply(
        merchant=merchant,
        channel=claim.channel,
        address=claim.address,
        purpose=claim.purpose,
        message_key=claim.message_key,
    )
    return render(request, "notifications/pages/unsubscribe_done.html", context)


def _twilio_url(request: HttpRequest) -> str:
    # Twilio signs the URL it called; behind a proxy that is the public address, not ours.
    return f"{settings.NOTIFICATIONS_BASE_URL.rstrip('/')}{request.get_full_path()}"


def _twilio_params(request: HttpRequest, merchant: Merchant) -> dict[str, str] | None:
    """The form parameters of a request Twilio signed, or None when the signature is wrong."""
    signature = request.headers.get("X-Twilio-Signature", "")
    params = {key: request.POST.get(key, "") for key in request.POST}
    validator = RequestValidator(settings.TWILIO_AUTH_TOKEN)
    if not settings.TWILIO_AUTH_TOKEN or not validator.validate(
        _twilio_url(request), params, signature
    ):
        logger.warning("rejected Twilio webhook for %s: bad signature", merchant.slug)
        return None
    return params


@csrf_exempt
@require_POST
def twilio_inbound_sms(request: HttpRequest, merchant_slug: str) -> HttpResponse:
    """Twilio's inbound SMS webhook: verify the signature, store once, act on STOP/START."""
    merchant = get_object_or_404(Merchant, slug=merchant_slug, is_active=True)
    params = _twilio_params(request, merchant)
    if params is None:
        return HttpResponse("invalid signature", status=403, content_type="text/plain")
    inbound_sms_record(merchant=merchant, payload=params)
    return HttpResponse(EMPTY_TWIML, content_type="text/xml")


@csrf_exempt
@require_POST
def twilio_sms_status(request: HttpRequest, merchant_slug: str) -> HttpResponse:
    """Twilio's status callback: delivered / undelivered / failed, recorded once on the ledger."""
    merchant = get_object_or_404(Merchant, slug=merchant_slug, is_active=True)
    params = _twilio_params(request, merchant)
    if params is None:
        return HttpResponse("invalid signature", status=403, content_type="text/plain")
    sms_status_record(merchant=merchant, payload=params)
    return HttpResponse(status=204)


@csrf_exempt  # called by the service worker snippet with a signed token, no session
@require_POST
def push_subscribe(request: HttpRequest, merchant_slug: str) -> JsonResponse:
    """Store a browser PushSubscription for the order named by the page's signed token."""
    merchant = get_object_or_404(Merchant, slug=merchant_slug, is_active=True)
    try:
        body = json.loads(request.body or b"{}")
    except (json.JSONDecodeError, UnicodeDecodeError):
        return JsonResponse(
            {"error": {"code": "invalid_json", "message": _("Send a JSON body.")}}, status=400
        )
    if not isinstance(body, dict):
        return JsonResponse(
            {"error": {"code": "invalid_json", "message": _("Send a JSON object.")}}, status=400
        )
    subscription = body.get("subscription") or {}
    keys = subscription.get("keys") or {} if isinstance(subscription, dict) else {}
    try:
        order_ref, customer_ref = push_token_read(
            merchant_slug=merchant.slug, token=str(body.get("token", ""))
        )
        saved = push_subscription_save(
            merchant=merchant,
            endpoint=str(subscription.get("endpoint", ""))
            if isinstance(subscription, dict)
            else "",
            p256dh=str(keys.get("p256dh", "")) if isinstance(keys, dict) else "",
            auth=str(keys.get("auth", "")) if isinstance(keys, dict) else "",
            order_ref=order_ref,
            customer_ref=customer_ref,
            language=str(body.get("language", ""))[:8],
            user_agent=request.headers.get("User-Agent", "")[:300],
        )
    except DomainError as exc:
        return JsonResponse(
            {"error": {"code": exc.code, "message": exc.message, "field": exc.field}}, status=400
        )
    return JsonResponse({"subscribed": True, "id": saved.pk}, status=201)


@require_GET
def push_public_key(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"public_key": settings.VAPID_PUBLIC_KEY})
