"""The ledger rows of an enqueue: each new message, its first ledger event and, when held, its
due send, written so that only the rows the database actually inserted are ledgered.

On PostgreSQL the whole batch is one statement: the rows travel as one JSON parameter
(`jsonb_to_recordset`), the messages go in with `ON CONFLICT DO NOTHING`, and the event and due
send of each message the insert returned are inserted from its `RETURNING` in the same statement.
Django's bulk insert passes every column as an array (`UNNEST`), which psycopg's client-side
binding quotes element by element in Python: replacing it took about a fifth off the producer's
CPU per message (benchmarks/README.md).
Elsewhere (SQLite) the same rows go in with Django's bulk insert and two `bulk_create` calls.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from django.db import connection
from django.db.models import Field, JSONField
from django.db.models.constants import OnConflict

from notifications.models import DueSend, Message, MessageEvent, MessageEventType, MessageStatus

# Rows per INSERT on the generic path: ~35 parameters a row stays inside 65,535 per statement.
INSERT_BATCH = 1000

LedgerRow = tuple[Message, datetime | None]  # a new message and, when held, when it is due

# The ledger event that records where a new message starts.
FIRST_EVENT = {
    MessageStatus.QUEUED: MessageEventType.QUEUED,
    MessageStatus.HELD: MessageEventType.HELD,
    MessageStatus.SUPPRESSED: MessageEventType.SUPPRESSED,
}


def messages_insert_ledgered(*, rows: Sequence[LedgerRow], now: datetime) -> list[Message]:
    """Insert (message, due_at) rows whose idempotency key is new; ledger only those.

    Returns the messages inserted (pk set), in the order given: a message that a concurrent
    enqueue inserted first (same merchant and idempotency key) is skipped by the database, so it
    is neither returned, nor ledgered, nor sent by this call.
    """
    if not rows:
        return []
    if connection.vendor == "postgresql":
        keys = _insert_postgresql(rows, now)
    else:
        keys = _insert_generic(rows, now)
    created = []
    for message, _ in rows:
        pk = keys.get(message.idempotency_key)
        if pk is None:
            continue
        message.pk = pk
        message._state.adding = False
        message._state.db = Message.objects.db
        created.append(message)
    return created


def _message_fields() -> list[Field[Any, Any]]:
    opts = Message._meta
    return [f for f in opts.concrete_fields if not f.generated and f is not opts.pk]


def _json_value(field: Field[Any, Any], value: Any) -> Any:
    """A column value as `jsonb_to_recordset` reads it back into the column's type."""
    if isinstance(field, JSONField) or value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return str(value)


def _insert_postgresql(rows: Sequence[LedgerRow], now: datetime) -> dict[str, int]:
    fields = _message_fields()
    records = []
    for message, due_at in rows:
        # pre_save gives each field its insert value (auto_now_add stamps the instance too).
        record = {f.attname: _json_value(f, f.pre_save(message, True)) for f in fields}
        record["ledger_event"] = FIRST_EVENT[MessageStatus(message.status)].value
        record["ledger_due_at"] = due_at.isoformat() if due_at is not None else None
        records.append(record)
    quote = connection.ops.quote_name
    columns = ", ".join(quote(f.attname) for f in fields)  # concrete fields: column == attname
    types = ", ".join(f"{quote(f.attname)} {f.db_type(connection)}" for f in fields)
    message_table = quote(Message._meta.db_table)
    event_table = quote(MessageEvent._meta.db_table)
    due_table = quote(DueSend._meta.db_table)
    sql = (
        f"WITH input AS (SELECT * FROM jsonb_to_recordset(%s::jsonb) AS r({types}, "  # noqa: S608 - names from the models, values bound
        "ledger_event varchar(14), ledger_due_at timestamptz)), "
        f"new AS (INSERT INTO {message_table} ({columns}) SELECT {columns} FROM input "
        "ON CONFLICT DO NOTHING RETURNING id, merchant_id, idempotency_key, status_reason), "
        f"events AS (INSERT INTO {event_table} "
        "(merchant_id, message_id, type, detail, provider_event_id, occurred_at) "
        "SELECT new.merchant_id, new.id, input.ledger_event, new.status_reason, '', %s "
        "FROM new JOIN input USING (idempotency_key)), "
        f"due AS (INSERT INTO {due_table} (merchant_id, message_id, due_at, created_at) "
        "SELECT new.merchant_id, new.id, input.ledger_due_at, %s "
        "FROM new JOIN input USING (idempotency_key) "
        "WHERE input.ledger_event = %s AND input.ledger_due_at IS NOT NULL) "
        "SELECT idempotency_key, id FROM new"
    )
    payload = json.dumps(records, ensure_ascii=False, separators=(",", ":"))
    with connection.cursor() as cursor:
        cursor.execute(sql, [payload, now, now, MessageEventType.HELD.value])
        return dict(cursor.fetchall())


def _insert_generic(rows: Sequence[LedgerRow], now: datetime) -> dict[str, int]:
    fields = _message_fields()
    returning = [Message._meta.pk, Message._meta.get_field("idempotency_key")]
    messages = [message for message, _ in rows]
    keys: dict[str, int] = {}
    for start in range(0, len(messages), INSERT_BATCH):
        inserted = Message.objects._insert(  # type: ignore[attr-defined]  # bulk_create cannot return ids with ignore_conflicts
            messages[start : start + INSERT_BATCH],
            fields=fields,
            returning_fields=returning,
            on_conflict=OnConflict.IGNORE,
        )
        keys.update({key: pk for pk, key in inserted})
    created = [(m, due_at) for m, due_at in rows if m.idempotency_key in keys]
    MessageEvent.objects.bulk_create(
        [
            MessageEvent(
                merchant_id=m.merchant_id,
                message_id=keys[m.idempotency_key],
                type=FIRST_EVENT[MessageStatus(m.status)],
                detail=m.status_reason,
                occurred_at=now,
            )
            for m, _ in created
        ]
    )
    DueSend.objects.bulk_create(
        [
            DueSend(merchant_id=m.merchant_id, message_id=keys[m.idempotency_key], due_at=due_at)
            for m, due_at in created
            if m.status == MessageStatus.HELD and due_at is not None
        ]
    )
    return keys
