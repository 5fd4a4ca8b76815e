"""Fixtures of the administration's tests: an administrator, and CSRF-protected posts."""

from __future__ import annotations

import pytest
from flask_wtf.csrf import generate_csrf
from sqlalchemy import func, select

from consult.audit.models import AuditEntry
from consult.extensions import db
from tests.conftest import add_test_route


@pytest.fixture(autouse=True)
def csrf_source(app):
    """A route that hands out the session's CSRF token, for any visitor."""
    add_test_route(app, "/_test/csrf-token", "test_csrf_token", generate_csrf)


@pytest.fixture
def post(client):
    """POST a form as the browser would: with the session's CSRF token."""

    def _post(url, data=None, **kwargs):
        token = client.get("/_test/csrf-token").get_data(as_text=True)
        return client.post(url, data={**(data or {}), "csrf_token": token}, **kwargs)

    return _post


@pytest.fixture
def admin(factories):
    return factories.make_user(role="admin", email="admin@example.org", name="管理员")


@pytest.fixture
def as_admin(login_as, admin):
    """The test client, signed in as the administrator."""
    return login_as(admin)


def audit_count(action: str | None = None) -> int:
    query = select(func.count(AuditEntry.id))
    if action:
        query = query.where(AuditEntry.action == action)
    return db.session.scalar(query)


def text_of(response) -> str:
    return response.get_data(as_text=True)
