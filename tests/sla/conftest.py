"""A real SMTP server for the SLA tests: aiosmtpd on 127.0.0.1, collecting what it receives."""

from __future__ import annotations

import email
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from email import policy
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from django.test import override_settings


@dataclass(frozen=True)
class Mail:
    to: tuple[str, ...]
    subject: str
    message_id: str
    body: str


class Inbox:
    """What the server received, in order; thread-safe (the server runs in its own thread)."""

    def __init__(self) -> None:
        self.mails: list[Mail] = []
        self._lock = threading.Lock()
        self.host = "127.0.0.1"
        self.port = 0

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        parsed = email.message_from_bytes(envelope.content, policy=policy.default)
        mail = Mail(
            to=tuple(envelope.rcpt_tos),
            subject=str(parsed["Subject"]),
            message_id=str(parsed["Message-ID"]),
            body=parsed.get_content(),
        )
        with self._lock:
            self.mails.append(mail)
        return "250 Message accepted for delivery"

    def count(self) -> int:
        with self._lock:
            return len(self.mails)

    def wait_for(self, count: int, *, timeout: float = 60) -> int:
        deadline = time.monotonic() + timeout
        while self.count() < count and time.monotonic() < deadline:
            time.sleep(0.01)
        return self.count()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def smtp() -> Iterator[Inbox]:
    """A running SMTP server, with Django's SMTP backend pointed at it."""
    inbox = Inbox()
    inbox.port = free_port()
    controller = Controller(inbox, hostname=inbox.host, port=inbox.port)
    controller.start()
    try:
        with override_settings(
            EMAIL_BACKEND="django.core.mail.backends.smtp.EmailBackend",
            EMAIL_HOST=inbox.host,
            EMAIL_PORT=inbox.port,
            EMAIL_USE_TLS=False,
            EMAIL_HOST_USER="",
            EMAIL_HOST_PASSWORD="",
        ):
            yield inbox
    finally:
        controller.stop()
