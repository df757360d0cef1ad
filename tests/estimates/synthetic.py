"""Tiny synthetic shipment histories for fast training tests (no real data needed)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from estimates.features import normalise_history

LANES = [("SP", "SP", 3.0), ("SP", "RJ", 6.0), ("SP", "BA", 11.0), ("MG", "RJ", 7.0)]


def synthetic_history(
    n: int = 360, *, start: str = "2024-01-01", days: int = 180, seed: int = 7
) -> pd.DataFrame:
    """Orders on four lanes with lane-dependent, noisy delivery times; all delivered."""
    rng = np.random.default_rng(seed)
    purchased = pd.Timestamp(start) + pd.to_timedelta(np.sort(rng.uniform(0, days, n)), unit="D")
    lane = rng.integers(0, len(LANES), n)
    base = np.array([LANES[i][2] for i in lane])
    handoff = rng.uniform(0.3, 2.5, n)
    transit = np.maximum(0.5, base + rng.gamma(2.0, 1.0, n) - 2.0)
    return normalise_history(
        pd.DataFrame(
            {
                "order_id": [f"o{i}" for i in range(n)],
                "purchased_at": purchased,
                "handed_over_at": purchased + pd.to_timedelta(handoff, unit="D"),
                "delivered_at": purchased + pd.to_timedelta(handoff + transit, unit="D"),
                "origin_country": "BR",
                "origin_region": [LANES[i][0] for i in lane],
                "origin_postcode": [f"0{i}100" for i in lane],
                "destination_country": "BR",
                "destination_region": [LANES[i][1] for i in lane],
                "destination_postcode": [f"{20 + 10 * i}000" for i in lane],
                "carrier_service": "post",
                "seller_id": [f"seller{i % 5}" for i in range(n)],
                "category": "toys",
                "weight_g": rng.uniform(100, 3000, n),
                "n_items": 1.0,
                "price": rng.uniform(10, 200, n),
                "freight_value": rng.uniform(5, 40, n),
            }
        )
    )
