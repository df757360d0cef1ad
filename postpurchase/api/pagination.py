"""Cursor pagination: stable under inserts, opaque cursors, newest first."""

from typing import Any

from rest_framework import exceptions
from rest_framework.pagination import CursorPagination
from rest_framework.request import Request


class CreatedCursorPagination(CursorPagination):
    ordering = ("-created_at", "-id")
    page_size_query_param = "page_size"
    max_page_size = 200

    def decode_cursor(self, request: Request) -> Any:
        # DRF answers a mangled cursor with 404, which reads as "the list is gone"; it is a bad
        # parameter, so say so on the field.
        try:
            return super().decode_cursor(request)
        except exceptions.NotFound as exc:
            raise exceptions.ValidationError(
                {"cursor": ["Invalid cursor: use the `next` or `previous` link as given."]}
            ) from exc
