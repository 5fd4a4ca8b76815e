"""Calendar tests read invitations from a real SMTP server."""

from __future__ import annotations

import pytest

from tests.mail.sink import running_sink


@pytest.fixture
def smtp_server():
    """A real aiosmtpd server on a free loopback port (see tests.mail.sink)."""
    with running_sink() as sink:
        yield sink
