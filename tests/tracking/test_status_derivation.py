"""The status fold in PostgreSQL gives exactly what `derive_state` gives in Python.

`tracking.normalisation.derived_states` folds a shipment's events in one query on PostgreSQL
(every path that records scans, the bulk import's final pass included). `derive_state` is the
reference: the status model's rules written as a loop. These tests store event histories and
compare the two field by field, on hand-picked histories (out of order, delivered then later
scans, returns, exceptions, customs, same-time scans) and on random ones (Hypothesis).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.factories import ShipmentFactory
from tracking.domain import ExceptionReason, Lifecycle, ShipmentStatus
from tracking.models import EventSource, TrackingEvent
from tracking.normalisation import EventFacts, derive_state, derived_states

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]

S = ShipmentStatus
R = ExceptionReason
T0 = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)

# (minutes after T0, status, reason, action required)
Scan = tuple[int, ShipmentStatus, ExceptionReason, bool]


def _store(shipment, history: list[tuple[datetime, str, str, bool]]) -> None:
    """Store the history in the order given (ids follow that order, not carrier time)."""
    TrackingEvent.objects.bulk_create(
        TrackingEvent(
            merchant_id=shipment.merchant_id,
            shipment=shipment,
            dedupe_key=f"k{i}",
            carrier=shipment.carrier,
            tracking_number=shipment.tracking_number,
            occurred_at=at,
            status=status,
            reason=reason,
            action_required=action,
            source=EventSource.IMPORT,
            received_at=T0,
        )
        for i, (at, status, reason, action) in enumerate(history)
    )


def _python_fold(shipment_id: int):
    """`derive_state` over the stored rows, with their ids (the same-time tie-break's last key)."""
    return derive_state(
        EventFacts(at, status, reason, action, pk)
        for at, status, reason, action, pk in TrackingEvent.objects.filter(
            shipment_id=shipment_id
        ).values_list("occurred_at", "status", "reason", "action_required", "id")
    )


TABLE: dict[str, list[Scan]] = {
    "in order": [(0, S.INFO_RECEIVED, R.NONE, False), (60, S.IN_TRANSIT, R.NONE, False)],
    "out of order": [
        (600, S.DELIVERED, R.NONE, False),
        (0, S.INFO_RECEIVED, R.NONE, False),
        (300, S.OUT_FOR_DELIVERY, R.NONE, False),
    ],
    "delivered then later transit scans": [
        (0, S.IN_TRANSIT, R.NONE, False),
        (60, S.DELIVERED, R.NONE, False),
        (120, S.IN_TRANSIT, R.NONE, False),
        (180, S.ATTEMPT_FAILED, R.CONSIGNEE_NOT_HOME, True),
    ],
    "delivered twice keeps the first time": [
        (60, S.DELIVERED, R.NONE, False),
        (120, S.DELIVERED, R.NONE, False),
    ],
    "delivered, returning, moving, delivered again": [
        (0, S.DELIVERED, R.NONE, False),
        (60, S.RETURNING_TO_SENDER, R.NONE, False),
        (120, S.IN_TRANSIT, R.NONE, False),
        (180, S.DELIVERED, R.NONE, False),
        (240, S.IN_TRANSIT, R.NONE, False),
    ],
    "returned is final": [
        (0, S.DELIVERED, R.NONE, False),
        (60, S.RETURNED_TO_SENDER, R.NONE, False),
        (120, S.IN_TRANSIT, R.NONE, False),
        (180, S.RETURNING_TO_SENDER, R.NONE, False),
        (240, S.RETURNED_TO_SENDER, R.OTHER, False),
        (300, S.DELIVERED, R.NONE, False),
    ],
    "returning then moving": [
        (0, S.RETURNING_TO_SENDER, R.NONE, False),
        (60, S.IN_TRANSIT, R.NONE, False),
    ],
    "only unmapped scans: the first": [
        (60, S.PENDING, R.NONE, False),
        (0, S.PENDING, R.OTHER, True),
    ],
    "unmapped scan never hides what we know": [
        (0, S.PENDING, R.NONE, False),
        (60, S.IN_TRANSIT, R.NONE, False),
        (120, S.PENDING, R.NONE, False),
    ],
    "same minute: the further milestone, then the later row": [
        (60, S.RETURNED_TO_SENDER, R.NONE, False),
        (60, S.DELIVERED, R.NONE, False),
        (60, S.IN_TRANSIT, R.WEATHER, False),
        (60, S.IN_TRANSIT, R.CUSTOMS_DELAY, True),
    ],
    "same time, same status: the later row": [
        (60, S.EXCEPTION, R.CARRIER_LOST, False),
        (60, S.EXCEPTION, R.WEATHER, True),
    ],
    "lost parcel fails the lifecycle": [
        (0, S.OUT_FOR_DELIVERY, R.NONE, False),
        (60, S.EXCEPTION, R.CARRIER_LOST, False),
    ],
    "cancelled fails the lifecycle": [
        (0, S.INFO_RECEIVED, R.NONE, False),
        (9, S.CANCELLED, R.NONE, False),
    ],
    "damaged after delivery stays delivered": [
        (0, S.DELIVERED, R.NONE, False),
        (60, S.EXCEPTION, R.CARRIER_DAMAGED, True),
    ],
    "customs stage, then back in transit": [
        (0, S.IN_TRANSIT, R.NONE, False),
        (60, S.EXCEPTION, R.CUSTOMS_DUTIES_UNPAID, True),
        (120, S.IN_TRANSIT, R.NONE, False),
    ],
    "furthest stage wins the lifecycle": [
        (0, S.AVAILABLE_FOR_PICKUP, R.NONE, True),
        (60, S.IN_TRANSIT, R.NONE, False),
    ],
    "before 1970": [
        (-60_000_000, S.IN_TRANSIT, R.NONE, False),
        (-1, S.EXCEPTION, R.WEATHER, False),
    ],
}


def test_the_table_of_histories_folds_the_same_in_sql_and_in_python(merchant_a):
    shipments = {}
    for name, scans in TABLE.items():
        shipment = ShipmentFactory(order__merchant=merchant_a, carrier="ups")
        _store(
            shipment,
            [(T0 + timedelta(minutes=m), str(s), str(r), a) for m, s, r, a in scans],
        )
        shipments[name] = shipment.pk
    empty = ShipmentFactory(order__merchant=merchant_a, carrier="ups")
    states = derived_states([*shipments.values(), empty.pk])
    for name, pk in shipments.items():
        assert states[pk] == _python_fold(pk), name
    assert states[empty.pk] == derive_state(())

    # The rules themselves, on a few of them.
    def state(name: str):
        return states[shipments[name]]

    assert state("out of order").status == S.DELIVERED
    assert state("delivered then later transit scans").status == S.DELIVERED
    assert state("delivered twice keeps the first time").delivered_at == T0 + timedelta(hours=1)
    again = state("delivered, returning, moving, delivered again")
    assert (again.status, again.delivered_at) == (S.DELIVERED, T0)
    assert state("returned is final").reason == R.OTHER
    assert state("returning then moving").status == S.IN_TRANSIT
    assert state("only unmapped scans: the first").action_required is True
    assert state("unmapped scan never hides what we know").status == S.IN_TRANSIT
    assert state("same minute: the further milestone, then the later row").status == (
        S.RETURNED_TO_SENDER
    )
    assert state("same time, same status: the later row").reason == R.WEATHER
    assert state("lost parcel fails the lifecycle").lifecycle == Lifecycle.FAILED
    assert state("cancelled fails the lifecycle").lifecycle == Lifecycle.FAILED
    assert state("damaged after delivery stays delivered").lifecycle == Lifecycle.DELIVERED
    customs = state("customs stage, then back in transit")
    assert (customs.status, customs.lifecycle) == (S.IN_TRANSIT, Lifecycle.CUSTOMS)
    assert state("furthest stage wins the lifecycle").lifecycle == Lifecycle.READY_TO_COLLECT


_REASONS = [
    R.NONE,
    R.CARRIER_LOST,
    R.CARRIER_DAMAGED,
    R.CARRIER_OTHER,
    R.CONSIGNEE_NOT_HOME,
    R.CUSTOMS_DELAY,
    R.CUSTOMS_DOCUMENTS,
    R.WEATHER,
]
# A few instants per history, so that same-time scans (the tie-breaks) are common; the whole
# range a Python datetime can hold, to the microsecond.
_instants = st.lists(
    st.datetimes(
        min_value=datetime(1, 1, 2),
        max_value=datetime(9999, 12, 30),
        timezones=st.just(UTC),
    ),
    min_size=1,
    max_size=5,
)


@st.composite
def _histories(draw) -> list[tuple[datetime, str, str, bool]]:
    instants = draw(_instants)
    return draw(
        st.lists(
            st.tuples(
                st.sampled_from(instants),
                st.sampled_from([str(s) for s in ShipmentStatus]),
                st.sampled_from([str(r) for r in _REASONS]),
                st.booleans(),
            ),
            max_size=12,
        )
    )


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(histories=st.lists(_histories(), min_size=1, max_size=4))
def test_random_histories_fold_the_same_in_sql_and_in_python(merchant_a, histories):
    ids = []
    for history in histories:
        shipment = ShipmentFactory(order__merchant=merchant_a, carrier="ups")
        _store(shipment, history)
        ids.append(shipment.pk)
    states = derived_states(ids)
    assert set(states) == set(ids)
    for pk in ids:
        assert states[pk] == _python_fold(pk)
