"""Honour `Idempotency-Key` on every POST of a view (see postpurchase/idempotency.py)."""

from __future__ import annotations

import json
from typing import Any

from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response

from postpurchase.api.permissions import request_merchant
from postpurchase.idempotency import (
    StoredResponse,
    idempotency_claim,
    idempotency_complete,
    idempotency_release,
    request_fingerprint,
)
from postpurchase.models import IdempotencyRecord

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"


class _Replay(Exception):
    def __init__(self, stored: StoredResponse) -> None:
        super().__init__("replay")
        self.stored = stored


class IdempotentPostMixin:
    """Claim the key after authentication and throttling, store the answer, replay retries."""

    _idempotency_record: IdempotencyRecord | None = None

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)  # type: ignore[misc]
        self._idempotency_record = None
        key = request.headers.get(HEADER)
        if request.method != "POST" or key is None:
            return
        record, stored = idempotency_claim(
            merchant=request_merchant(request),
            key=key,
            method=request.method,
            path=request.path,
            fingerprint=request_fingerprint(
                method=request.method, path=request.path, body=request.data
            ),
        )
        if stored is not None:
            raise _Replay(stored)
        self._idempotency_record = record

    def handle_exception(self, exc: Exception) -> Response:
        if isinstance(exc, _Replay):
            response = Response(exc.stored.body, status=exc.stored.status_code)
            response[REPLAYED_HEADER] = "true"
            return response
        try:
            return super().handle_exception(exc)  # type: ignore[misc]
        except BaseException:
            # An unexpected crash: free the key so the client's retry runs for real.
            if self._idempotency_record is not None:
                idempotency_release(record=self._idempotency_record)
                self._idempotency_record = None
            raise

    def finalize_response(self, request: Request, response: Any, *args: Any, **kwargs: Any) -> Any:
        response = super().finalize_response(request, response, *args, **kwargs)  # type: ignore[misc]
        record, self._idempotency_record = self._idempotency_record, None
        if record is not None and isinstance(response, Response):
            body = json.loads(JSONRenderer().render(response.data) or b"null")
            idempotency_complete(record=record, status_code=response.status_code, body=body)
        return response
