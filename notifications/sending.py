"""Sending: claim queued messages, check consent again, hand them over, record the outcome.

A message is claimed by moving it from `queued` to `sending` under `select_for_update(skip_locked)`
(whoever moves it sends it). Consent is checked again at send time, so a STOP that arrives between
queueing and sending wins. Transient provider errors hold the message in the due-send table until
the backoff (at least the provider's Retry-After) has passed; permanent ones are recorded.
"""

from __future__ import annotations

import logging
import random
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from notifications import selectors
from notifications.channels import channel_for, send_many
from notifications.consent import contact_opt_out
from notifications.domain import OutgoingMessage, SendResult
from notifications.errors import RecipientOptedOut, SubscriptionGone
from notifications.models import (
    Channel,
    ConsentSource,
    DueSend,
    Message,
    MessageEvent,
    MessageEventType,
    MessageStatus,
    PushSubscription,
)
from notifications.services import block_reason, dispatch_send
from postpurchase.errors import TransientIntegrationError
from postpurchase.models import Merchant

logger = logging.getLogger(__name__)

STUCK_SENDING_AFTER = timedelta(minutes=15)
REDISPATCH_QUEUED_AFTER = timedelta(minutes=2)


@dataclass(frozen=True)
class SendSummary:
    claimed: int = 0
    sent: int = 0
    suppressed: int = 0
    retrying: int = 0
    failed: int = 0


def claim(message_ids: Sequence[int]) -> list[Message]:
    """Claim the queued messages among `message_ids` (moved to `sending`); the rest are skipped."""
    if connection.vendor == "postgresql":
        ids = _claim_postgresql(message_ids)
        if not ids:
            return []
        return _load_claimed(ids)
    with transaction.atomic():
        ids = list(
            Message.objects.select_for_update(skip_locked=True)
            .filter(pk__in=list(message_ids), status=MessageStatus.QUEUED, is_test=False)
            .values_list("pk", flat=True)
        )
        if not ids:
            return []
        Message.objects.filter(pk__in=ids).update(
            status=MessageStatus.SENDING, attempts=F("attempts") + 1, updated_at=timezone.now()
        )
    return _load_claimed(ids)


def _load_claimed(ids: Sequence[int]) -> list[Message]:
    """The claimed messages, each merchant loaded once for the batch (a join would build a
    Merchant instance per message)."""
    messages = list(Message.objects.filter(pk__in=list(ids)).order_by("pk"))
    merchants = Merchant.objects.in_bulk({m.merchant_id for m in messages})
    for message in messages:
        message.merchant = merchants[message.merchant_id]
    return messages


def _claim_postgresql(message_ids: Sequence[int]) -> list[int]:
    """Claim in one statement: lock the queued rows nobody else holds, move them to sending."""
    table = connection.ops.quote_name(Message._meta.db_table)
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET status = %s, attempts = attempts + 1, updated_at = %s "  # noqa: S608 - table name from the model, values bound
            f"WHERE id IN (SELECT id FROM {table} WHERE id = ANY(%s) AND status = %s "
            f"AND NOT is_test FOR UPDATE SKIP LOCKED) RETURNING id",
            [
                MessageStatus.SENDING.value,
                timezone.now(),
                [int(pk) for pk in message_ids],
                MessageStatus.QUEUED.value,
            ],
        )
        return [row[0] for row in cursor.fetchall()]


def claim_queued(limit: int) -> list[Message]:
    """Claim up to `limit` of the oldest queued messages, whichever tasks were sent for them.

    Any queued, non-test message may be sent by anyone who claims it (the stuck sweep already
    re-dispatches them by age): its own send task then finds it claimed and does nothing. Uses
    the partial index of queued messages (`message_queued_idx`).
    """
    if connection.vendor == "postgresql":
        table = connection.ops.quote_name(Message._meta.db_table)
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(
                f"UPDATE {table} SET status = %s, attempts = attempts + 1, updated_at = %s "  # noqa: S608 - table name from the model, values bound
                f"WHERE id IN (SELECT id FROM {table} WHERE status = %s AND NOT is_test "
                f"ORDER BY id LIMIT %s FOR UPDATE SKIP LOCKED) RETURNING id",
                [MessageStatus.SENDING.value, timezone.now(), MessageStatus.QUEUED.value, limit],
            )
            ids = [row[0] for row in cursor.fetchall()]
        return _load_claimed(ids) if ids else []
    with transaction.atomic():
        ids = list(
            Message.objects.select_for_update(skip_locked=True)
            .filter(status=MessageStatus.QUEUED, is_test=False)
            .order_by("pk")
            .values_list("pk", flat=True)[:limit]
        )
        if not ids:
            return []
        Message.objects.filter(pk__in=ids).update(
            status=MessageStatus.SENDING, attempts=F("attempts") + 1, updated_at=timezone.now()
        )
    return _load_claimed(ids)


