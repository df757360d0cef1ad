"""The edge's group commit: deliveries that queue behind a flush share one INSERT, each answered
only after that INSERT committed; a failed statement fails every delivery in it."""

from __future__ import annotations

import threading
import time

import psycopg
import pytest
from django.db import DatabaseError, connection

from tracking import edge_commit
from tracking.ingest import inbound_webhook_receive
from tracking.models import InboundWebhook

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def _dsn() -> str:
    s = connection.settings_dict
    return (
        f"host={s['HOST'] or 'localhost'} port={s['PORT'] or 5432} dbname={s['NAME']}"
        f" user={s['USER']} password={s['PASSWORD'] or ''}"
    )


class _Delivery(threading.Thread):
    """One delivery on its own thread (and so its own database connection)."""

    def __init__(self, merchant_id: int, key: str) -> None:
        super().__init__()
        self.merchant_id, self.key = merchant_id, key
        self.result: tuple[int, bool] | None = None
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            self.result = inbound_webhook_receive(
                merchant_id=self.merchant_id,
                source="generic",
                topic="tracking.update",
                unique_key=self.key,
                headers={"Content-Type": "application/json"},
                body=b'{"event_id": "' + self.key.encode() + b'"}',
            )
        except BaseException as exc:
            self.error = exc
        finally:
            connection.close()


def _wait_for(predicate, what: str) -> None:
    deadline = time.monotonic() + 10
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.01)


@pytest.fixture
def batches(monkeypatch):
    """The size of every statement the edge sends."""
    sizes: list[int] = []
    flush = edge_commit._flush

    def spy(batch):
        sizes.append(len(batch))
        flush(batch)

    monkeypatch.setattr(edge_commit, "_flush", spy)
    return sizes


def _hold_key(merchant_id: int, key: str) -> psycopg.Connection:
    """An open transaction that inserted `key`: a delivery of the same key blocks on it, and
    the deliveries after it queue behind that flush."""
    holder = psycopg.connect(_dsn())
    holder.execute(
        "INSERT INTO tracking_inboundwebhook (merchant_id, source, topic, unique_key, headers,"
        " body, state, error, attempts, deliveries, events_new, received_at)"
        " VALUES (%s, 'generic', 't', %s, '{}', '', 'received', '', 0, 1, 0, now())",
        [merchant_id, key],
    )
    return holder


def test_deliveries_queued_behind_a_flush_share_one_insert_and_all_are_stored(merchant_a, batches):
    holder = _hold_key(merchant_a.pk, "evt-held")
    first = _Delivery(merchant_a.pk, "evt-held")
    first.start()
    _wait_for(lambda: batches == [1], "the first delivery's statement")
    queued = [_Delivery(merchant_a.pk, f"evt-{i}") for i in range(5)]
    for delivery in queued:
        delivery.start()
    _wait_for(lambda: len(edge_commit._queue) == 5, "five queued deliveries")
    assert all(d.result is None for d in queued)  # nobody is answered before the commit
    holder.commit()
    holder.close()
    for delivery in [first, *queued]:
        delivery.join(timeout=10)
    assert batches == [1, 5]
    # The held key was committed by the other transaction: a repeat, counted, no second row.
    assert first.error is None
    assert first.result is not None
    assert first.result[1] is False
    held = InboundWebhook.objects.get(unique_key="evt-held")
    assert (held.pk, held.deliveries) == (first.result[0], 2)
    ids = {d.key: d.result for d in queued}
    stored = dict(
        InboundWebhook.objects.filter(unique_key__startswith="evt-")
        .exclude(unique_key="evt-held")
        .values_list("unique_key", "pk")
    )
    assert ids == {key: (pk, True) for key, pk in stored.items()}
    assert len(stored) == 5


def test_the_same_key_twice_in_one_batch_is_one_row_and_one_repeat(merchant_a, batches):
    holder = _hold_key(merchant_a.pk, "evt-held")
    first = _Delivery(merchant_a.pk, "evt-held")
    first.start()
    _wait_for(lambda: batches == [1], "the first delivery's statement")
    twins = [_Delivery(merchant_a.pk, "evt-twin") for _ in range(2)]
    for delivery in twins:
        delivery.start()
    _wait_for(lambda: len(edge_commit._queue) == 2, "two queued deliveries")
    holder.commit()
    holder.close()
    for delivery in [first, *twins]:
        delivery.join(timeout=10)
    assert batches == [1, 2]
    row = InboundWebhook.objects.get(unique_key="evt-twin")
    assert sorted(d.result for d in twins) == [(row.pk, False), (row.pk, True)]
    assert row.deliveries == 2


