"""Writes of the messaging engine: enqueue (render, decide, ledger), send, release held messages.

`notification_enqueue` is the one entry point other apps call. Each message gets a deterministic
idempotency key (event, recipient address, channel) behind a unique constraint, so a redelivered
event or a retried task never makes a second message; sending claims a message by moving it from
`queued` to `sending`, so a duplicated send task never sends it twice.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import uuid
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import connection, transaction
from django.utils import timezone

from notifications import selectors
from notifications.consent import normalise_address
from notifications.domain import Recipient
from notifications.errors import NotificationErrorCode
from notifications.ledger_rows import messages_insert_ledgered
from notifications.models import (
    Channel,
    Message,
    MessageStatus,
    MessagingSettings,
    Purpose,
    PushSubscription,
)
from notifications.quiet_hours import local_day_bounds, quiet_until, zone_or_default
from notifications.rendering import (
    LANGUAGES_WITH_DEFAULTS,
    TemplateSource,
    plain_data,
    render_message,
)
from notifications.tokens import tracking_url, unsubscribe_token, unsubscribe_url
from notifications.triggers import TriggerSpec, trigger_get
from postpurchase.errors import DomainError
from postpurchase.models import Merchant

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class NotificationRequest:
    """One trigger for one recipient, as `notifications_enqueue_many` takes it."""

    trigger: str
    recipient: Recipient
    context: Any  # a frozen dataclass of plain data
    event_id: str
    order_ref: str = ""
    customer_ref: str = ""


def idempotency_key(*, event_id: str, channel: str, address: str) -> str:
    """The same event to the same contact point on the same channel is one message."""
    return hashlib.sha256(f"{event_id}\x1f{channel}\x1f{address}".encode()).hexdigest()


def notification_enqueue(
    *,
    merchant: Merchant,
    trigger: str,
    recipient: Recipient,
    context: Any,
    event_id: str,
    order_ref: str = "",
    customer_ref: str = "",
) -> list[Message]:
    """Create the messages a trigger calls for (one per enabled channel and contact point).

    Returns only the messages this call created: a repeat of the same event returns [].
    """
    request = NotificationRequest(
        trigger=trigger,
        recipient=recipient,
        context=context,
        event_id=event_id,
        order_ref=order_ref,
        customer_ref=customer_ref or recipient.customer_ref,
    )
    return notifications_enqueue_many(merchant=merchant, requests=[request])


# --- Enqueue ----------------------------------------------------------------------------------


@dataclass
class _Draft:
    message: Message
    due_at: datetime | None = None


@dataclass
class RenderBatch:
    """What one enqueue call reads once and reuses for every message."""

    merchant: Merchant
    rules: MessagingSettings
    toggles: dict[tuple[str, str], bool]
    now: datetime
    token: str = dataclasses.field(default_factory=lambda: uuid.uuid4().hex)
    branding: dict[str, Any] = dataclasses.field(default_factory=dict)
    overrides: dict[tuple[str, str, str], TemplateSource | None] = dataclasses.field(
        default_factory=dict
    )
    push_by_customer: defaultdict[str, list[PushSubscription]] = dataclasses.field(
        default_factory=lambda: defaultdict(list)
    )
    push_by_order: defaultdict[str, list[PushSubscription]] = dataclasses.field(
        default_factory=lambda: defaultdict(list)
    )


def branding_of(merchant: Merchant) -> dict[str, Any]:
    logo = ""
    if merchant.logo:
        logo = f"{settings.NOTIFICATIONS_BASE_URL.rstrip('/')}{merchant.logo.url}"
    return {
        "name": merchant.name,
        "slug": merchant.slug,
        "support_email": merchant.support_email,
        "support_url": merchant.support_url,
        "website": merchant.website,
        "logo_url": logo,
        "primary_colour": merchant.primary_colour,
        "accent_colour": merchant.accent_colour,
        "text_colour": merchant.text_colour,
        "background_colour": merchant.background_colour,
        "font_family": merchant.font_family,
    }


def message_language(merchant: Merchant, preferred: str) -> str:
    """The recipient's language when the merchant offers it, else the merchant's default."""
    offered = merchant.offered_languages
    for candidate in (preferred, preferred.split("-")[0] if preferred else ""):
        if candidate and candidate in offered:
            return candidate
    return merchant.default_language or "en"


def _override(
    batch: RenderBatch, trigger: str, channel: str, language: str
) -> TemplateSource | None:
    key = (trigger, channel, language)
    if key not in batch.overrides:
        found = selectors.template_override_for(
            merchant=batch.merchant, trigger=trigger, channel=channel, language=language
        )
        batch.overrides[key] = (
            TemplateSource(found.subject, found.body_text, found.body_html) if found else None
        )
    return batch.overrides[key]


def _addresses(
    batch: RenderBatch, channel: str, request: NotificationRequest
) -> list[tuple[str, tuple[tuple[str, str], ...]]]:
    recipient = request.recipient
    if channel in (Channel.EMAIL, Channel.SMS):
        raw = (recipient.email if channel == Channel.EMAIL else recipient.phone).strip()
        if not raw:
            return []
        # An unusable address is kept as given: the message is recorded as suppressed with why.
        address = normalise_address(channel, raw, country=batch.merchant.country) or raw
        return [(address[:500], ())]
    subscriptions = {
        s.pk: s
        for ref, by_ref in (
            (request.customer_ref, batch.push_by_customer),
            (request.order_ref, batch.push_by_order),
        )
        if ref
        for s in by_ref.get(ref, ())
    }
    return [
        (s.endpoint, (("p256dh", s.p256dh), ("auth", s.auth)))
        for _, s in sorted(subscriptions.items())
    ]


def _load_push_subscriptions(batch: RenderBatch, requests: Sequence[NotificationRequest]) -> None:
    """The batch's push subscriptions in one read, by customer and by order."""
    for subscription in selectors.push_subscriptions_for_many(
        merchant=batch.merchant,
        customer_refs=[r.customer_ref for r in requests],
        order_refs=[r.order_ref for r in requests],
    ):
        if subscription.customer_ref:
            batch.push_by_customer[subscription.customer_ref].append(subscription)
        if subscription.order_ref:
            batch.push_by_order[subscription.order_ref].append(subscription)