def _still_allowed(messages: list[Message]) -> dict[int, str]:
    """Message id -> why it may no longer be sent (a STOP or bounce since it was queued)."""
    blocked: dict[int, str] = {}
    groups: dict[tuple[int, str], list[Message]] = defaultdict(list)
    for message in messages:
        groups[(message.merchant_id, message.channel)].append(message)
    for (_, channel), group in groups.items():
        merchant = group[0].merchant
        addresses = {m.to_address for m in group}
        suppressed = selectors.suppressed_addresses(
            merchant=merchant, channel=channel, addresses=addresses
        )
        consents = selectors.consent_states(merchant=merchant, channel=channel, addresses=addresses)
        for message in group:
            reason = block_reason(message, suppressed, consents)
            if reason is not None:
                blocked[message.pk] = reason
    return blocked


def outgoing_for(message: Message) -> OutgoingMessage:
    merchant = message.merchant
    headers = {k: str(v) for k, v in message.headers.items() if k != "push_keys"}
    push_keys = message.headers.get("push_keys") or {}
    from_address = ""
    if message.channel == Channel.EMAIL:
        from_address = merchant.email_from_address
    elif message.channel == Channel.SMS:
        from_address = merchant.sms_sender
    return OutgoingMessage(
        message_id=message.pk,
        merchant_id=message.merchant_id,
        merchant_slug=merchant.slug,
        channel=message.channel,
        to_address=message.to_address,
        subject=message.subject,
        body_text=message.body_text,
        body_html=message.body_html,
        from_name=merchant.email_from_name or merchant.name,
        from_address=from_address,
        reply_to=merchant.support_email,
        headers=tuple(sorted(headers.items())),
        link_url=message.link_url,
        push_keys=tuple(sorted(push_keys.items())),
    )


def backoff_delay(attempt: int, retry_after: float | None) -> timedelta:
    """Exponential backoff with jitter, never sooner than the provider's Retry-After."""
    base = min(30 * 2 ** max(attempt - 1, 0), 3600)
    jittered = base * (0.5 + random.random())  # noqa: S311 - jitter, not crypto
    return timedelta(seconds=max(jittered, retry_after or 0.0))


def messages_send(*, message_ids: Sequence[int]) -> SendSummary:
    """Send the queued messages among `message_ids`; others (sent, held, claimed) are skipped."""
    batch = prepare(claim(message_ids))
    if batch is None:
        return SendSummary()
    return record(batch, deliver(batch))


@dataclass
class SendBatch:
    """A claimed batch checked again for consent: what `deliver` hands over, what `record`
    writes. Built and recorded on the caller's thread (the database); `deliver` touches none."""

    claimed: list[Message]
    blocked: dict[int, str]  # message id -> why it may no longer be sent
    groups: dict[str, list[Message]]  # channel -> its messages still to send
    outgoing: dict[str, list[OutgoingMessage]]
    now: datetime


Deliveries = dict[str, list[SendResult | Exception]]  # channel -> one result per message


def prepare(claimed: list[Message]) -> SendBatch | None:
    """Re-check a claimed batch's consent and build what goes to the providers (None if empty)."""
    if not claimed:
        return None
    blocked = _still_allowed(claimed)
    groups: dict[str, list[Message]] = defaultdict(list)
    for message in claimed:
        if message.pk not in blocked:
            groups[message.channel].append(message)
    return SendBatch(
        claimed=claimed,
        blocked=blocked,
        groups=dict(groups),
        outgoing={name: [outgoing_for(m) for m in group] for name, group in groups.items()},
        now=timezone.now(),
    )


def deliver(batch: SendBatch) -> Deliveries:
    """Hand a prepared batch to its channels' providers. No database access: it may run in a
    thread while the caller's thread claims or records another batch."""
    return {name: send_many(channel_for(name), out) for name, out in batch.outgoing.items()}


