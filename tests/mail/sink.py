"""A real SMTP server (aiosmtpd) on a free loopback port, that can refuse recipients.

aiosmtpd 1.4 cannot check a server on port 0 for readiness, so a free port is picked first.
"""

from __future__ import annotations

import asyncio
import socket
import threading
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage

from aiosmtpd.controller import Controller


@dataclass
class SmtpSink:
    host: str
    port: int
    messages: list[EmailMessage] = field(default_factory=list)
    envelopes: list[tuple[str, list[str]]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def received(self) -> list[EmailMessage]:
        with self.lock:
            return list(self.messages)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def running_sink(
    refuse: dict[str, str] | None = None,
    port: int | None = None,
    delay: float = 0.0,
    drop_after_data: int = 0,
):
    """Yield an SmtpSink served on 127.0.0.1; ``refuse`` maps recipient addresses to the
    SMTP reply their RCPT gets (e.g. "451 4.3.0 try later"); ``delay`` slows each DATA;
    the first ``drop_after_data`` messages are received whole, then the connection is
    cut before the server answers (the sender cannot know they arrived)."""
    refuse = refuse or {}
    drops = [drop_after_data]
    sink = SmtpSink("127.0.0.1", port or free_port())

    class Handler:
        async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: N802
            if address in refuse:
                return refuse[address]
            envelope.rcpt_tos.append(address)
            return "250 OK"

        async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd API)
            if delay:
                await asyncio.sleep(delay)
            msg = message_from_bytes(envelope.original_content, policy=policy.default)
            with sink.lock:
                sink.messages.append(msg)
                sink.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
                drop = drops[0] > 0
                drops[0] -= drop
            if drop:
                server.transport.abort()
            return "250 OK"

    controller = Controller(Handler(), hostname="127.0.0.1", port=sink.port)
    controller.start()
    try:
        yield sink
    finally:
        controller.stop()
