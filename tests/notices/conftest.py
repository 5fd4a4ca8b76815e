"""Notice tests post to real HTTP servers on loopback ports (tests/notices/robots.py)."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from consult.extensions import db
from consult.mail.models import OutboxMessage
from tests.notices.robots import running_robots


@pytest.fixture
def robots():
    with running_robots() as server:
        yield server


@pytest.fixture
def make_channel(app):
    from consult.notices.operations import add_channel

    def _make(
        kind="wecom",
        url="http://127.0.0.1:9/x",
        community=None,
        secret=None,
        language=None,
        name=None,
        template=None,
    ):
        channel = add_channel(
            {
                "kind": kind,
                "url": url,
                "community": community,
                "secret": secret,
                "language": language,
                "name": name,
                "template": template,
            },
            None,
        )
        db.session.commit()
        return channel

    return _make


def notices() -> list[OutboxMessage]:
    db.session.expire_all()
    return list(
        db.session.scalars(
            select(OutboxMessage)
            .where(OutboxMessage.transport == "channel")
            .order_by(OutboxMessage.id)
        )
    )