def test_a_failed_statement_fails_every_delivery_in_it_and_stores_none(merchant_a, batches):
    holder = _hold_key(merchant_a.pk, "evt-held")
    first = _Delivery(merchant_a.pk, "evt-held")
    first.start()
    _wait_for(lambda: batches == [1], "the first delivery's statement")
    good = _Delivery(merchant_a.pk, "evt-good")
    bad = _Delivery(merchant_a.pk + 10_000, "evt-orphan")  # no such merchant: the FK fails
    good.start()
    _wait_for(lambda: len(edge_commit._queue) == 1, "the first queued delivery")
    bad.start()
    _wait_for(lambda: len(edge_commit._queue) == 2, "the second queued delivery")
    holder.commit()
    holder.close()
    for delivery in (first, good, bad):
        delivery.join(timeout=10)
    assert batches == [1, 2]
    assert isinstance(good.error, DatabaseError)
    assert isinstance(bad.error, DatabaseError)
    assert good.result is None
    assert bad.result is None
    assert not InboundWebhook.objects.filter(unique_key__in=["evt-good", "evt-orphan"]).exists()
    # The edge is not wedged: the next delivery is stored.
    after = _Delivery(merchant_a.pk, "evt-after")
    after.start()
    after.join(timeout=10)
    assert after.error is None
    assert after.result is not None
    assert after.result[1] is True


def _deliver(merchant_id: int, key: str) -> _Delivery:
    delivery = _Delivery(merchant_id, key)
    delivery.start()
    delivery.join(timeout=10)
    return delivery


def _edge_backend_pid() -> int:
    wrapper = edge_commit._edge.wrapper
    assert wrapper is not None
    return int(wrapper.connection.info.backend_pid)


def _terminate(pid: int) -> None:
    with psycopg.connect(_dsn(), autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", [pid])
        _wait_for(
            lambda: (
                not admin.execute("SELECT 1 FROM pg_stat_activity WHERE pid = %s", [pid]).fetchone()
            ),
            "the edge backend to end",
        )


def test_deliveries_from_different_threads_share_the_process_connection(merchant_a):
    first = _deliver(merchant_a.pk, "evt-1")
    pid = _edge_backend_pid()
    second = _deliver(merchant_a.pk, "evt-2")
    assert first.error is None
    assert second.error is None
    assert _edge_backend_pid() == pid
    assert InboundWebhook.objects.filter(unique_key__in=["evt-1", "evt-2"]).count() == 2


def test_a_connection_broken_under_load_fails_its_batch_and_the_next_reconnects(
    merchant_a, monkeypatch
):
    monkeypatch.setattr(edge_commit, "IDLE_CHECK_SECONDS", 3600.0)  # never idle long enough
    assert _deliver(merchant_a.pk, "evt-before").error is None
    pid = _edge_backend_pid()
    _terminate(pid)
    broken = _deliver(merchant_a.pk, "evt-lost")
    assert isinstance(broken.error, DatabaseError)  # answered 5xx: the sender retries
    assert broken.result is None
    retried = _deliver(merchant_a.pk, "evt-lost")
    assert retried.error is None
    assert retried.result is not None
    assert retried.result[1] is True
    assert _edge_backend_pid() != pid
    assert InboundWebhook.objects.filter(unique_key="evt-lost").count() == 1


def test_an_idle_connection_is_checked_and_replaced_before_use(merchant_a, monkeypatch):
    monkeypatch.setattr(edge_commit, "IDLE_CHECK_SECONDS", 0.0)  # always idle: checked each time
    assert _deliver(merchant_a.pk, "evt-before").error is None
    pid = _edge_backend_pid()
    _terminate(pid)
    after = _deliver(merchant_a.pk, "evt-after")
    assert after.error is None
    assert after.result is not None
    assert after.result[1] is True
    assert _edge_backend_pid() != pid
