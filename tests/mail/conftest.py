"""Mail tests deliver through the real `flask mail send` to the real SMTP server fixture."""

from __future__ import annotations

import pytest


@pytest.fixture
def mailbox(app, runner, smtp_server):
    """Point the app at the SMTP server; ``mailbox.send()`` runs `mail send` and returns
    the messages received so far."""

    class Mailbox:
        server = smtp_server

        def send(self):
            result = runner.invoke(args=["mail", "send"])
            assert result.exit_code == 0, (result.output, result.stderr)
            return smtp_server.received()

        def to(self, address: str):
            return [m for m in smtp_server.received() if address in str(m["To"])]

    app.config["SMTP_HOST"] = smtp_server.host
    app.config["SMTP_PORT"] = smtp_server.port
    return Mailbox()