def record(batch: SendBatch, results: Deliveries) -> SendSummary:
    """Write a delivered batch's outcomes, ledger events and retries in one transaction."""
    now = batch.now
    updates: list[Message] = []
    events: list[MessageEvent] = []
    retries: list[DueSend] = []
    for message in batch.claimed:
        if message.pk in batch.blocked:
            reason = batch.blocked[message.pk]
            _set(message, MessageStatus.SUPPRESSED, reason, updates)
            events.append(_event(message, MessageEventType.SUPPRESSED, reason, now))
    counts = {"sent": 0, "retrying": 0, "failed": 0}
    sent_details: dict[int, str] = {}  # message id -> its `sent` event's detail
    for channel_name, group in batch.groups.items():
        for message, result in zip(group, results[channel_name], strict=True):
            outcome = _apply(message, result, now, updates, events, retries, sent_details)
            counts[outcome] += 1
    with transaction.atomic():
        _save_outcomes(updates, sent_details, now)
        MessageEvent.objects.bulk_create(events)
        DueSend.objects.bulk_create(retries)
    return SendSummary(
        claimed=len(batch.claimed),
        sent=counts["sent"],
        suppressed=len(batch.blocked),
        retrying=counts["retrying"],
        failed=counts["failed"],
    )


def _save_outcomes(updates: list[Message], sent_details: dict[int, str], now: datetime) -> None:
    """Write the batch's outcomes and the sent messages' ledger events: one statement per
    provider for the sent, row by row otherwise."""
    sent: dict[str, list[Message]] = defaultdict(list)
    others: list[Message] = []
    for message in updates:
        (sent[message.provider] if message.status == MessageStatus.SENT else others).append(message)
    for provider, group in sent.items():
        if connection.vendor == "postgresql":
            _mark_sent_postgresql(provider, group, sent_details, now)
            continue
        Message.objects.filter(pk__in=[m.pk for m in group]).update(
            status=MessageStatus.SENT,
            status_reason="",
            provider=provider,
            sent_at=now,
            updated_at=now,
        )
        Message.objects.bulk_update(group, ["provider_message_id"])
        MessageEvent.objects.bulk_create(
            [_event(m, MessageEventType.SENT, sent_details[m.pk], now) for m in group]
        )
    if others:
        Message.objects.bulk_update(
            others,
            ["status", "status_reason", "provider", "provider_message_id", "sent_at", "updated_at"],
        )


def _mark_sent_postgresql(
    provider: str, group: list[Message], details: dict[int, str], now: datetime
) -> None:
    """One `UPDATE ... FROM (VALUES ...)` for a batch's sent messages and their provider ids,
    which inserts their `sent` ledger events from its RETURNING in the same statement
    (`bulk_update` builds a CASE expression per row in Python: ~0.8 ms a message; building and
    bulk-inserting a `MessageEvent` per message cost more than the statement itself)."""
    table = connection.ops.quote_name(Message._meta.db_table)
    event_table = connection.ops.quote_name(MessageEvent._meta.db_table)
    rows = ", ".join(["(%s::bigint, %s::varchar, %s::varchar)"] * len(group))
    params: list[Any] = []
    for message in group:
        params += [message.pk, message.provider_message_id, details[message.pk]]
    params += [MessageStatus.SENT.value, provider, now, now, MessageEventType.SENT.value, now]
    with connection.cursor() as cursor:
        cursor.execute(
            f"WITH v(id, pmid, detail) AS (VALUES {rows}), "  # noqa: S608 - table names from the models, values bound
            f"marked AS (UPDATE {table} AS m SET status = %s, status_reason = '', provider = %s, "
            f"provider_message_id = v.pmid, sent_at = %s, updated_at = %s "
            f"FROM v WHERE m.id = v.id RETURNING m.id, m.merchant_id, v.detail) "
            f"INSERT INTO {event_table} "
            f"(merchant_id, message_id, type, detail, provider_event_id, occurred_at) "
            f"SELECT merchant_id, id, %s, detail, '', %s FROM marked",
            params,
        )


def _set(message: Message, status: str, reason: str, updates: list[Message]) -> None:
    message.status = status
    message.status_reason = reason[:300]
    message.updated_at = timezone.now()
    updates.append(message)


def _event(message: Message, kind: str, detail: str, at: datetime) -> MessageEvent:
    return MessageEvent(
        merchant_id=message.merchant_id,
        message=message,
        type=kind,
        detail=detail[:500],
        occurred_at=at,
    )