def _check_context(request: NotificationRequest) -> None:
    context = request.context
    params = getattr(type(context), "__dataclass_params__", None)
    if params is None or not params.frozen:
        raise DomainError(
            NotificationErrorCode.CONTEXT_NOT_PLAIN,
            f"The context of {request.trigger!r} must be a frozen dataclass, "
            f"not {type(context).__name__}.",
        )


def _spec(trigger: str) -> TriggerSpec:
    spec = trigger_get(trigger)
    if spec is None:
        raise DomainError(NotificationErrorCode.UNKNOWN_TRIGGER, f"No trigger named {trigger!r}.")
    return spec


def template_data(
    batch: RenderBatch, request: NotificationRequest, base: dict[str, Any], language: str
) -> dict[str, Any]:
    recipient = request.recipient
    items = base.get("items") or []
    first_item = items[0] if items and isinstance(items[0], dict) else {}
    tracking_ref = base.get("tracking_ref") or ""
    data = dict(base)
    data.update(
        {
            "language": language,
            "merchant": batch.branding,
            "shopper": {
                "name": recipient.name,
                "first_name": recipient.first_name or recipient.name.split(" ")[0],
            },
            "product": first_item.get("title", ""),
            "more_items": max(0, len(items) - 1),
            "tracking_url": tracking_url(
                merchant_slug=batch.merchant.slug, tracking_ref=str(tracking_ref)
            )
            if tracking_ref
            else "",
        }
    )
    return data


