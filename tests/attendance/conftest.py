"""Fixtures of the attendance tests."""

from __future__ import annotations

import pytest

from tests.mail.sink import running_sink


@pytest.fixture
def smtp_server():
    """A real aiosmtpd server on a free loopback port (the shared fixture asks for port 0,
    which aiosmtpd cannot check for readiness)."""
    with running_sink() as sink:
        yield sink