def _apply(
    message: Message,
    result: SendResult | Exception,
    now: datetime,
    updates: list[Message],
    events: list[MessageEvent],
    retries: list[DueSend],
    sent_details: dict[int, str],
) -> str:
    if isinstance(result, SendResult):
        message.provider = result.provider
        message.provider_message_id = result.provider_message_id[:200]
        message.sent_at = now
        _set(message, MessageStatus.SENT, "", updates)
        sent_details[message.pk] = result.provider_message_id[:500]
        return "sent"
    if (
        isinstance(result, TransientIntegrationError)
        and message.attempts < settings.NOTIFICATIONS_MAX_ATTEMPTS
    ):
        due = now + backoff_delay(message.attempts, result.retry_after)
        reason = f"provider busy ({result}); retry {message.attempts + 1} at {due:%H:%M:%S} UTC"
        _set(message, MessageStatus.HELD, reason, updates)
        events.append(_event(message, MessageEventType.RETRY, reason, now))
        retries.append(DueSend(merchant_id=message.merchant_id, message=message, due_at=due))
        return "retrying"
    reason = f"{type(result).__name__}: {result}"
    if isinstance(result, TransientIntegrationError):
        reason = f"gave up after {message.attempts} attempts: {result}"
    elif isinstance(result, RecipientOptedOut):
        contact_opt_out(
            merchant=message.merchant,
            channel=message.channel,
            address=message.to_address,
            source=ConsentSource.PROVIDER_OPT_OUT,
            detail=str(result),
        )
    elif isinstance(result, SubscriptionGone):
        PushSubscription.objects.for_merchant(message.merchant_id).filter(
            endpoint=message.to_address
        ).delete()
    elif not isinstance(result, Exception):  # pragma: no cover - send_many returns one or other
        raise TypeError(result)
    _set(message, MessageStatus.FAILED, reason, updates)
    events.append(_event(message, MessageEventType.FAILED, reason, now))
    return "failed"


# --- Held messages and the stuck sweep --------------------------------------------------------


def due_sends_release(*, limit: int | None = None) -> list[int]:
    """Release held messages whose time has come (quiet hours over, retry due) and send them."""
    now = timezone.now()
    with transaction.atomic():
        rows = list(
            DueSend.objects.select_for_update(skip_locked=True)
            .filter(due_at__lte=now)
            .order_by("due_at")
            .values_list("pk", "message_id", "merchant_id")[
                : limit or settings.NOTIFICATIONS_RELEASE_BATCH
            ]
        )
        if not rows:
            return []
        DueSend.objects.filter(pk__in=[r[0] for r in rows]).delete()
        message_ids = [r[1] for r in rows]
        Message.objects.filter(pk__in=message_ids, status=MessageStatus.HELD).update(
            status=MessageStatus.QUEUED, status_reason="", updated_at=now
        )
        MessageEvent.objects.bulk_create(
            [
                MessageEvent(
                    merchant_id=merchant_id,
                    message_id=message_id,
                    type=MessageEventType.RELEASED,
                    occurred_at=now,
                )
                for _, message_id, merchant_id in rows
            ]
        )
        transaction.on_commit(lambda: dispatch_send(message_ids), robust=True)
    return message_ids


def messages_sweep_stuck() -> tuple[int, int]:
    """Re-dispatch queued messages nobody picked up; fail the ones a dead worker left mid-send.

    A message left in `sending` may have reached the provider, so it is not sent again (a
    duplicate is worse than a gap); it is marked failed with the reason for ops to see.
    """
    now = timezone.now()
    queued = list(
        Message.objects.filter(
            status=MessageStatus.QUEUED, updated_at__lt=now - REDISPATCH_QUEUED_AFTER, is_test=False
        ).values_list("pk", flat=True)[: settings.NOTIFICATIONS_RELEASE_BATCH]
    )
    if queued:
        transaction.on_commit(lambda: dispatch_send(queued), robust=True)
    stuck = Message.objects.filter(
        status=MessageStatus.SENDING, updated_at__lt=now - STUCK_SENDING_AFTER
    )
    stuck_ids = list(stuck.values_list("pk", "merchant_id")[:1000])
    reason = "worker stopped while sending; not resent because the provider may have it"
    Message.objects.filter(pk__in=[i for i, _ in stuck_ids], status=MessageStatus.SENDING).update(
        status=MessageStatus.FAILED, status_reason=reason, updated_at=now
    )
    MessageEvent.objects.bulk_create(
        [
            MessageEvent(
                merchant_id=m,
                message_id=i,
                type=MessageEventType.FAILED,
                detail=reason,
                occurred_at=now,
            )
            for i, m in stuck_ids
        ]
    )
    return len(queued), len(stuck_ids)
