"""Print a new VAPID key pair for web push, in the form the settings read."""

from __future__ import annotations

from typing import Any

from cryptography.hazmat.primitives import serialization
from django.core.management.base import BaseCommand
from py_vapid import Vapid01, b64urlencode


class Command(BaseCommand):
    help = "Generate a VAPID key pair for web push and print it as environment variables."

    def handle(self, *args: Any, **options: Any) -> None:
        vapid = Vapid01()
        vapid.generate_keys()
        public = vapid.public_key.public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
        private = vapid.private_key.private_numbers().private_value.to_bytes(32, "big")
        self.stdout.write(f"VAPID_PUBLIC_KEY={b64urlencode(public)}")
        self.stdout.write(f"VAPID_PRIVATE_KEY={b64urlencode(private)}")
        self.stderr.write(
            "Keep the private key secret; browsers subscribed with the old public key must "
            "subscribe again after a change."
        )