def _draft(
    batch: RenderBatch,
    request: NotificationRequest,
    spec: TriggerSpec,
    channel: str,
    address: str,
    push_keys: tuple[tuple[str, str], ...],
    key: str,
) -> _Draft:
    recipient = request.recipient
    language = message_language(batch.merchant, recipient.language)
    zone = zone_or_default(
        str(getattr(request.context, "destination_time_zone", "") or ""),
        recipient.time_zone,
        batch.merchant.time_zone,
    )
    base = plain_data(request.context, language=language, zone=zone)
    data = template_data(batch, request, base, language)
    headers: dict[str, str] = {}
    if channel == Channel.EMAIL:
        token = unsubscribe_token(
            merchant_id=batch.merchant.pk,
            channel=channel,
            address=address,
            purpose=spec.purpose,
            message_key=key,
            language=language,
        )
        url = unsubscribe_url(token)
        data["unsubscribe_url"] = url
        headers = {
            "List-Unsubscribe": f"<{url}>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        }
    override = _override(batch, spec.key, channel, language)
    if override is None and language not in LANGUAGES_WITH_DEFAULTS:
        language = "en"
    rendered = render_message(
        trigger=spec.key, channel=channel, language=language, data=data, override=override
    )
    message = Message(
        merchant=batch.merchant,
        idempotency_key=key,
        enqueue_token=batch.token,
        event_id=request.event_id[:100],
        trigger=spec.key,
        channel=channel,
        purpose=spec.purpose,
        language=language,
        to_address=address,
        recipient_name=recipient.name[:200],
        time_zone=zone,
        order_ref=request.order_ref[:100],
        customer_ref=request.customer_ref[:100],
        subject=rendered.subject[:300],
        body_text=rendered.text,
        body_html=rendered.html,
        headers={**headers, **({"push_keys": dict(push_keys)} if push_keys else {})},
        link_url=str(data.get("tracking_url", ""))[:500],
    )
    return _Draft(message=message)


def _decide(batch: RenderBatch, drafts: list[_Draft]) -> None:
    """Suppress, cap or hold each draft; what is left stays queued."""
    by_channel: dict[str, list[_Draft]] = defaultdict(list)
    for draft in drafts:
        by_channel[draft.message.channel].append(draft)
    marketing_sent = _marketing_counts(batch, drafts)
    quiet_channels = set(batch.rules.quiet_hours_channels or Channel.values)
    for channel, group in by_channel.items():
        addresses = {d.message.to_address for d in group}
        suppressed = selectors.suppressed_addresses(
            merchant=batch.merchant, channel=channel, addresses=addresses
        )
        consents = selectors.consent_states(
            merchant=batch.merchant, channel=channel, addresses=addresses
        )
        for draft in group:
            message = draft.message
            reason = block_reason(message, suppressed, consents)
            if reason is None and message.purpose == Purpose.MARKETING:
                used = marketing_sent[message.customer_ref or message.to_address]
                if used >= batch.rules.marketing_daily_cap:
                    reason = "frequency cap: marketing limit for today reached"
                else:
                    marketing_sent[message.customer_ref or message.to_address] += 1
            if reason is not None:
                message.status = MessageStatus.SUPPRESSED
                message.status_reason = reason[:300]
                continue
            if batch.rules.quiet_hours_enabled and channel in quiet_channels:
                draft.due_at = quiet_until(
                    now=batch.now,
                    zone=message.time_zone,
                    start=batch.rules.quiet_hours_start,
                    end=batch.rules.quiet_hours_end,
                )
            if draft.due_at is not None:
                message.status = MessageStatus.HELD
                message.status_reason = (
                    f"quiet hours in {message.time_zone} until {draft.due_at:%Y-%m-%d %H:%M} UTC"
                )


def address_problem(channel: str, address: str) -> str | None:
    """Why a contact point cannot be used at all, or None."""
    if channel == Channel.EMAIL:
        try:
            validate_email(address)
        except ValidationError:
            return "invalid email address"
    elif channel == Channel.SMS and not address.removeprefix("whatsapp:").startswith("+"):
        return "invalid phone number"
    return None


def block_reason(
    message: Message, suppressed: dict[str, str], consents: dict[tuple[str, str], Any]
) -> str | None:
    problem = address_problem(message.channel, message.to_address)
    if problem is not None:
        return problem
    if message.to_address in suppressed:
        return f"suppressed address ({suppressed[message.to_address]})"
    latest = consents.get((message.to_address, message.purpose))
    if latest is not None and not latest.granted:
        return f"opted out ({latest.get_source_display()}, {latest.recorded_at:%Y-%m-%d %H:%M} UTC)"
    if message.purpose == Purpose.MARKETING and latest is None:
        return "no marketing consent for this contact point"
    return None


def _marketing_counts(batch: RenderBatch, drafts: list[_Draft]) -> Counter[str]:
    """Marketing messages already given to each recipient today (their local day)."""
    counts: Counter[str] = Counter()
    marketing = [d.message for d in drafts if d.message.purpose == Purpose.MARKETING]
    if not marketing:
        return counts
    if connection.vendor == "postgresql":
        # Serialise concurrent enqueues for the same people so the cap holds under races.
        for who in sorted({m.customer_ref or m.to_address for m in marketing}):
            lock = int.from_bytes(
                hashlib.sha256(f"cap:{batch.merchant.pk}:{who}".encode()).digest()[:8],
                "big",
                signed=True,
            )
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_xact_lock(%s)", [lock])
    for message in marketing:
        who = message.customer_ref or message.to_address
        if who in counts:
            continue
        start, end = local_day_bounds(now=batch.now, zone=message.time_zone)
        qs = (
            Message.objects.for_merchant(batch.merchant)
            .filter(
                purpose=Purpose.MARKETING, created_at__gte=start, created_at__lt=end, is_test=False
            )
            .exclude(status=MessageStatus.SUPPRESSED)
        )
        qs = qs.filter(customer_ref=who) if message.customer_ref else qs.filter(to_address=who)
        counts[who] = qs.count()
    return counts


@transaction.atomic
def notifications_enqueue_many(
    *, merchant: Merchant, requests: Sequence[NotificationRequest]
) -> list[Message]:
    """Enqueue many triggers at once (one read of the rules, one insert).

    See `notification_enqueue`; returns the messages this call created.
    """
    batch = RenderBatch(
        merchant=merchant,
        rules=selectors.messaging_settings_for(merchant=merchant),
        toggles=selectors.trigger_toggles(merchant=merchant),
        now=timezone.now(),
    )
    batch.branding = branding_of(merchant)
    planned: list[
        tuple[NotificationRequest, TriggerSpec, str, str, tuple[tuple[str, str], ...], str]
    ] = []
    channels_of: dict[str, list[str]] = {}
    for request in requests:
        spec = _spec(request.trigger)
        _check_context(request)
        if request.trigger not in channels_of:
            channels_of[request.trigger] = selectors.channels_enabled(spec, batch.toggles)
    if any(Channel.PUSH in channels for channels in channels_of.values()):
        _load_push_subscriptions(batch, requests)
    for request in requests:
        spec = _spec(request.trigger)
        for channel in channels_of[request.trigger]:
            for address, keys in _addresses(batch, channel, request):
                key = idempotency_key(event_id=request.event_id, channel=channel, address=address)
                planned.append((request, spec, channel, address, keys, key))
    if not planned:
        return []
    existing = set(
        Message.objects.for_merchant(merchant)
        .filter(idempotency_key__in=[p[5] for p in planned])
        .values_list("idempotency_key", flat=True)
    )
    drafts: dict[str, _Draft] = {}
    for request, spec, channel, address, keys, key in planned:
        if key in existing or key in drafts:
            continue
        drafts[key] = _draft(batch, request, spec, channel, address, keys, key)
    if not drafts:
        return []
    _decide(batch, list(drafts.values()))
    created = messages_insert_ledgered(
        rows=[(draft.message, draft.due_at) for draft in drafts.values()], now=batch.now
    )
    queued = [m.pk for m in created if m.status == MessageStatus.QUEUED]
    if queued:
        transaction.on_commit(lambda: dispatch_send(queued), robust=True)
    return created


def dispatch_send(message_ids: list[int]) -> None:
    from notifications.tasks import messages_send

    size = settings.NOTIFICATIONS_SEND_BATCH
    for start in range(0, len(message_ids), size):
        chunk = message_ids[start : start + size]
        try:
            messages_send.delay(chunk)
        except Exception as exc:  # broker down: rows stay queued; the stuck sweep re-dispatches
            if settings.CELERY_TASK_ALWAYS_EAGER:
                raise
            logger.warning("send of %d messages not enqueued (%s)", len(chunk), exc)
