"""SMTP sessions kept open between send batches in one process.

Opening a session to a relay costs both sides more than a message does: TCP, the greeting, EHLO,
and QUIT at the end. The email channel used to open up to NOTIFICATIONS_EMAIL_CONNECTIONS sessions
for every send task and close them after it; now a session that ended its batch cleanly is kept,
idle, for the next batch in the same process (up to that many sessions, for at most
`IDLE_REUSE_SECONDS`). Before one is reused it must answer NOOP, so a session the server closed
while idle is never handed a message: it is closed and a new one opened.

Only Django's SMTP backend (and subclasses) is kept; other backends (anymail's ESPs, the file
and memory backends) are opened and closed per batch as before. A session whose batch ended in
anything but a clean server reply (a timeout, a dropped link, 421) is closed, not kept. A forked
child (Celery's prefork pool) never uses its parent's sessions: it lets go of them without
closing them (the parent still owns the sockets).
"""

from __future__ import annotations

import contextlib
import os
import smtplib
import threading
import time
from typing import Any

from django.conf import settings
from django.core.mail import get_connection
from django.core.mail.backends.smtp import EmailBackend as SmtpBackend

IDLE_REUSE_SECONDS = 30.0  # well under relays' idle timeouts (Postfix: 300 s)


class SessionPool:
    """Idle mail backend connections of this process, most recently used first."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._idle: list[tuple[float, Any]] = []
        self._pid = os.getpid()

    def checkout(self) -> Any:
        """An open backend: an idle SMTP session that still answers, else a new connection."""
        while (idle := self._pop()) is not None:
            since, backend = idle
            if time.monotonic() - since < IDLE_REUSE_SECONDS and _answers(backend):
                return backend
            close_quietly(backend)
        backend = get_connection(fail_silently=False)
        backend.open()
        return backend

    def checkin(self, backend: Any, *, clean: bool) -> None:
        """Keep an SMTP session whose batch ended cleanly for the next batch; close the rest."""
        smtp = getattr(backend, "connection", None)
        if clean and isinstance(backend, SmtpBackend) and getattr(smtp, "sock", None) is not None:
            with self._lock:
                self._forget_if_forked()
                if len(self._idle) < settings.NOTIFICATIONS_EMAIL_CONNECTIONS:
                    self._idle.append((time.monotonic(), backend))
                    return
        close_quietly(backend)

    def close(self) -> None:
        """Close every idle session (the channel is being replaced: settings changed)."""
        with self._lock:
            self._forget_if_forked()
            idle, self._idle = self._idle, []
        for _, backend in idle:
            close_quietly(backend)

    def __len__(self) -> int:
        with self._lock:
            self._forget_if_forked()
            return len(self._idle)

    def _pop(self) -> tuple[float, Any] | None:
        with self._lock:
            self._forget_if_forked()
            return self._idle.pop() if self._idle else None

    def _forget_if_forked(self) -> None:
        if self._pid == os.getpid():
            return
        for _, backend in self._idle:  # the parent's sockets: drop ours without a QUIT or FIN
            smtp = getattr(backend, "connection", None)
            if isinstance(smtp, smtplib.SMTP) and smtp.sock is not None:
                smtp.sock.detach()
                smtp.sock = smtp.file = None
            backend.connection = None
        self._idle = []
        self._pid = os.getpid()


def _answers(backend: Any) -> bool:
    try:
        code, _ = backend.connection.noop()
    except (smtplib.SMTPException, OSError):
        return False
    return bool(code == 250)


def close_quietly(backend: Any) -> None:
    """Close a backend connection; one the server already dropped may fail: nothing is lost,
    and the socket is closed whatever QUIT did."""
    smtp = getattr(backend, "connection", None)
    with contextlib.suppress(Exception):
        backend.close()
    if isinstance(smtp, smtplib.SMTP):
        with contextlib.suppress(Exception):
            smtp.close()
